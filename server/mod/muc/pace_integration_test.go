package muc_test

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// TestIntegrationLargeRoomListPaced: entering a room whose occupant list
// is several times what a session may hold (limits.outbound_queue_bytes,
// four times of which a reading client may hold at once), a client that
// reads gets the whole list, then its own presence, then the subject,
// and stays connected: the room paces the list to what the session
// takes. A client that never reads still gets cut off as a slow consumer
// once the room has more for it, and the room goes on serving the
// others meanwhile.
func TestIntegrationLargeRoomListPaced(t *testing.T) {
	const (
		budget = 16 << 10
		small  = 31 // occupants with a bare presence: their lists are short
		large  = 33 // occupants with a long status: the newcomer's list is ~100 KB
	)
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Limits.MaxStanzaBytes = budget
		c.Limits.PreauthStanzaBytes = 8 << 10
		c.Limits.OutboundQueueBytes = budget
		c.Limits.Rate = config.Rate{}
		c.Modules.SetSection("muc", map[string]any{"paced_bytes": 32 << 10})
	})
	status := strings.Repeat("s", 2<<10)
	var occupants []*client.Client
	for i := range small + large {
		s.AddUser(t, fmt.Sprintf("occ%d", i), "pw")
		c := s.Client(t, fmt.Sprintf("occ%d", i), "pw", "r")
		nick := fmt.Sprintf("n%d", i)
		if i == 0 {
			create(t, s, c, "big", nick, nil)
		} else {
			pres := muc.Join(jid.MustParse(roomJID(s, "big", nick)), "", &muc.History{MaxStanzas: 0, MaxChars: -1, Seconds: -1})
			if i >= small {
				pres.Append(stanza.New(stanza.NSClient, "status").AppendText(status))
			}
			xmpptest.Send(t, c, pres)
			xmpptest.Expect(t, c, "subject of "+nick, isSubject)
		}
		occupants = append(occupants, c)
	}

	// A newcomer that reads: every occupant, in joining order, then its
	// own presence (110), then the subject, then a message sent to the
	// room while the list was on its way; and still connected.
	s.AddUser(t, "newcomer", "pw")
	nc := s.Client(t, "newcomer", "pw", "nc")
	xmpptest.Send(t, nc, muc.Join(jid.MustParse(roomJID(s, "big", "newcomer")), "", nil))
	xmpptest.Expect(t, occupants[0], "the newcomer's arrival", presenceFrom(roomJID(s, "big", "newcomer"), ""))
	xmpptest.Send(t, occupants[0], groupchat(roomJID(s, "big", ""), "hello newcomer"))
	ctx := xmpptest.Context(t, wait)
	next := func() *stanza.Element {
		t.Helper()
		st, err := nc.Recv(ctx)
		if err != nil {
			t.Fatalf("newcomer: %v", err)
		}
		return st
	}
	for i := range small + large {
		if st, want := next(), roomJID(s, "big", fmt.Sprintf("n%d", i)); stanza.KindOf(st) != stanza.KindPresence || st.From() != want {
			t.Fatalf("stanza %d of the list is %s, want the presence of %s", i, st, want)
		}
	}
	if st := next(); st.From() != roomJID(s, "big", "newcomer") || !hasCodes(st, muc.StatusSelf) {
		t.Fatalf("after the list: %s, want the newcomer's own presence", st)
	}
	if st := next(); !isSubject(st) {
		t.Fatalf("after its own presence: %s, want the subject", st)
	}
	if st := next(); st.ChildText(stanza.NSClient, "body") != "hello newcomer" {
		t.Fatalf("after the subject: %s, want the message", st)
	}
	mustIQ(t, nc, stanza.TypeGet, s.Domain(), stanza.New("urn:xmpp:ping", "ping"))

	// A newcomer that never reads: once the room has more for it than
	// the lane holds, the rest goes to its session, which is cut off.
	// The room meanwhile serves everyone else.
	s.AddUser(t, "stuck", "pw")
	stuck := dialNoRead(t, s, "stuck", "pw", "st")
	stuck.send(t, fmt.Sprintf(`<presence to='%s'><x xmlns='%s'/></presence>`, roomJID(s, "big", "stuck"), muc.NS))
	// The join reached the room once the stuck session is an occupant,
	// which the others are told.
	xmpptest.Expect(t, occupants[0], "the stuck session's arrival", presenceFrom(roomJID(s, "big", "stuck"), ""))
	table := s.App.Router().Sessions()
	body := strings.Repeat("b", 2<<10)
	sent := 0
	for ; sent < 4000 && table.Get(stuck.full) != nil; sent++ {
		xmpptest.Send(t, occupants[1], groupchat(roomJID(s, "big", ""), fmt.Sprintf("%d %s", sent, body)))
		xmpptest.Sync(t, occupants[1]) // routed to every occupant
		// The reading newcomer reads each message as it comes, in order:
		// a reader that keeps up is never the one cut off (one that lags
		// on a loaded machine by more than its socket buffers would be,
		// rightly, with the 16 KiB queue of this test).
		// (The stuck session's arrival and departure come in between.)
		st := next()
		for stanza.KindOf(st) == stanza.KindPresence {
			st = next()
		}
		if stanza.KindOf(st) != stanza.KindMessage || !strings.HasPrefix(st.ChildText(stanza.NSClient, "body"), fmt.Sprintf("%d ", sent)) {
			t.Fatalf("the newcomer got %.200s, want message %d", st, sent)
		}
	}
	if table.Get(stuck.full) != nil {
		t.Fatalf("%d messages of %d bytes for a client that does not read, and it is still bound", sent, len(body))
	}
	t.Logf("the stuck client was cut off after %d messages", sent)
	// The reading newcomer got every message and is still there.
	mustIQ(t, nc, stanza.TypeGet, s.Domain(), stanza.New("urn:xmpp:ping", "ping"))
}

