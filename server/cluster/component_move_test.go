package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/admin"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// expect reads the component's stream until an element matches, skipping
// the others (advertisements, presence).
func (p *extComponent) expect(what string, match func(*stanza.Element) bool) *stanza.Element {
	p.t.Helper()
	for {
		el := p.next()
		if match(el) {
			return el
		}
		p.t.Logf("component, waiting for %s, skips %s", what, el)
	}
}

// A component granted the users' presence (XEP-0356 §7) connected to
// node1 gets, when it connects, the presence of a user already online on
// node2, then every later presence broadcast of users on either node.
// Every node's status (`parley status`) says where it is connected.
func TestComponentPrivilegedPresenceAcrossNodes(t *testing.T) {
	cl := newClusterWith(t, 2, true, withComponent, func(c *config.Config) {
		c.Components[0].Privileges = config.Privileges{Roster: "none", Message: "none", Presence: config.PresenceManaged}
	})
	n1, n2 := cl.nodes[0], cl.nodes[1]
	n1.AddUser(t, "alice", "pw")
	n1.AddUser(t, "bob", "pw")
	bob := n2.Client(t, "bob", "pw", "phone")
	online(t, bob)
	cl.visible(t, bob.JID(), true)

	gw := attachComponent(t, n1.App.Addrs(config.ListenerComponent)[0].String())
	isPres := func(from, show string) func(*stanza.Element) bool {
		return func(st *stanza.Element) bool {
			return st.Name.Local == "presence" && st.Get("from") == from && st.Get("to") == compDomain && st.ChildText("", "show") == show
		}
	}
	gw.expect("bob's presence on connect", isPres(bob.JID().String(), ""))
	xmpptest.Eventually(t, "node2 routes the component to node1", func() bool {
		return n2.App.Cluster().ComponentNode(compDomain) == "node1"
	})
	// node1 records its component once its entry is written, which
	// node2 may see first.
	for i, n := range cl.nodes {
		var st admin.Status
		xmpptest.Eventually(t, fmt.Sprintf("node%d's status says node1 holds the component", i+1), func() bool {
			st = n.App.Admin().Status(context.Background())
			return len(st.Components) == 1 && st.Components[0].Node == "node1"
		})
		if c := st.Components[0]; c.Domain != compDomain || c.Connected != (i == 0) {
			t.Errorf("node%d's status lists the components %+v", i+1, st.Components)
		}
		held := map[string][]string{}
		for _, cn := range st.Cluster {
			held[cn.Name] = cn.Components
		}
		if len(held) != 2 || !slices.Equal(held["node1"], []string{compDomain}) || len(held["node2"]) != 0 {
			t.Errorf("node%d's status lists the nodes' components %v", i+1, held)
		}
	}

	// A broadcast on node2, and one on node1.
	away := presence()
	away.Append(stanza.New(stanza.NSClient, "show").SetText("away"))
	xmpptest.Send(t, bob, away)
	gw.expect("bob away, from node2", isPres(bob.JID().String(), "away"))
	alice := n1.Client(t, "alice", "pw", "home")
	online(t, alice)
	gw.expect("alice online, on node1", isPres(alice.JID().String(), ""))
	// bob leaves node2: his unavailable presence too.
	bob.Close()
	gw.expect("bob unavailable", func(st *stanza.Element) bool {
		return st.Name.Local == "presence" && st.Get("from") == bob.JID().String() && st.Type() == stanza.TypeUnavailable
	})
}

// A component that disconnects from node1 and connects to node2 within
// the grace period finds what was sent to it meanwhile through either
// node: node2 keeps what its users send while the component is away
// (the grace period starting when the component left node1), and node1
// sends what it kept to node2 when the component's entry names node2.
func TestComponentMovesNodes(t *testing.T) {
	const grace = 4 * time.Second
	cl := newCluster(t, 2, withComponent, func(c *config.Config) { c.Limits.ComponentGrace = grace })
	n1, n2 := cl.nodes[0], cl.nodes[1]
	started := time.Now()
	n1.AddUser(t, "alice", "pw")
	n1.AddUser(t, "bob", "pw")
	alice := n1.Client(t, "alice", "pw", "home")
	bob := n2.Client(t, "bob", "pw", "phone")

	gw := attachComponent(t, n1.App.Addrs(config.ListenerComponent)[0].String())
	xmpptest.Eventually(t, "node2 routes the component to node1", func() bool {
		return n2.App.Cluster().ComponentNode(compDomain) == "node1"
	})
	// Past node2's grace period after its start: without the
	// component's move, node2 would bounce at once.
	time.Sleep(time.Until(started.Add(grace + 500*time.Millisecond)))

	gw.conn.Write([]byte("</stream:stream>"))
	gw.conn.Close()
	xmpptest.Eventually(t, "node2 forgets the component", func() bool {
		return n2.App.Cluster().ComponentNode(compDomain) == ""
	})
	bot := "bot@" + compDomain
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, bot, "kept on node1"))
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, bot, "kept on node2"))
	xmpptest.Sync(t, alice)
	xmpptest.Sync(t, bob)

	gw = attachComponent(t, n2.App.Addrs(config.ListenerComponent)[0].String())
	got := map[string]string{}
	for range 2 {
		m := gw.expect("a kept message", func(st *stanza.Element) bool { return st.Name.Local == "message" })
		got[m.ChildText("", "body")] = m.Get("from")
	}
	if got["kept on node1"] != alice.JID().String() || got["kept on node2"] != bob.JID().String() {
		t.Fatalf("the component got %v", got)
	}
	xmpptest.Eventually(t, "node1 routes the component to node2", func() bool {
		return n1.App.Cluster().ComponentNode(compDomain) == "node2"
	})
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, bot, "after the move"))
	if m := gw.expect("alice's next message", func(st *stanza.Element) bool { return st.Name.Local == "message" }); m.ChildText("", "body") != "after the move" {
		t.Fatalf("the component got %s", m)
	}
	xmpptest.Never(t, alice, "no bounce", 200*time.Millisecond, func(st *stanza.Element) bool { return st.Type() == stanza.TypeError })
	xmpptest.Never(t, bob, "no bounce", 200*time.Millisecond, func(st *stanza.Element) bool { return st.Type() == stanza.TypeError })
}
