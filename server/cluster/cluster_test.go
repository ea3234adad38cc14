package cluster_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/storage/postgres/pgtest"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// natsEnv names the environment variable holding the URL of a NATS
// server with JetStream; the cluster tests skip without it.
const natsEnv = "PARLEY_TEST_NATS"

// testCluster is n in-process nodes sharing a fresh PostgreSQL database
// and JetStream buckets of their own, each node's listeners on its own
// loopback address.
type testCluster struct {
	nodes []*xmpptest.Server
	name  string
	url   string
	db    string
	ttl   time.Duration
	opts  []xmpptest.Option
	admin bool // the nodes run the live administration (App.Admin)
}

func newCluster(t testing.TB, n int, opts ...xmpptest.Option) *testCluster {
	t.Helper()
	return newClusterWith(t, n, false, opts...)
}

func newClusterWith(t testing.TB, n int, admin bool, opts ...xmpptest.Option) *testCluster {
	t.Helper()
	url := os.Getenv(natsEnv)
	if url == "" {
		t.Skipf("%s not set", natsEnv)
	}
	db := pgtest.Database(t)
	var b [4]byte
	rand.Read(b[:])
	c := &testCluster{name: "parleytest_" + hex.EncodeToString(b[:]), url: url, db: db, ttl: 3 * time.Second, opts: opts, admin: admin}
	// Registered first, so it runs after every node stopped.
	t.Cleanup(func() { c.removeBuckets(t) })
	for i := range n {
		c.start(t, i)
	}
	return c
}

// start starts node i (again, after a kill).
func (c *testCluster) start(t testing.TB, i int) *xmpptest.Server {
	t.Helper()
	addr := "127.0.0." + strconv.Itoa(i+1) + ":0"
	newServer := xmpptest.NewServer
	if c.admin {
		newServer = func(t testing.TB, opts ...xmpptest.Option) *xmpptest.Server {
			return xmpptest.NewServerWithAdmin(t, nil, app.AdminOptions{}, opts...)
		}
	}
	s := newServer(t, append([]xmpptest.Option{func(cfg *config.Config) {
		cfg.Storage = config.Storage{Kind: config.StoragePostgres, URL: c.db}
		cfg.Listeners = []config.Listener{{Type: config.ListenerC2S, Address: addr}}
		cfg.Cluster.Enabled = true
		cfg.Cluster.Node = "node" + strconv.Itoa(i+1)
		cfg.Cluster.Name = c.name
		cfg.Cluster.NATS = []string{c.url}
		cfg.Cluster.NodeTTL = c.ttl
	}}, c.opts...)...)
	for len(c.nodes) <= i {
		c.nodes = append(c.nodes, nil)
	}
	c.nodes[i] = s
	return s
}