// rawClient is a c2s connection that logs in and then never reads.
type rawClient struct {
	conn *tls.Conn
	full jid.JID
}

// dialNoRead logs in over direct TLS with PLAIN and binds resource, reading
// only what the login needs; from then on the socket is never read.
func dialNoRead(t *testing.T, s *xmpptest.Server, user, password, resource string) *rawClient {
	t.Helper()
	conn, err := tls.Dial("tcp", s.TLSAddr(), s.TLSConfig())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	r := &rawClient{conn: conn}
	_ = conn.SetDeadline(time.Now().Add(wait))
	header := fmt.Sprintf(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>`, s.Domain())
	r.send(t, header)
	r.readUntil(t, "</stream:features>")
	auth := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	r.send(t, `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>`+auth+`</auth>`)
	r.readUntil(t, "<success")
	r.send(t, header)
	r.readUntil(t, "</stream:features>")
	r.send(t, `<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>`+resource+`</resource></bind></iq>`)
	r.readUntil(t, "</iq>")
	_ = conn.SetDeadline(time.Time{})
	r.full = jid.MustParse(user + "@" + s.Domain() + "/" + resource)
	xmpptest.Eventually(t, "the raw session is bound", func() bool { return s.App.Router().Sessions().Get(r.full) != nil })
	return r
}

func (r *rawClient) send(t *testing.T, s string) {
	t.Helper()
	if _, err := r.conn.Write([]byte(s)); err != nil {
		t.Fatalf("raw client: write: %v", err)
	}
}

// readUntil reads until what was read contains marker.
func (r *rawClient) readUntil(t *testing.T, marker string) {
	t.Helper()
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte(marker)) {
		n, err := r.conn.Read(buf)
		if err != nil {
			t.Fatalf("raw client: waiting for %s: %v (read %q)", marker, err, got)
		}
		got = append(got, buf[:n]...)
	}
}
