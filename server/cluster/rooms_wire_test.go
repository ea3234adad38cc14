package cluster

import (
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

func TestRoomFrameRoundTrip(t *testing.T) {
	room := jid.MustParse("lobby@conference.example.com")
	st := stanza.NewMessage(stanza.TypeGroupchat, room.String(), "hi")
	st.Set("from", "bob@example.com/phone")
	m := roomMsg("s", "node2", room, st, 2)
	f, err := parseFrame(m, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if f.op != opRoom || f.to != room || f.hops != 2 || f.node != "node2" || f.st.ChildText("", "body") != "hi" {
		t.Fatalf("decoded %+v", f)
	}
	for _, bad := range []struct{ to, hops string }{
		{"lobby@conference.example.com/nick", "0"}, {"conference.example.com", "0"},
		{room.String(), "-1"}, {room.String(), strconv.Itoa(maxRoomHops + 1)}, {room.String(), ""},
	} {
		m := &nats.Msg{Header: nats.Header{hdrOp: {opRoom}, hdrTo: {bad.to}, hdrFrom: {"n"}, hdrHops: {bad.hops}}, Data: m.Data}
		if _, err := parseFrame(m, 4096); err == nil {
			t.Errorf("room frame to %q, hops %q accepted", bad.to, bad.hops)
		}
	}
	if k := leaseKey(room); k[:2] != "l." {
		t.Fatalf("lease key %q", k)
	}
	for _, k := range []string{leaseKey(room), occKey(room)} {
		if got, err := roomOfKey(k); err != nil || got != room {
			t.Errorf("roomOfKey(%q) = %v, %v", k, got, err)
		}
	}
}

func FuzzParseRoomFrame(f *testing.F) {
	room := jid.MustParse("lobby@conference.example.com")
	f.Add(room.String(), "0", roomMsg("s", "n", room, stanza.NewMessage(stanza.TypeGroupchat, room.String(), "hi"), 0).Data)
	f.Add(room.String()+"/nick", "3", []byte(wrapOpen+`<presence><x xmlns="http://jabber.org/protocol/muc"/></presence>`+wrapClose))
	f.Add("x@y", "1", []byte(`<iq type="get" id="1"/>`))
	f.Fuzz(func(t *testing.T, to, hops string, data []byte) {
		m := &nats.Msg{Header: nats.Header{hdrOp: {opRoom}, hdrTo: {to}, hdrFrom: {"n"}, hdrHops: {hops}}, Data: data}
		fr, err := parseFrame(m, 4096)
		if err != nil {
			return
		}
		if fr.st == nil || fr.to.Local() == "" || fr.to.Resource() != "" || fr.hops < 0 || fr.hops > maxRoomHops {
			t.Fatalf("room frame accepted: %+v", fr)
		}
	})
}

func FuzzRoomLease(f *testing.F) {
	f.Add(leaseKey(jid.MustParse("lobby@conference.example.com")), []byte(`{"n":"node1","i":"ab12"}`))
	f.Add("o.bG9iYnk", []byte(`{"n":""}`))
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		if j, err := roomOfKey(key); err == nil && leaseKey(j)[2:] != key[2:] {
			t.Fatalf("key %q gives %v, whose key is %q", key, j, leaseKey(j))
		}
		if l, err := parseRoomLease(value); err == nil && (l.Node == "" || l.Inc == "") {
			t.Fatalf("lease %+v accepted", l)
		}
	})
}
