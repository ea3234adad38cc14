package session

import (
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Sessions that send the same presence keep one element between them
// (PresenceShare), each still giving it back with its own 'from'; a
// presence that differs in anything — a child's text, a namespace the XML
// would not show — is kept apart; the table is bounded in entries and in
// the size of what it keeps; a nil share shares nothing.
func TestSharedPresence(t *testing.T) {
	share := NewPresenceShare(3)
	pres := func(from, show string) *stanza.Element {
		p := stanza.New(stanza.NSClient, "presence", "from", from)
		p.Append(stanza.New(stanza.NSClient, "show").AppendText(show))
		p.Append(stanza.New("vcard-temp:x:update", "x").Append(stanza.New("vcard-temp:x:update", "photo")))
		return p
	}
	a := NewSession(jid.MustParse("alice@example.com/phone"), nil)
	b := NewSession(jid.MustParse("bob@example.com/laptop"), nil)
	a.SetSharedPresence(pres(a.JID().String(), "away"), 1, share)
	b.SetSharedPresence(pres(b.JID().String(), "away"), 2, share)
	if a.presence != b.presence {
		t.Errorf("the same presence from two sessions kept twice")
	}
	for _, s := range []*Session{a, b} {
		got := s.Presence()
		if got.Get("from") != s.JID().String() || got.ChildText(stanza.NSClient, "show") != "away" || got.Child("vcard-temp:x:update", "x") == nil {
			t.Errorf("%s: Presence() = %s", s.JID(), got.Bytes())
		}
	}
	if a.Priority() != 1 || b.Priority() != 2 {
		t.Errorf("priorities %d, %d: want each session's own", a.Priority(), b.Priority())
	}

	b.SetSharedPresence(pres(b.JID().String(), "dnd"), 0, share)
	if a.presence == b.presence || b.Presence().ChildText(stanza.NSClient, "show") != "dnd" {
		t.Errorf("a different presence shared: %s", b.Presence().Bytes())
	}
	if a.Presence().ChildText(stanza.NSClient, "show") != "away" {
		t.Errorf("another session's change showed in %s", a.Presence().Bytes())
	}
	// The same XML in jabber:server is another element.
	srv := pres(b.JID().String(), "away")
	srv.Name.Space = stanza.NSServer
	b.SetSharedPresence(srv, 0, share)
	if a.presence == b.presence || b.presence.Name.Space != stanza.NSServer {
		t.Errorf("a jabber:server presence shared with a jabber:client one")
	}

	// Bounded: at most 3 kept, then it starts over.
	for i := range 10 {
		s := NewSession(jid.MustParse("carol@example.com/r"), nil)
		s.SetSharedPresence(pres(s.JID().String(), strings.Repeat("x", i)), 0, share)
		if n := share.len(); n > 3 {
			t.Fatalf("%d presences kept, bound 3", n)
		}
	}
	big := pres(a.JID().String(), strings.Repeat("x", maxSharedPresenceBytes))
	fresh := NewPresenceShare(3)
	a.SetSharedPresence(big, 0, fresh)
	if fresh.len() != 0 {
		t.Errorf("a presence over %d bytes kept for sharing", maxSharedPresenceBytes)
	}
	if a.Presence().ChildText(stanza.NSClient, "show") != strings.Repeat("x", maxSharedPresenceBytes) {
		t.Errorf("a large presence not stored as sent")
	}

	if NewPresenceShare(0) != nil {
		t.Errorf("NewPresenceShare(0) shares")
	}
	c := NewSession(jid.MustParse("dave@example.com/r"), nil)
	d := NewSession(jid.MustParse("erin@example.com/r"), nil)
	c.SetSharedPresence(pres(c.JID().String(), "away"), 0, nil)
	d.SetSharedPresence(pres(d.JID().String(), "away"), 0, nil)
	if c.presence == d.presence {
		t.Errorf("presences shared without a share")
	}
}
