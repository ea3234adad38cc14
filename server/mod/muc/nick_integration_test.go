package muc_test

import (
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// Nicknames are compared with RFC 8266's Nickname profile: case,
// surrounding spaces and full-width forms do not make a new nickname, and
// the room shows the enforced form (with 210 when it differs from the
// requested one).
func TestNicknamesComparedPerRFC8266(t *testing.T) {
	s := xmpptest.NewServer(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		s.AddUser(t, u, "pw")
	}
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "phone")
	carol := s.Client(t, "carol", "pw", "tab")
	create(t, s, alice, "den", "alice", nil)

	for _, nick := range []string{"Alice", "ALICE", "alice ", " alice", "ａｌｉｃｅ", "AlIcE"} {
		if st := join(t, s, bob, "den", nick, "", nil); errCond(st) != stanza.Conflict || st.Type() != stanza.TypeError {
			t.Fatalf("joining as %q next to \"alice\": %s, want <conflict/>", nick, st)
		}
	}
	// RFC 8266 keeps scripts apart: a Cyrillic "а" is another letter.
	cyr := "\u0430lice"
	if st := join(t, s, bob, "den", cyr, "", nil); st.Type() == stanza.TypeError {
		t.Fatalf("joining as %q (Cyrillic а): %s", cyr, st)
	}
	leaveRoom(t, s, bob, "den", cyr)

	// The room shows the enforced nickname and says it changed it.
	xmpptest.Send(t, bob, muc.Join(jid.MustParse(roomJID(s, "den", " ｂｏｂ ")), "", nil))
	self := xmpptest.Expect(t, bob, "self-presence", func(st *stanza.Element) bool { return hasCodes(st, muc.StatusSelf) })
	if self.Type() == stanza.TypeError || self.From() != roomJID(s, "den", "bob") || !hasCodes(self, muc.StatusSelf, muc.StatusNickAssigned) {
		t.Fatalf("joining as \" ｂｏｂ \": self-presence %s, want from .../bob with 110 and 210", self)
	}
	xmpptest.Expect(t, bob, "subject", isSubject)
	xmpptest.Expect(t, alice, "bob's presence", presenceFrom(roomJID(s, "den", "bob"), ""))

	// A private message to another spelling reaches the occupant.
	pm := stanza.NewMessage(stanza.TypeChat, roomJID(s, "den", "ALICE"), "psst")
	xmpptest.Send(t, bob, pm)
	got := xmpptest.Expect(t, alice, "private message", func(st *stanza.Element) bool { return st.ChildText(stanza.NSClient, "body") == "psst" })
	if got.From() != roomJID(s, "den", "bob") {
		t.Fatalf("private message = %s", got)
	}

	// Changing one's nickname to another's spelling is a conflict.
	joinSubject(t, s, carol, "den", "carol")
	xmpptest.Send(t, carol, stanza.New(stanza.NSClient, "presence", "to", roomJID(s, "den", "BOB")))
	if st := xmpptest.Expect(t, carol, "nick change error", presenceFrom(roomJID(s, "den", "BOB"), stanza.TypeError)); errCond(st) != stanza.Conflict {
		t.Fatalf("nick change to \"BOB\": %s", st)
	}
	// A reserved nickname (XEP-0045 §9.3) is reserved in every spelling.
	if res := admin(t, s, alice, "den", muc.Item{JID: "bob@" + s.Domain(), Affiliation: "member", Nick: "Bobby"}); res.Type() != stanza.TypeResult {
		t.Fatalf("reserving a nickname: %s", res)
	}
	xmpptest.Send(t, carol, stanza.New(stanza.NSClient, "presence", "to", roomJID(s, "den", "bobby")))
	if st := xmpptest.Expect(t, carol, "nick change error", presenceFrom(roomJID(s, "den", "bobby"), stanza.TypeError)); errCond(st) != stanza.Conflict {
		t.Fatalf("nick change to a reserved nickname: %s", st)
	}
	// A nickname RFC 8266 refuses (empty once trimmed) is
	// <jid-malformed/>.
	if st := join(t, s, carol, "den2", "   ", "", nil); errCond(st) != stanza.JIDMalformed {
		t.Fatalf("joining with spaces as nickname: %s", st)
	}
}