func (c *testCluster) removeBuckets(t testing.TB) {
	nc, err := nats.Connect(c.url)
	if err != nil {
		t.Errorf("connecting to NATS to remove the buckets: %v", err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Error(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, b := range []string{c.name + "_sessions", c.name + "_nodes", c.name + "_components", c.name + "_rooms"} {
		if err := js.DeleteKeyValue(ctx, b); err != nil {
			t.Errorf("removing bucket %s: %v", b, err)
		}
	}
	// Stream management across nodes (resume.go), when a node made them.
	if err := js.DeleteKeyValue(ctx, c.name+"_resume"); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Errorf("removing the resume bucket: %v", err)
	}
	if err := js.DeleteStream(ctx, c.name+"_smq"); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("removing the journal: %v", err)
	}
}

// visible waits until every node's directory has the session full,
// available or not as want.
func (c *testCluster) visible(t testing.TB, full jid.JID, available bool) {
	t.Helper()
	for i, s := range c.nodes {
		if s == nil {
			continue
		}
		dir := s.App.Cluster().Directory()
		xmpptest.Eventually(t, fmt.Sprintf("node%d sees %s (available %v)", i+1, full, available), func() bool {
			got := dir.Get(full)
			return got != nil && got.Available() == available
		})
	}
}

// gone waits until no node's directory has the session full.
func (c *testCluster) gone(t *testing.T, full jid.JID) {
	t.Helper()
	for i, s := range c.nodes {
		if s == nil {
			continue
		}
		dir := s.App.Cluster().Directory()
		xmpptest.Eventually(t, fmt.Sprintf("node%d forgets %s", i+1, full), func() bool { return dir.Get(full) == nil })
	}
}

// pair starts two nodes, with alice logged in on the first (home) and
// bob on the second (phone).
func pair(t *testing.T, opts ...xmpptest.Option) (cl *testCluster, n1, n2 *xmpptest.Server, alice, bob *client.Client) {
	t.Helper()
	cl = newCluster(t, 2, opts...)
	n1, n2 = cl.nodes[0], cl.nodes[1]
	n1.AddUser(t, "alice", "pw")
	n1.AddUser(t, "bob", "pw")
	return cl, n1, n2, n1.Client(t, "alice", "pw", "home"), n2.Client(t, "bob", "pw", "phone")
}

func presence() *stanza.Element { return stanza.New(stanza.NSClient, "presence") }

func online(t *testing.T, c *client.Client) {
	t.Helper()
	xmpptest.Send(t, c, presence())
}

func isMessage(body string) func(*stanza.Element) bool {
	return func(st *stanza.Element) bool {
		return st.Name.Local == "message" && st.ChildText("", "body") == body
	}
}

func TestCrossNodeChat(t *testing.T) {
	cl := newCluster(t, 3)
	n1, n2, n3 := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	n1.AddUser(t, "alice", "pw")
	n1.AddUser(t, "bob", "pw")
	alice := n1.Client(t, "alice", "pw", "home")
	bob := n2.Client(t, "bob", "pw", "phone")
	// Every node accepts every user: bob's second resource on node 3.
	bob3 := n3.Client(t, "bob", "pw", "desk")
	cl.visible(t, bob.JID(), false)
	cl.visible(t, bob3.JID(), false)
	// Each node lists the three, with their sessions.
	xmpptest.Eventually(t, "node1 lists every node's sessions", func() bool {
		want := map[string]int{"node1": 1, "node2": 1, "node3": 1}
		for _, n := range n1.App.Cluster().Nodes() {
			if !n.Alive || want[n.Name] != n.Sessions || n.Self != (n.Name == "node1") {
				return false
			}
			delete(want, n.Name)
		}
		return len(want) == 0
	})

	// To a full JID on another node, in order.
	for i := range 50 {
		xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, bob.JID().String(), "m"+strconv.Itoa(i)))
	}
	for i := range 50 {
		xmpptest.Expect(t, bob, "message m"+strconv.Itoa(i), isMessage("m"+strconv.Itoa(i)))
	}
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, alice.JID().String(), "hello alice"))
	xmpptest.Expect(t, alice, "bob's answer", isMessage("hello alice"))

	// To the bare JID: RFC 6121 §8.5.2.1.1 across nodes, the highest
	// non-negative priority wins, ties get it all.
	prio := func(c *client.Client, p int) {
		pr := presence()
		pr.Append(stanza.New(stanza.NSClient, "priority").SetText(strconv.Itoa(p)))
		xmpptest.Send(t, c, pr)
	}
	prio(bob, 5)
	prio(bob3, 1)
	cl.visible(t, bob.JID(), true)
	cl.visible(t, bob3.JID(), true)
	xmpptest.Eventually(t, "node1 sees bob/phone's priority", func() bool {
		return n1.App.Cluster().Directory().Get(bob.JID()).Priority() == 5
	})
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, "bob@localhost", "to the best"))
	xmpptest.Expect(t, bob, "bare message at priority 5", isMessage("to the best"))
	prio(bob3, 5)
	xmpptest.Eventually(t, "node1 sees bob/desk's priority", func() bool {
		return n1.App.Cluster().Directory().Get(bob3.JID()).Priority() == 5
	})
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, "bob@localhost", "to both"))
	xmpptest.Expect(t, bob, "tied bare message, phone", isMessage("to both"))
	xmpptest.Expect(t, bob3, "tied bare message, desk", isMessage("to both"))
	prio(bob, -1)
	prio(bob3, -1)
	xmpptest.Eventually(t, "node1 sees negative priorities", func() bool {
		d := n1.App.Cluster().Directory()
		return d.Get(bob.JID()).Priority() == -1 && d.Get(bob3.JID()).Priority() == -1
	})
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, "bob@localhost", "for later"))
	xmpptest.Never(t, bob, "no message at negative priority", 300*time.Millisecond, isMessage("for later"))
	xmpptest.Sync(t, alice)

	// Offline storage when no resource anywhere takes it: bob logs out
	// everywhere and in again on node 1, where the stored message waits.
	bob.Close()
	bob3.Close()
	cl.gone(t, bob.JID())
	cl.gone(t, bob3.JID())
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, "bob@localhost", "while away"))
	xmpptest.Sync(t, alice)
	again := n1.Client(t, "bob", "pw", "again")
	online(t, again)
	xmpptest.Expect(t, again, "the message negative priorities left", isMessage("for later"))
	xmpptest.Expect(t, again, "the offline message", isMessage("while away"))
}
