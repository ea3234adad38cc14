package cluster

import (
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

func TestFrameRoundTrip(t *testing.T) {
	to := jid.MustParse("bob@example.com/phone")
	m := stanza.NewMessage(stanza.TypeChat, "bob@example.com", "a < b & c")
	m.Set("from", "alice@example.com/home")
	m.Append(stanza.New("urn:example", "x").Append(stanza.New("", "unqualified")))
	f, err := parseFrame(deliverMsg("c.node.n2", "n1", to, m), 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	if f.op != opDeliver || f.node != "n1" || f.to != to {
		t.Errorf("frame = %+v", f)
	}
	if got, want := string(f.st.Bytes()), string(m.Bytes()); got != want {
		t.Errorf("stanza\n got %s\nwant %s", got, want)
	}
	if f.st.Name.Space != stanza.NSClient || f.st.Child(stanza.NSClient, "body") == nil {
		t.Errorf("stanza not in jabber:client: %q", f.st.Name.Space)
	}
	res := stanza.NewIQ(stanza.TypeResult, "srv-n2-1", "example.com", nil)
	f, err = parseFrame(replyMsg("c.node.n2", "n1", res), 1<<16)
	if err != nil || f.op != opReply || f.st.ID() != "srv-n2-1" {
		t.Errorf("reply frame = %+v, %v", f, err)
	}
	if _, err := parseFrame(replyMsg("c.node.n2", "n1", stanza.NewIQ(stanza.TypeGet, "x", "example.com", stanza.New("urn:x", "q"))), 1<<16); err == nil {
		t.Error("a request accepted as a reply")
	}
	f, err = parseFrame(componentMsg("c.node.n2", "n1", "gw.example.com", m), 1<<16)
	if err != nil || f.op != opComponent || f.to.String() != "gw.example.com" || f.st.ChildText(stanza.NSClient, "body") == "" {
		t.Errorf("component frame = %+v, %v", f, err)
	}
	if _, err := parseFrame(componentMsg("c.node.n2", "n1", "bot@gw.example.com", m), 1<<16); err == nil {
		t.Error("a component frame to a bare JID accepted")
	}
	f, err = parseFrame(leaveMsg("c.node.n2", "n1"), 1<<16)
	if err != nil || f.op != opLeave || f.node != "n1" {
		t.Errorf("leave frame = %+v, %v", f, err)
	}
	f, err = parseFrame(invalidateMsg("c.node.n2", "n1", to.Bare(), "roster"), 1<<16)
	if err != nil || f.op != opInvalidate || f.topic != "roster" || f.to != to.Bare() {
		t.Errorf("invalidate frame = %+v, %v", f, err)
	}
	if _, err := parseFrame(invalidateMsg("c.node.n2", "n1", to, "roster"), 1<<16); err == nil {
		t.Error("an invalidation of a full JID accepted")
	}
	f, err = parseFrame(closeMsg("c.node.n2", "n1", to, stream.Conflict), 1<<16)
	if err != nil || f.op != opClose || f.cond != stream.Conflict {
		t.Errorf("close frame = %+v, %v", f, err)
	}
}

func TestFrameRefusals(t *testing.T) {
	to := jid.MustParse("bob@example.com/phone")
	big := stanza.NewMessage(stanza.TypeChat, "bob@example.com", strings.Repeat("x", 2000))
	for name, m := range map[string]*nats.Msg{
		"too big": deliverMsg("s", "n1", to, big),
		"no node": func() *nats.Msg {
			m := deliverMsg("s", "n1", to, stanza.NewMessage("", "b@e", "x"))
			m.Header.Del(hdrFrom)
			return m
		}(),
		"bare to":      deliverMsg("s", "n1", to.Bare(), stanza.NewMessage("", "b@e", "x")),
		"not a stanza": {Header: nats.Header{hdrOp: {opDeliver}, hdrTo: {to.String()}, hdrFrom: {"n1"}}, Data: []byte(wrapOpen + "<foo/>" + wrapClose)},
		"two stanzas":  {Header: nats.Header{hdrOp: {opDeliver}, hdrTo: {to.String()}, hdrFrom: {"n1"}}, Data: []byte(wrapOpen + "<message/><message/>" + wrapClose)},
		"unknown op":   {Header: nats.Header{hdrOp: {"explode"}, hdrTo: {to.String()}, hdrFrom: {"n1"}}},
		"bad close":    closeMsg("s", "n1", to, stream.Condition("nonsense")),
		"ill-formed":   {Header: nats.Header{hdrOp: {opDeliver}, hdrTo: {to.String()}, hdrFrom: {"n1"}}, Data: []byte(wrapOpen + "<message>")},
	} {
		if _, err := parseFrame(m, 1024); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEntryRoundTrip(t *testing.T) {
	s := session.NewSession(jid.MustParse("bob@example.com/phone"), nil)
	p := stanza.New(stanza.NSClient, "presence")
	p.Append(stanza.New(stanza.NSClient, "show").SetText("away"))
	s.SetPresence(p, 7)
	s.SetFlag("carbons", true)
	e, pres, err := parseEntry(entryOf(s, "n1", "inc").marshal())
	if err != nil {
		t.Fatal(err)
	}
	if e.Node != "n1" || e.Inc != "inc" || !e.Available || e.Priority != 7 || len(e.Flags) != 1 || pres.ChildText(stanza.NSClient, "show") != "away" {
		t.Errorf("entry = %+v, presence %v", e, pres)
	}
	r := session.NewSession(s.JID(), nil)
	applyEntry(r, e, pres)
	if !r.Available() || r.Priority() != 7 || !r.Flag("carbons") || r.Presence().ChildText(stanza.NSClient, "show") != "away" {
		t.Errorf("applied: available %v priority %d flags %q", r.Available(), r.Priority(), r.Flags())
	}
	for _, bad := range []string{`{}`, `{"n":"a"}`, `{"n":"a","i":"b","x":"<message/>"}`, `{"n":"a","i":"b","x":"<presence>"}`, `[`} {
		if _, _, err := parseEntry([]byte(bad)); err == nil {
			t.Errorf("parseEntry(%s) accepted", bad)
		}
	}
}

func TestKeys(t *testing.T) {
	for _, s := range []string{"bob@example.com/phone", "ünï@bücher.example/a b/c", "x@y/.."} {
		j := jid.MustParse(s)
		got, err := jidOfKey(keyOf(j))
		if err != nil || got != j {
			t.Errorf("%s: key %q gives %v, %v", s, keyOf(j), got, err)
		}
		if strings.Trim(keyOf(j), "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
			t.Errorf("%s: key %q has characters keys may not hold", s, keyOf(j))
		}
	}
	for _, k := range []string{"", "abc", "Ym9i.", "!!.cA", keyOf(jid.MustParse("a@b/c")) + "="} {
		if _, err := jidOfKey(k); err == nil {
			t.Errorf("jidOfKey(%q) accepted", k)
		}
	}
}

func FuzzParseFrame(f *testing.F) {
	to := jid.MustParse("bob@example.com/phone")
	f.Add(opDeliver, to.String(), deliverMsg("s", "n", to, stanza.NewMessage(stanza.TypeChat, "b@e", "hi")).Data)
	f.Add(opClose, to.String(), []byte("conflict"))
	f.Add(opReply, "", replyMsg("s", "n", stanza.NewIQ(stanza.TypeResult, "srv-a-1", "e", nil)).Data)
	f.Add(opInvalidate, "a@b", []byte(nil))
	f.Add(opLeave, "", []byte(nil))
	f.Add(opComponent, "gw.example.com", deliverMsg("s", "n", to, stanza.NewMessage(stanza.TypeChat, "b@e", "hi")).Data)
	f.Add(opDeliver, "a@b/c", []byte(wrapOpen+`<iq type="get" id="1"><ping xmlns="urn:xmpp:ping"/></iq>`+wrapClose))
	f.Fuzz(func(t *testing.T, op, to string, data []byte) {
		m := &nats.Msg{Header: nats.Header{hdrOp: {op}, hdrTo: {to}, hdrFrom: {"n"}}, Data: data}
		fr, err := parseFrame(m, 4096)
		if err == nil && (fr.op == opDeliver || fr.op == opComponent) && fr.st == nil {
			t.Fatal("deliver frame without a stanza")
		}
	})
}

func FuzzParseEntry(f *testing.F) {
	s := session.NewSession(jid.MustParse("bob@example.com/phone"), nil)
	s.SetPresence(stanza.New(stanza.NSClient, "presence"), 1)
	f.Add(entryOf(s, "n1", "i").marshal())
	f.Add([]byte(`{"n":"a","i":"b","a":true,"p":-3,"f":["roster"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, pres, err := parseEntry(b)
		if err == nil && pres != nil && pres.Name.Local != "presence" {
			t.Fatalf("entry %+v with a <%s/>", e, pres.Name.Local)
		}
	})
}

func FuzzJIDOfKey(f *testing.F) {
	f.Add(keyOf(jid.MustParse("bob@example.com/phone")))
	f.Add("Ym9i.cA")
	f.Fuzz(func(t *testing.T, k string) {
		if j, err := jidOfKey(k); err == nil && keyOf(j) != k {
			t.Fatalf("jidOfKey(%q) = %v, whose key is %q", k, j, keyOf(j))
		}
	})
}

func FuzzDomainOfKey(f *testing.F) {
	f.Add(compKey("gw.example.com"))
	f.Add("Z3c")
	f.Fuzz(func(t *testing.T, k string) {
		if d, err := domainOfKey(k); err == nil && compKey(d) != k {
			t.Fatalf("key %q gives %q, whose key is %q", k, d, compKey(d))
		}
	})
}