// leaveRoom sends unavailable presence and waits for the self-presence.
func leaveRoom(t *testing.T, s *xmpptest.Server, c *client.Client, room, nick string) {
	t.Helper()
	xmpptest.Send(t, c, stanza.New(stanza.NSClient, "presence", "to", roomJID(s, room, nick), "type", stanza.TypeUnavailable))
	xmpptest.Expect(t, c, "leaving "+room, func(st *stanza.Element) bool {
		return st.Type() == stanza.TypeUnavailable && hasCodes(st, muc.StatusSelf)
	})
}

// One account may sit in a room under one nickname from several
// resources (XEP-0045 §7.2.8): each resource gets the room's traffic, the
// others see one occupant, and it leaves when its last resource does.
func TestMultiSessionNick(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	desk := s.Client(t, "alice", "pw", "desk")
	phone := s.Client(t, "alice", "pw", "phone")
	bob := s.Client(t, "bob", "pw", "pc")
	al := roomJID(s, "den", "al")
	create(t, s, desk, "den", "al", nil)
	xmpptest.Expect(t, desk, "subject", isSubject)
	joinSubject(t, s, bob, "den", "bob")
	xmpptest.Expect(t, desk, "bob's presence", presenceFrom(roomJID(s, "den", "bob"), ""))

	// The phone joins under the same nickname: it gets bob's presence,
	// then its own; the desk sees its occupant's presence again (110),
	// bob sees an update of the same occupant.
	xmpptest.Send(t, phone, muc.Join(jid.MustParse(al), "", nil))
	first := xmpptest.Expect(t, phone, "presence", func(st *stanza.Element) bool { return stanza.KindOf(st) == stanza.KindPresence })
	if first.From() != roomJID(s, "den", "bob") {
		t.Fatalf("phone's first presence = %s, want bob's", first)
	}
	self := xmpptest.Expect(t, phone, "self-presence", presenceFrom(al, ""))
	if !hasCodes(self, muc.StatusSelf) || item(self).Affiliation != "owner" {
		t.Fatalf("phone's self-presence = %s", self)
	}
	xmpptest.Expect(t, phone, "subject", isSubject)
	if st := xmpptest.Expect(t, desk, "own presence", presenceFrom(al, "")); !hasCodes(st, muc.StatusSelf) {
		t.Fatalf("desk got %s", st)
	}
	xmpptest.Expect(t, bob, "al's presence", presenceFrom(al, ""))
	info, err := disco.ParseInfo(mustIQ(t, bob, stanza.TypeGet, roomJID(s, "den", ""), stanza.New(disco.NSInfo, "query")).Payload())
	if err != nil {
		t.Fatal(err)
	}
	if f, err := form.Parse(info.Forms[0]); err != nil || f.Field("muc#roominfo_occupants").Value() != "2" {
		t.Fatalf("occupants = %+v (%v), want 2", f, err)
	}

	// Both resources get the room's messages and the private ones; both
	// may talk.
	xmpptest.Send(t, bob, groupchat(roomJID(s, "den", ""), "hi al"))
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, al, "just you"))
	for _, c := range []*client.Client{desk, phone} {
		xmpptest.Expect(t, c, "groupchat", func(st *stanza.Element) bool { return st.ChildText(stanza.NSClient, "body") == "hi al" })
		xmpptest.Expect(t, c, "private message", func(st *stanza.Element) bool {
			return st.ChildText(stanza.NSClient, "body") == "just you" && st.From() == roomJID(s, "den", "bob")
		})
	}
	xmpptest.Send(t, phone, groupchat(roomJID(s, "den", ""), "from the phone"))
	for _, c := range []*client.Client{desk, phone, bob} {
		xmpptest.Expect(t, c, "groupchat", func(st *stanza.Element) bool {
			return st.ChildText(stanza.NSClient, "body") == "from the phone" && st.From() == al
		})
	}

	// The phone leaves: it gets its unavailable self-presence; bob sees
	// no departure, and the desk still gets the room's traffic.
	leaveRoom(t, s, phone, "den", "al")
	xmpptest.Send(t, bob, groupchat(roomJID(s, "den", ""), "still there?"))
	xmpptest.Expect(t, desk, "groupchat", func(st *stanza.Element) bool { return st.ChildText(stanza.NSClient, "body") == "still there?" })
	xmpptest.Expect(t, bob, "own groupchat", func(st *stanza.Element) bool {
		if st.From() == al && st.Type() == stanza.TypeUnavailable {
			t.Fatalf("bob saw al leave while the desk is still in: %s", st)
		}
		return st.ChildText(stanza.NSClient, "body") == "still there?"
	})
	noStanza(t, phone, func(st *stanza.Element) bool { return st.ChildText(stanza.NSClient, "body") == "still there?" })

	// The desk leaves: now al is gone.
	leaveRoom(t, s, desk, "den", "al")
	xmpptest.Expect(t, bob, "al leaving", presenceFrom(al, stanza.TypeUnavailable))
}

