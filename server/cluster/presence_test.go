package cluster_test

import (
	"encoding/xml"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/carbons"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	xroster "github.com/parley-xmpp/parley/xmpp/roster"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// pushes collects the roster pushes a client gets, answering them.
func pushes(t *testing.T, c *client.Client) <-chan xroster.Item {
	ch := make(chan xroster.Item, 64)
	c.Handle(stanza.KindIQ, xml.Name{Space: xroster.NS, Local: "query"}, func(iq *stanza.Element) {
		if q, err := xroster.Decode(iq.Payload()); err == nil && len(q.Items) == 1 {
			ch <- q.Items[0]
		}
		c.Send(xmpptest.Context(t, xmpptest.Wait), stanza.Result(iq, nil))
	})
	return ch
}

// expectPush waits for a roster push about contact with subscription sub
// (and ask, when not empty).
func expectPush(t *testing.T, ch <-chan xroster.Item, who string, contact jid.JID, sub, ask string) {
	t.Helper()
	timeout := time.After(xmpptest.Wait)
	for {
		select {
		case it := <-ch:
			if it.JID == contact && it.Subscription == sub && it.Ask == ask {
				return
			}
		case <-timeout:
			t.Fatalf("%s: no roster push of %s with subscription %q ask %q", who, contact, sub, ask)
		}
	}
}

func rosterOf(t *testing.T, c *client.Client) map[jid.JID]xroster.Item {
	t.Helper()
	res, err := c.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(stanza.TypeGet, "", "", stanza.New(xroster.NS, "query")))
	if err != nil {
		t.Fatal(err)
	}
	q, err := xroster.Decode(res.Payload())
	if err != nil {
		t.Fatal(err)
	}
	out := map[jid.JID]xroster.Item{}
	for _, it := range q.Items {
		out[it.JID] = it
	}
	return out
}

func isPresence(typ string, from jid.JID) func(*stanza.Element) bool {
	return func(st *stanza.Element) bool {
		return st.Name.Local == "presence" && st.Type() == typ && st.From() == from.String()
	}
}

