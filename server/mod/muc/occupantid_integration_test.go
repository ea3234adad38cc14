package muc_test

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

const nsOccupantID = "urn:xmpp:occupant-id:0"

// occupantID returns the XEP-0421 occupant id of a stanza from a room,
// failing when it has none or more than one.
func occupantID(t *testing.T, st *stanza.Element) string {
	t.Helper()
	ids := st.ChildrenNamed(nsOccupantID, "occupant-id")
	if len(ids) != 1 || ids[0].Get("id") == "" {
		t.Fatalf("want one occupant-id, got %d in %s", len(ids), st)
	}
	return ids[0].Get("id")
}

// XEP-0421: every presence and message (private ones too) from a room carries the sender's
// occupant id, the same for one account whatever its nickname, resource
// or visit, different for another account and for the same account in
// another room; a forged one is replaced; rooms and the service
// advertise the feature.
func TestOccupantIDs(t *testing.T) {
	s := xmpptest.NewServer(t)
	for _, u := range []string{"alice", "bob"} {
		s.AddUser(t, u, "pw")
	}
	alice := s.Client(t, "alice", "pw", "desk")
	bob := s.Client(t, "bob", "pw", "phone")
	create(t, s, alice, "den", "al", nil)
	xmpptest.Expect(t, alice, "subject", isSubject)
	self := joinSubject(t, s, bob, "den", "bob")
	bobID := occupantID(t, self)
	alPres := xmpptest.Expect(t, alice, "bob's presence", presenceFrom(roomJID(s, "den", "bob"), ""))
	if got := occupantID(t, alPres); got != bobID {
		t.Fatalf("bob's id is %q to himself, %q to alice", bobID, got)
	}

	// A message carries the sender's id, not the one it claims.
	msg := groupchat(roomJID(s, "den", ""), "hello").Append(stanza.New(nsOccupantID, "occupant-id", "id", "forged"))
	xmpptest.Send(t, alice, msg)
	got := xmpptest.Expect(t, bob, "alice's message", func(st *stanza.Element) bool { return st.ChildText(stanza.NSClient, "body") == "hello" })
	aliceID := occupantID(t, got)
	if aliceID == bobID || aliceID == "forged" {
		t.Fatalf("alice's message carries occupant id %q (bob's is %q)", aliceID, bobID)
	}

	// Another nickname, another resource, another visit: the same id.
	xmpptest.Send(t, bob, stanza.New(stanza.NSClient, "presence", "to", roomJID(s, "den", "robert")))
	renamed := xmpptest.Expect(t, alice, "bob renamed", presenceFrom(roomJID(s, "den", "robert"), ""))
	if occupantID(t, renamed) != bobID {
		t.Fatalf("the id changed with the nickname: %s", renamed)
	}
	xmpptest.Send(t, bob, stanza.New(stanza.NSClient, "presence", "to", roomJID(s, "den", "robert"), "type", "unavailable"))
	left := xmpptest.Expect(t, alice, "bob leaves", presenceFrom(roomJID(s, "den", "robert"), stanza.TypeUnavailable))
	if occupantID(t, left) != bobID {
		t.Fatalf("unavailable presence with another id: %s", left)
	}
	bob2 := s.Client(t, "bob", "pw", "laptop")
	if id := occupantID(t, joinSubject(t, s, bob2, "den", "bobby")); id != bobID {
		t.Fatalf("bob from another resource, later: id %q, first %q", id, bobID)
	}

	// A private message carries it too.
	xmpptest.Send(t, bob2, stanza.NewMessage(stanza.TypeChat, roomJID(s, "den", "al"), "psst"))
	pm := xmpptest.Expect(t, alice, "private message", func(st *stanza.Element) bool { return st.ChildText(stanza.NSClient, "body") == "psst" })
	if occupantID(t, pm) != bobID {
		t.Fatalf("private message with another id: %s", pm)
	}

	// Another room: another id for the same account.
	other := join(t, s, bob2, "hall", "bob", "", nil)
	if id := occupantID(t, other); id == bobID {
		t.Fatalf("bob has id %q in two rooms: linkable", id)
	}

	for _, to := range []string{roomJID(s, "den", ""), service(s)} {
		info, err := disco.ParseInfo(mustIQ(t, alice, stanza.TypeGet, to, stanza.New(disco.NSInfo, "query")).Payload())
		if err != nil || !info.HasFeature(nsOccupantID) {
			t.Fatalf("%s does not advertise %s: %+v (%v)", to, nsOccupantID, info, err)
		}
	}
}