// noStanza fails if a stanza matching arrives within a short while.
func noStanza(t *testing.T, c *client.Client, match func(*stanza.Element) bool) {
	t.Helper()
	ctx := xmpptest.Context(t, 300*time.Millisecond)
	for {
		st, err := c.Recv(ctx)
		if err != nil {
			return
		}
		if match(st) {
			t.Fatalf("%s got %s", c.JID(), st)
		}
	}
}

// One resource of a multi-session occupant changing nickname leaves the
// others under the old one: it gets the 303 unavailable for itself only,
// and the room gains an occupant under the new nickname.
func TestMultiSessionNickChange(t *testing.T) {
	s := xmpptest.NewServer(t)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	desk := s.Client(t, "alice", "pw", "desk")
	phone := s.Client(t, "alice", "pw", "phone")
	bob := s.Client(t, "bob", "pw", "pc")
	al, al2 := roomJID(s, "den", "al"), roomJID(s, "den", "al2")
	create(t, s, desk, "den", "al", nil)
	joinSubject(t, s, bob, "den", "bob")
	joinSubject(t, s, phone, "den", "al")

	xmpptest.Send(t, phone, stanza.New(stanza.NSClient, "presence", "to", al2))
	gone := xmpptest.Expect(t, phone, "303", presenceFrom(al, stanza.TypeUnavailable))
	if !hasCodes(gone, muc.StatusNewNick, muc.StatusSelf) || item(gone).Nick != "al2" {
		t.Fatalf("phone's unavailable = %s", gone)
	}
	if self := xmpptest.Expect(t, phone, "new self-presence", presenceFrom(al2, "")); !hasCodes(self, muc.StatusSelf) {
		t.Fatalf("phone's new self-presence = %s", self)
	}
	xmpptest.Expect(t, bob, "al2 entering", func(st *stanza.Element) bool {
		if st.From() == al && st.Type() == stanza.TypeUnavailable {
			t.Fatalf("bob saw al leave while the desk is still in: %s", st)
		}
		return st.From() == al2 && st.Type() == ""
	})
	xmpptest.Send(t, bob, groupchat(roomJID(s, "den", ""), "two of you"))
	for _, c := range []*client.Client{desk, phone} {
		xmpptest.Expect(t, c, "groupchat", func(st *stanza.Element) bool { return st.ChildText(stanza.NSClient, "body") == "two of you" })
	}
	info, err := disco.ParseInfo(mustIQ(t, bob, stanza.TypeGet, roomJID(s, "den", ""), stanza.New(disco.NSInfo, "query")).Payload())
	if err != nil {
		t.Fatal(err)
	}
	if f, err := form.Parse(info.Forms[0]); err != nil || f.Field("muc#roominfo_occupants").Value() != "3" {
		t.Fatalf("occupants = %+v (%v), want 3", f, err)
	}
}