func TestCrossNodePresenceRosterCarbons(t *testing.T) {
	cl := newCluster(t, 3)
	n1, n2, n3 := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	n1.AddUser(t, "alice", "pw")
	n1.AddUser(t, "bob", "pw")
	alice := n1.Client(t, "alice", "pw", "home")
	work := n3.Client(t, "alice", "pw", "work")
	bob := n2.Client(t, "bob", "pw", "phone")
	alicePushes, workPushes, bobPushes := pushes(t, alice), pushes(t, work), pushes(t, bob)
	for _, c := range []*client.Client{alice, work, bob} {
		rosterOf(t, c) // an interested resource (RFC 6121 §2.1.6)
		if _, err := c.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(stanza.TypeSet, "", "", carbons.Enable())); err != nil {
			t.Fatal(err)
		}
		online(t, c)
	}
	for _, c := range []*client.Client{alice, work, bob} {
		cl.visible(t, c.JID(), true)
		xmpptest.Eventually(t, c.JID().String()+"'s flags everywhere", func() bool {
			for _, n := range cl.nodes {
				s := n.App.Cluster().Directory().Get(c.JID())
				if s == nil || !s.Flag("roster") || !s.Flag("carbons") {
					return false
				}
			}
			return true
		})
	}
	aliceBare, bobBare := alice.JID().Bare(), bob.JID().Bare()

	// Subscription across nodes: the request reaches bob on node 2, the
	// roster pushes reach both of alice's resources (nodes 1 and 3).
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence", "to", bobBare.String(), "type", stanza.TypeSubscribe))
	xmpptest.Expect(t, bob, "alice's subscription request", isPresence(stanza.TypeSubscribe, aliceBare))
	expectPush(t, alicePushes, "alice/home", bobBare, xroster.SubNone, xroster.AskSub)
	expectPush(t, workPushes, "alice/work", bobBare, xroster.SubNone, xroster.AskSub)
	xmpptest.Send(t, bob, stanza.New(stanza.NSClient, "presence", "to", aliceBare.String(), "type", stanza.TypeSubscribed))
	expectPush(t, bobPushes, "bob", aliceBare, xroster.SubFrom, "")
	expectPush(t, alicePushes, "alice/home", bobBare, xroster.SubTo, "")
	expectPush(t, workPushes, "alice/work", bobBare, xroster.SubTo, "")
	// RFC 6121 §3.1.6: bob's current presence follows the approval.
	xmpptest.Expect(t, alice, "bob's presence after the approval", isPresence("", bob.JID()))
	xmpptest.Expect(t, work, "bob's presence after the approval, other node", isPresence("", bob.JID()))
	// Node 2 wrote alice's roster; node 1 and node 3 must not answer from
	// a stale cache.
	if it := rosterOf(t, alice)[bobBare]; it.Subscription != xroster.SubTo {
		t.Errorf("alice's roster on node 1: bob is %q, want to", it.Subscription)
	}
	if it := rosterOf(t, work)[bobBare]; it.Subscription != xroster.SubTo {
		t.Errorf("alice's roster on node 3: bob is %q, want to", it.Subscription)
	}
	// And back: alice approves bob on node 1.
	xmpptest.Send(t, bob, stanza.New(stanza.NSClient, "presence", "to", aliceBare.String(), "type", stanza.TypeSubscribe))
	xmpptest.Expect(t, alice, "bob's request", isPresence(stanza.TypeSubscribe, bobBare))
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence", "to", bobBare.String(), "type", stanza.TypeSubscribed))
	expectPush(t, bobPushes, "bob", aliceBare, xroster.SubBoth, "")
	expectPush(t, workPushes, "alice/work", bobBare, xroster.SubBoth, "")
	xmpptest.Expect(t, bob, "alice/home's presence after the approval", isPresence("", alice.JID()))
	xmpptest.Expect(t, bob, "alice/work's presence after the approval", isPresence("", work.JID()))

	// Presence broadcasts reach contacts on every node.
	away := stanza.New(stanza.NSClient, "presence")
	away.Append(stanza.New(stanza.NSClient, "show").SetText("away"))
	xmpptest.Send(t, bob, away)
	for _, c := range []*client.Client{alice, work} {
		xmpptest.Expect(t, c, "bob's away", func(st *stanza.Element) bool {
			return isPresence("", bob.JID())(st) && st.ChildText(stanza.NSClient, "show") == "away"
		})
	}

	// Carbons across nodes: a message bob sends alice/home is copied to
	// alice/work on node 3; what alice/work sends is copied to alice/home.
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, alice.JID().String(), "to home"))
	xmpptest.Expect(t, alice, "the message", isMessage("to home"))
	xmpptest.Expect(t, work, "the received carbon", isCarbon(carbons.Received, "to home"))
	xmpptest.Send(t, work, stanza.NewMessage(stanza.TypeChat, bob.JID().String(), "from work"))
	xmpptest.Expect(t, bob, "the message", isMessage("from work"))
	xmpptest.Expect(t, alice, "the sent carbon", isCarbon(carbons.Sent, "from work"))

	// Logging out on node 3 is seen on node 2 as unavailable presence.
	work.Close()
	xmpptest.Expect(t, bob, "alice/work's unavailable", isPresence(stanza.TypeUnavailable, work.JID()))
	cl.gone(t, work.JID())
}

// isCarbon matches a carbon copy of the given direction of a message
// with body.
func isCarbon(d carbons.Direction, body string) func(*stanza.Element) bool {
	return func(st *stanza.Element) bool {
		if st.Name.Local != "message" {
			return false
		}
		for _, w := range st.Elements() {
			if w.Name.Space != carbons.NS {
				continue
			}
			fw := w.FirstElement()
			if fw == nil {
				return false
			}
			inner := fw.FirstElement()
			return inner != nil && w.Name.Local == d.String() && inner.ChildText(stanza.NSClient, "body") == body
		}
		return false
	}
}
