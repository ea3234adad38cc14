package roster_test

import (
	"context"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// The set of entities a session sent directed presence to is bounded by
// limits.directed_presences: past it, directed available presence to a
// new entity is refused with <policy-violation/> and not delivered;
// presence to an entity already in the set, and unavailable presence,
// still go through, and an unavailable frees a place.
func TestIntegrationDirectedPresenceCap(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) { c.Limits.DirectedPresences = 3 })
	for _, u := range []string{"alice", "carol"} {
		s.AddUser(t, u, "pw")
	}
	c, _ := online(t, s, "carol", "c")
	d, _ := online(t, s, "carol", "d")
	a, _ := online(t, s, "alice", "a")
	x1, x2 := "x1@"+s.Domain(), "x2@"+s.Domain()
	xmpptest.Send(t, a, pres("", x1))
	xmpptest.Send(t, a, pres("", x2))
	xmpptest.Send(t, a, pres("", c.JID().String()))
	xmpptest.Expect(t, c, "directed presence within the cap", isPres("", a.JID().String()))

	// A fourth entity: refused, with the error from it.
	xmpptest.Send(t, a, pres("", d.JID().String()))
	e := xmpptest.Expect(t, a, "the refusal", isPres(stanza.TypeError, d.JID().String()))
	if se := stanza.ParseError(e); se == nil || se.Condition != stanza.PolicyViolation {
		t.Fatalf("refusal %s, want <policy-violation/>", e)
	}
	// Again to one in the set: no error.
	xmpptest.Send(t, a, pres("", c.JID().String()))
	xmpptest.Expect(t, c, "directed presence to an entity in the set", isPres("", a.JID().String()))
	firstFromAlice(t, d, a, "marker 1")

	// An unavailable frees a place.
	xmpptest.Send(t, a, pres(stanza.TypeUnavailable, x1))
	xmpptest.Send(t, a, pres("", d.JID().String()))
	xmpptest.Expect(t, d, "directed presence once a place is free", isPres("", a.JID().String()))

	// At logout, both carol's resources learn alice is gone.
	a.Close()
	xmpptest.Expect(t, c, "unavailable at logout", isPres(stanza.TypeUnavailable, a.JID().String()))
	xmpptest.Expect(t, d, "unavailable at logout", isPres(stanza.TypeUnavailable, a.JID().String()))
}

// firstFromAlice sends a message from a to to and checks that it is the
// first stanza to receives from a: nothing refused reached it before.
func firstFromAlice(t *testing.T, to, a *client.Client, body string) {
	t.Helper()
	xmpptest.Send(t, a, stanza.NewMessage(stanza.TypeChat, to.JID().String(), body))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		st, err := to.Recv(ctx)
		if err != nil {
			t.Fatalf("%s: waiting for %q: %v", to.JID(), body, err)
		}
		if st.From() != a.JID().String() {
			continue
		}
		if stanza.KindOf(st) != stanza.KindMessage || st.ChildText(stanza.NSClient, "body") != body {
			t.Fatalf("%s received %s from %s before the message %q", to.JID(), st, a.JID(), body)
		}
		return
	}
}
