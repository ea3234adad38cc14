package muc_test

import (
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/muc"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// A session occupies at most modules.muc.max_user_rooms rooms at once:
// one more join, creating or not, gets <resource-constraint/>; leaving
// one makes room for another.
func TestRoomsPerSessionBounded(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) { c.Modules.SetSection("muc", map[string]any{"max_user_rooms": 2}) })
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "pc")
	create(t, s, bob, "third", "bob", nil)
	for _, room := range []string{"one", "two"} {
		create(t, s, alice, room, "al", nil)
	}
	for _, room := range []string{"third", "fourth"} {
		st := join(t, s, alice, room, "al", "", nil)
		if e := stanza.ParseError(st); e == nil || e.Condition != stanza.ResourceConstraint || e.Type != stanza.ErrWait {
			t.Fatalf("a third room (%s): %s, want wait/resource-constraint", room, st)
		}
	}
	leaveRoom(t, s, alice, "one", "al")
	joinSubject(t, s, alice, "third", "al")
}

// A room keeps at most modules.muc.max_affiliations affiliations: a
// muc#admin request that would exceed it is refused with
// <policy-violation/> and none of its items is applied; one that frees
// as many as it adds is accepted.
func TestAffiliationsPerRoomBounded(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) { c.Modules.SetSection("muc", map[string]any{"max_affiliations": 3}) })
	s.AddUser(t, "alice", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	create(t, s, alice, "den", "al", nil) // alice: owner
	member := func(user, aff string) muc.Item { return muc.Item{JID: user + "@" + s.Domain(), Affiliation: aff} }
	for _, u := range []string{"bob", "carol"} {
		if res := admin(t, s, alice, "den", member(u, "member")); res.Type() != stanza.TypeResult {
			t.Fatalf("adding %s: %s", u, res)
		}
	}
	res := iq(t, alice, stanza.TypeSet, roomJID(s, "den", ""), stanza.New(muc.NSAdmin, "query").
		Append(member("dave", "member").Element(muc.NSAdmin), member("erin", "outcast").Element(muc.NSAdmin)))
	if e := stanza.ParseError(res); e == nil || e.Condition != stanza.PolicyViolation {
		t.Fatalf("a fourth and fifth affiliation: %s, want <policy-violation/>", res)
	}
	list := mustIQ(t, alice, stanza.TypeGet, roomJID(s, "den", ""), stanza.New(muc.NSAdmin, "query").Append(muc.Item{Affiliation: "member"}.Element(muc.NSAdmin)))
	if n := len(list.Payload().ChildrenNamed(muc.NSAdmin, "item")); n != 2 {
		t.Fatalf("members after a refused request: %d, want 2 (nothing applied): %s", n, list)
	}
	res = iq(t, alice, stanza.TypeSet, roomJID(s, "den", ""), stanza.New(muc.NSAdmin, "query").
		Append(member("carol", "none").Element(muc.NSAdmin), member("dave", "member").Element(muc.NSAdmin)))
	if res.Type() != stanza.TypeResult {
		t.Fatalf("swapping carol for dave: %s", res)
	}
}

// An occupant sends at most modules.muc.message_rate groupchat messages
// a second, in bursts of message_burst: beyond it a message is refused
// with wait/resource-constraint and reaches nobody, until time refills
// the bucket; moderators are exempt.
func TestMessageRateBounded(t *testing.T) {
	clock := xmpptest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := xmpptest.NewServerWithClock(t, clock, func(c *config.Config) {
		c.Modules.SetSection("muc", map[string]any{"message_rate": 1, "message_burst": 2})
	})
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "pc")
	create(t, s, alice, "den", "al", nil)
	xmpptest.Expect(t, alice, "subject", isSubject)
	joinSubject(t, s, bob, "den", "bob")
	room := roomJID(s, "den", "")
	say(t, bob, room, "one")
	say(t, bob, room, "two")
	xmpptest.Send(t, bob, groupchat(room, "three"))
	got := xmpptest.Expect(t, bob, "three refused", func(st *stanza.Element) bool {
		return st.ChildText(stanza.NSClient, "body") == "three"
	})
	if e := stanza.ParseError(got); e == nil || e.Condition != stanza.ResourceConstraint || e.Type != stanza.ErrWait {
		t.Fatalf("a third message at once: %s, want wait/resource-constraint", got)
	}
	for range 5 {
		say(t, alice, room, "the moderator may")
	}
	clock.Step(time.Second)
	say(t, bob, room, "four")
}

// A subject longer than modules.muc.max_subject bytes is refused with
// modify/not-acceptable and the subject stays.
func TestSubjectLengthBounded(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) { c.Modules.SetSection("muc", map[string]any{"max_subject": 10}) })
	s.AddUser(t, "alice", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	create(t, s, alice, "den", "al", nil)
	xmpptest.Expect(t, alice, "subject", isSubject)
	setSubject := func(text string) *stanza.Element {
		xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "message", "to", roomJID(s, "den", ""), "type", "groupchat").
			Append(stanza.New(stanza.NSClient, "subject").AppendText(text)))
		return xmpptest.Expect(t, alice, "subject or error", func(st *stanza.Element) bool { return st.Child(stanza.NSClient, "subject") != nil })
	}
	if got := setSubject("short"); got.Type() == stanza.TypeError {
		t.Fatalf("a short subject refused: %s", got)
	}
	if got := setSubject("far too long a subject"); errCond(got) != stanza.NotAcceptable || stanza.ParseError(got).Type != stanza.ErrModify {
		t.Fatalf("a long subject: %s, want modify/not-acceptable", got)
	}
}
