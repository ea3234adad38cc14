package carbons_test

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/carbons"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

const wait = 5 * time.Second

func newServer(t *testing.T) *xmpptest.Server {
	t.Helper()
	return xmpptest.NewServer(t, func(c *config.Config) {
		var keep []config.Listener
		for _, l := range c.Listeners {
			if l.Type == config.ListenerC2S {
				keep = append(keep, l)
			}
		}
		c.Listeners = keep
	})
}

func iq(t *testing.T, c *client.Client, typ string, payload *stanza.Element) error {
	t.Helper()
	_, err := c.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(typ, "", "", payload))
	return err
}

// login logs a resource in with initial presence at priority 0.
func login(t *testing.T, s *xmpptest.Server, user, res string) *client.Client {
	t.Helper()
	c := s.Client(t, user, "pw", res)
	xmpptest.Send(t, c, stanza.New(stanza.NSClient, "presence"))
	return c
}

// marker sends a headline with body text from 'from' to c's full JID and
// checks it is the next message c gets: whatever the test expected c not
// to receive would have come before it.
func marker(t *testing.T, from, c *client.Client, text string) {
	t.Helper()
	xmpptest.Send(t, from, stanza.NewMessage(stanza.TypeHeadline, c.JID().String(), text))
	if got := xmpptest.NextMessage(t, c); got.ChildText("", "body") != text || got.Child(carbons.NS, "sent") != nil || got.Child(carbons.NS, "received") != nil {
		t.Fatalf("%s: expected nothing before the marker, got %s", c.JID(), got)
	}
}

// carbon checks that m is a carbon of direction d from the account of c,
// around a message with body.
func carbon(t *testing.T, c *client.Client, m *stanza.Element, d carbons.Direction, body string) {
	t.Helper()
	got, inner, err := carbons.Unwrap(m, c.JID())
	if err != nil {
		t.Fatalf("%s: not a carbon: %v: %s", c.JID(), err, m)
	}
	if got != d || inner.ChildText("", "body") != body {
		t.Fatalf("%s: carbon %v of %s, want %v of %q", c.JID(), got, inner, d, body)
	}
	if m.From() != c.JID().Bare().String() || m.To() != c.JID().String() {
		t.Fatalf("carbon addressed from %s to %s", m.From(), m.To())
	}
}

func TestIntegrationCarbons(t *testing.T) {
	s := newServer(t)
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	a := login(t, s, "alice", "a")
	b := login(t, s, "alice", "b")
	c := login(t, s, "alice", "c") // never enables carbons
	bob := login(t, s, "bob", "phone")

	info, err := a.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeGet, "", s.Domain(), stanza.New(disco.NSInfo, "query")))
	if err != nil {
		t.Fatal(err)
	}
	if parsed, _ := disco.ParseInfo(info.Payload()); !parsed.HasFeature(carbons.NS) || !parsed.HasFeature(carbons.NSRules) {
		t.Fatalf("server does not advertise carbons: %s", info)
	}
	for _, cl := range []*client.Client{a, b} {
		if err := iq(t, cl, stanza.TypeSet, carbons.Enable()); err != nil {
			t.Fatalf("enable: %v", err)
		}
	}
	// Enabling twice is not an error (§9.1).
	if err := iq(t, a, stanza.TypeSet, carbons.Enable()); err != nil {
		t.Fatalf("second enable: %v", err)
	}

	// Sent: a writes to bob; b gets a <sent/> copy, c and a nothing.
	xmpptest.Send(t, a, stanza.NewMessage(stanza.TypeChat, "bob@localhost", "sent one"))
	if m := xmpptest.NextMessage(t, bob); m.ChildText("", "body") != "sent one" {
		t.Fatalf("bob got %s", m)
	}
	carbon(t, b, xmpptest.NextMessage(t, b), carbons.Sent, "sent one")
	marker(t, bob, c, "m1")
	marker(t, bob, a, "m2")

	// Received on a full JID: bob writes to alice/a; b gets <received/>.
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, a.JID().String(), "to a"))
	if m := xmpptest.NextMessage(t, a); m.ChildText("", "body") != "to a" {
		t.Fatalf("a got %s", m)
	}
	carbon(t, b, xmpptest.NextMessage(t, b), carbons.Received, "to a")
	marker(t, bob, c, "m3")

	// Received on the bare JID with tied priorities: all three resources
	// get the message itself and nobody a copy of what they already have.
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, "alice@localhost", "to all"))
	for _, cl := range []*client.Client{a, b, c} {
		if m := xmpptest.NextMessage(t, cl); m.ChildText("", "body") != "to all" || m.Child(carbons.NS, "received") != nil {
			t.Fatalf("%s got %s", cl.JID(), m)
		}
		marker(t, bob, cl, "m4")
	}

	// A higher priority on a takes bare-JID messages; b then gets a copy.
	xmpptest.Send(t, a, stanza.New(stanza.NSClient, "presence").Append(stanza.New(stanza.NSClient, "priority").AppendText("5")))
	xmpptest.Sync(t, a) // the presence is processed before bob writes
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, "alice@localhost", "to the best"))
	if m := xmpptest.NextMessage(t, a); m.ChildText("", "body") != "to the best" {
		t.Fatalf("a got %s", m)
	}
	carbon(t, b, xmpptest.NextMessage(t, b), carbons.Received, "to the best")
	marker(t, bob, c, "m5")

	// <private/> with <no-copy/>: no copies either way.
	priv := stanza.NewMessage(stanza.TypeChat, "bob@localhost", "secret out")
	priv.Append(carbons.Private(), carbons.NoCopy())
	xmpptest.Send(t, a, priv)
	xmpptest.NextMessage(t, bob)
	priv = stanza.NewMessage(stanza.TypeChat, a.JID().String(), "secret in")
	priv.Append(carbons.Private(), carbons.NoCopy())
	xmpptest.Send(t, bob, priv)
	xmpptest.NextMessage(t, a)
	marker(t, bob, b, "m6")

	// Messages that are not instant messaging are not copied.
	xmpptest.Send(t, a, stanza.NewMessage(stanza.TypeNormal, "bob@localhost", "")) // normal without body
	xmpptest.Send(t, a, stanza.NewMessage(stanza.TypeHeadline, "bob@localhost", "news"))
	xmpptest.NextMessage(t, bob)
	xmpptest.NextMessage(t, bob)
	marker(t, bob, b, "m7")

	// Disabled: b gets nothing any more, and disabling twice is fine.
	for range 2 {
		if err := iq(t, b, stanza.TypeSet, carbons.Disable()); err != nil {
			t.Fatalf("disable: %v", err)
		}
	}
	xmpptest.Send(t, a, stanza.NewMessage(stanza.TypeChat, "bob@localhost", "after disable"))
	xmpptest.NextMessage(t, bob)
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, a.JID().String(), "after disable in"))
	xmpptest.NextMessage(t, a)
	marker(t, bob, b, "m8")

	// Only a session of the account may change its own state.
	_, err = bob.SendIQ(xmpptest.Context(t, wait), stanza.NewIQ(stanza.TypeSet, "", "alice@localhost", carbons.Enable()))
	var se *stanza.Error
	if !errors.As(err, &se) || se.Condition != stanza.NotAllowed {
		t.Fatalf("bob enabling alice's carbons: %v, want not-allowed", err)
	}
}
