package cluster_test

import (
	"context"
	"encoding/xml"
	"errors"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

func TestResourceConflictAcrossNodes(t *testing.T) {
	cl := newCluster(t, 3)
	n1, n2, n3 := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	n1.AddUser(t, "alice", "pw")
	n1.AddUser(t, "bob", "pw")
	old := n1.Client(t, "bob", "pw", "phone")
	online(t, old)
	cl.visible(t, old.JID(), true)
	alice := n3.Client(t, "alice", "pw", "home")

	// The same full JID bound on node 2: the new session wins (RFC 6120
	// §7.7.2.2), the one on node 1 ends with <conflict/>.
	cur := n2.Client(t, "bob", "pw", "phone")
	select {
	case <-old.Done():
	case <-xmpptest.Context(t, xmpptest.Wait).Done():
		t.Fatal("the session on node 1 was not ended")
	}
	var se *stream.Error
	if err := old.Err(); !errors.As(err, &se) || se.Condition != stream.Conflict {
		t.Fatalf("the session on node 1 ended with %v, want <conflict/>", err)
	}
	n1.WaitSessionEnded(t, old.JID())
	for i, n := range cl.nodes {
		dir := n.App.Cluster().Directory()
		xmpptest.Eventually(t, "the directory names node 2", func() bool {
			s := dir.Get(cur.JID())
			if i == 1 {
				return s != nil && n.App.Router().Sessions().Get(cur.JID()) == s
			}
			return s != nil && s.Conn().RemoteAddr() == "cluster node node2"
		})
	}
	// Stanzas to the full JID reach the new session.
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, cur.JID().String(), "to the winner"))
	xmpptest.Expect(t, cur, "the message", isMessage("to the winner"))
	if err := cur.Send(context.Background(), stanza.New(stanza.NSClient, "presence")); err != nil {
		t.Fatalf("the new session was ended too: %v", err)
	}
	xmpptest.Sync(t, cur)
}

func TestServerIQAcrossNodes(t *testing.T) {
	cl := newCluster(t, 2)
	n1, n2 := cl.nodes[0], cl.nodes[1]
	n1.AddUser(t, "alice", "pw")
	alice := n1.Client(t, "alice", "pw", "home")
	alice.Handle(stanza.KindIQ, xml.Name{Space: "urn:xmpp:ping", Local: "ping"}, func(iq *stanza.Element) {
		alice.Send(context.Background(), stanza.Result(iq, nil))
	})
	cl.visible(t, alice.JID(), false)
	// Node 2 asks alice, on node 1: her answer reaches node 1's router,
	// which hands it back to node 2.
	iq := stanza.NewIQ(stanza.TypeGet, "", alice.JID().String(), stanza.New("urn:xmpp:ping", "ping"))
	iq.Set("from", "localhost")
	res, err := n2.App.Router().SendIQ(xmpptest.Context(t, xmpptest.Wait), iq)
	if err != nil {
		t.Fatalf("server IQ to a session on another node: %v", err)
	}
	if res.Type() != stanza.TypeResult || res.From() != alice.JID().String() {
		t.Errorf("answer %s", res)
	}
}

func TestBlockListAcrossNodes(t *testing.T) {
	const nsBlocking = "urn:xmpp:blocking"
	cl := newCluster(t, 3)
	n1, n2, n3 := cl.nodes[0], cl.nodes[1], cl.nodes[2]
	n1.AddUser(t, "alice", "pw")
	n1.AddUser(t, "bob", "pw")
	home := n1.Client(t, "alice", "pw", "home")
	work := n3.Client(t, "alice", "pw", "work")
	bob := n2.Client(t, "bob", "pw", "phone")
	blockPushes := make(chan *stanza.Element, 4)
	work.Handle(stanza.KindIQ, xml.Name{Space: nsBlocking, Local: "block"}, func(iq *stanza.Element) {
		blockPushes <- iq
		work.Send(context.Background(), stanza.Result(iq, nil))
	})
	if _, err := work.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(stanza.TypeGet, "", "", stanza.New(nsBlocking, "blocklist"))); err != nil {
		t.Fatal(err)
	}
	online(t, home)
	cl.visible(t, home.JID(), true)
	xmpptest.Eventually(t, "node1 sees alice/work's block-list flag", func() bool {
		s := n1.App.Cluster().Directory().Get(work.JID())
		return s != nil && s.Flag("blocking")
	})
	// Node 2 reads (and caches) alice's empty block list.
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, home.JID().String(), "before"))
	xmpptest.Expect(t, home, "the message before the block", isMessage("before"))
	// Blocked on node 1: the push reaches node 3, node 2 drops its copy.
	block := stanza.New(nsBlocking, "block").Append(stanza.New(nsBlocking, "item", "jid", "bob@localhost"))
	if _, err := home.SendIQ(xmpptest.Context(t, xmpptest.Wait), stanza.NewIQ(stanza.TypeSet, "", "", block)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-blockPushes:
	case <-xmpptest.Context(t, xmpptest.Wait).Done():
		t.Fatal("no block push on node 3")
	}
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, home.JID().String(), "after"))
	xmpptest.Expect(t, bob, "the refusal", func(st *stanza.Element) bool {
		return st.Name.Local == "message" && st.Type() == stanza.TypeError
	})
	xmpptest.Sync(t, home)
	xmpptest.Never(t, home, "the blocked message", 200*time.Millisecond, isMessage("after"))
}
