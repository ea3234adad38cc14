package muc_test

import (
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// A session occupies at most modules.muc.max_user_rooms rooms at once:
// one more join, creating or not, gets <resource-constraint/>; leaving
// one makes room for another.
func TestRoomsPerSessionBounded(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) { c.Modules.MUC.MaxUserRooms = 2 })
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
