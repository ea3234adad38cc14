package cluster_test

import (
	"context"
	"errors"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

// collect reads c's messages until its stream ends, sending their
// bodies on the returned channel, closed at the end.
func collect(c *client.Client) <-chan string {
	out := make(chan string, 1024)
	go func() {
		defer close(out)
		for {
			st, err := c.Recv(context.Background())
			if err != nil {
				return
			}
			if st.Name.Local == "message" {
				if b := st.ChildText("", "body"); b != "" {
					out <- b
				}
			}
		}
	}()
	return out
}

// A node that stops drains: its client is sent to the other node with
// <see-other-host/>, the other node forgets its sessions at once, and no
// message sent to the client during the drain is lost.
func TestDrainSeeOtherHost(t *testing.T) {
	// The client does not resume its session on node2 (TestDrainResume
	// does): node1 keeps it for cluster.drain_wait, then ends it.
	cl, n1, n2, _, bob := pair(t, func(c *config.Config) { c.Cluster.DrainWait = time.Second })
	// With stream management: what node1 delivered and alice did not
	// acknowledge when it drains goes back to the router, to offline
	// storage (perhaps a second time, as XEP-0198 allows).
	smCfg := n1.ClientConfig(t, "alice", "pw", "sm")
	smCfg.StreamManagement = true
	alice := n1.Dial(t, smCfg)
	online(t, alice)
	online(t, bob)
	subscribe(t, bob, alice)
	xmpptest.Expect(t, bob, "alice's presence", isPresence("", alice.JID()))
	cl.visible(t, alice.JID(), true)
	// node2 advertises its client address in its lease.
	xmpptest.Eventually(t, "node1 knows node2's client address", func() bool {
		return n1.App.Cluster().OtherHost() == n2.Addr()
	})
	got := collect(alice)

	const total = 40
	send := func(i int) {
		xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, alice.JID().Bare().String(), "m"+strconv.Itoa(i)))
	}
	missing := map[string]bool{}
	for i := range total {
		missing["m"+strconv.Itoa(i)] = true
	}
	// The first ones reach alice on node1.
	for i := range total / 4 {
		send(i)
	}
	for len(missing) > total-total/4 {
		select {
		case b := <-got:
			delete(missing, b)
		case <-time.After(xmpptest.Wait):
			t.Fatalf("alice got %d of the first messages on node1", total/4-(len(missing)-(total-total/4)))
		}
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n1.App.Stop(ctx)
	}()
	// Sent while node1 drains: to alice's session there, to node1 after
	// it ended, or straight to offline storage.
	for i := total / 4; i < total; i++ {
		send(i)
	}
	select {
	case <-alice.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("alice's stream did not end")
	}
	var se *stream.Error
	if err := alice.Err(); !errors.As(err, &se) || se.Condition != stream.SeeOtherHost {
		t.Fatalf("alice's stream ended with %v, want <see-other-host/>", err)
	}
	if se.OtherHost != n2.Addr() {
		t.Fatalf("see-other-host names %q, want node2's %q", se.OtherHost, n2.Addr())
	}
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("node1 did not stop")
	}
	// At once, not after the TTL: node2 no longer has alice's session,
	// and bob got her unavailable presence.
	if s := n2.App.Cluster().Directory().Get(alice.JID()); s != nil {
		t.Errorf("node2 still has %s after node1 stopped", alice.JID())
	}
	xmpptest.Expect(t, bob, "alice's unavailable presence", isPresence(stanza.TypeUnavailable, alice.JID()))
	xmpptest.Sync(t, bob)

	// alice follows see-other-host.
	cfg := n2.ClientConfig(t, "alice", "pw", "home")
	cfg.Address = se.OtherHost
	again := n2.Dial(t, cfg)
	for b := range got {
		delete(missing, b)
	}
	before := total - len(missing)
	online(t, again)
	for len(missing) > 0 {
		st := xmpptest.NextMessage(t, again)
		delete(missing, st.ChildText("", "body"))
	}
	t.Logf("%d messages on node1, %d on node2 after the drain", before, total-before)

	// The last node has nowhere to send its clients: <system-shutdown/>.
	xmpptest.Eventually(t, "node2 knows no other live node", func() bool { return n2.App.Cluster().OtherHost() == "" })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n2.App.Stop(ctx)
	<-again.Done()
	if err := again.Err(); !errors.As(err, &se) || se.Condition != stream.SystemShutdown {
		t.Fatalf("the last node ended alice's stream with %v, want <system-shutdown/>", err)
	}
}

// `parley serve` drains on SIGTERM: its client is sent to a live node.
func TestDrainOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	cl := newCluster(t, 2)
	n1, n2 := cl.nodes[0], cl.nodes[1]
	n1.AddUser(t, "bob", "pw")
	p := cl.startProcess(t)
	bob := p.login(t, "bob@localhost", "phone")
	online(t, bob)
	cl.visible(t, bob.JID(), true)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bob.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("bob's stream did not end")
	}
	var se *stream.Error
	if err := bob.Err(); !errors.As(err, &se) || se.Condition != stream.SeeOtherHost {
		t.Fatalf("bob's stream ended with %v, want <see-other-host/>", err)
	}
	if se.OtherHost != n1.Addr() && se.OtherHost != n2.Addr() {
		t.Fatalf("see-other-host names %q, want node1's %q or node2's %q", se.OtherHost, n1.Addr(), n2.Addr())
	}
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err != nil {
			t.Errorf("parley serve after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("parley serve did not stop")
	}
	// Forgotten at once, not after the TTL.
	for i, n := range []*xmpptest.Server{n1, n2} {
		if s := n.App.Cluster().Directory().Get(bob.JID()); s != nil {
			t.Errorf("node%d still has %s after node3 stopped", i+1, bob.JID())
		}
	}
}
