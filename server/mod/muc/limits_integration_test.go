package muc_test

import (
	"testing"

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
