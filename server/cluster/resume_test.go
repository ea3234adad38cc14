package cluster_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

// loginSM logs user in on the process's node with stream management.
func (p *process) loginSM(t *testing.T, user, resource string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{JID: jid.MustParse(user), Password: "pw", Address: p.addr,
		TLS: &tls.Config{InsecureSkipVerify: true}, Resource: resource, StreamManagement: true})
	if err != nil {
		t.Fatalf("login %s on node3: %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// journaled waits until the journal of the session id holds at least n
// messages.
func (c *testCluster) journaled(t *testing.T, id string, n int) {
	t.Helper()
	nc, err := nats.Connect(c.url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	subj := c.name + ".smq." + id
	xmpptest.Eventually(t, "the messages journaled", func() bool {
		s, err := js.Stream(context.Background(), c.name+"_smq")
		if err != nil {
			return false
		}
		info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subj))
		return err == nil && info.State.Subjects[subj] >= uint64(n)
	})
}

// sendAll sends the messages prefix0..prefix(n-1) from a to to.
func sendAll(t *testing.T, a *client.Client, to jid.JID, prefix string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		xmpptest.Send(t, a, stanza.NewMessage(stanza.TypeChat, to.String(), prefix+strconv.Itoa(i)))
	}
}

// expectExactly reads from got the bodies want, in order, then checks,
// with a marker sent after them, that nothing else came.
func expectExactly(t *testing.T, got <-chan string, want []string, marker func() string) {
	t.Helper()
	for _, w := range want {
		select {
		case b := <-got:
			if b != w {
				t.Fatalf("got %q, want %q", b, w)
			}
		case <-time.After(xmpptest.Wait):
			t.Fatalf("did not get %q", w)
		}
	}
	m := marker()
	select {
	case b := <-got:
		if b != m {
			t.Fatalf("got %q after the resent messages, want only the marker %q", b, m)
		}
	case <-time.After(xmpptest.Wait):
		t.Fatalf("did not get the marker %q", m)
	}
}

// A client with stream management on node3 resumes on node2 after node3
// was killed with SIGKILL: it gets exactly the messages it had not
// received (from the journal), none of those it had, and the session
// goes on on node2.
func TestResumeAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	cl := newCluster(t, 2)
	n1, n2 := cl.nodes[0], cl.nodes[1]
	n1.AddUser(t, "alice", "pw")
	n1.AddUser(t, "bob", "pw")
	p := cl.startProcess(t)
	acfg := n1.ClientConfig(t, "alice", "pw", "home")
	acfg.StreamManagement = true
	alice := n1.Dial(t, acfg)
	bob := p.loginSM(t, "bob@localhost", "phone")
	online(t, alice)
	online(t, bob)
	cl.visible(t, bob.JID(), true)
	_, id := bob.StreamManagement()
	if id == "" {
		t.Fatal("bob's session is not resumable")
	}
	got := collect(bob)
	// Received, and acknowledged (the server asks every 5 stanzas).
	sendAll(t, alice, bob.JID(), "m", 0, 10)
	expectExactly(t, got, []string{"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9"}, func() string {
		sendAll(t, alice, bob.JID(), "m", 10, 2) // received, not acknowledged
		return "m10"
	})
	if b := <-got; b != "m11" {
		t.Fatalf("got %q, want m11", b)
	}
	// The connection is lost; node3 keeps the session and journals what
	// it is sent meanwhile.
	bob.Abort()
	sendAll(t, alice, bob.JID(), "q", 0, 5)
	// Acknowledged by node1 once node3 confirmed them: journaled.
	acknowledged(t, alice)
	cl.journaled(t, id, 5)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p.done <- nil // for the cleanup
	for range got {
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	again, err := bob.ResumeAt(ctx, n2.Addr())
	if err != nil {
		t.Fatalf("resuming on node2: %v", err)
	}
	t.Cleanup(func() { again.Close() })
	if again.JID() != bob.JID() {
		t.Fatalf("resumed as %s, want %s", again.JID(), bob.JID())
	}
	// node2 routes to its own session of bob/phone only, not also to
	// node3's (still in its directory until node3's lease expires).
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n := 0
		for _, s := range n2.App.Cluster().Directory().Sessions(bob.JID().Bare()) {
			if s.JID() == bob.JID() {
				n++
			}
		}
		if n == 1 {
			break
		}
		if !nodeAlive(n2, "node3") {
			t.Log("node3's lease expired on node2 before its entry was replaced: not checked")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node2 has %d sessions of %s", n, bob.JID())
		}
	}
	got = collect(again)
	expectExactly(t, got, []string{"q0", "q1", "q2", "q3", "q4"}, func() string {
		sendAll(t, alice, bob.JID(), "after", 0, 1)
		return "after0"
	})
	// node2 holds the session now, for every node.
	xmpptest.Eventually(t, "node1 routes to bob on node2", func() bool {
		s := n1.App.Cluster().Directory().Get(bob.JID())
		return s != nil && s.Remote()
	})
	if s := n2.App.Cluster().Directory().Get(bob.JID()); s == nil || s.Remote() {
		t.Fatalf("node2 does not hold %s", bob.JID())
	}
}

// A client resumes on node2 the session it had on node1, alive: node1
// hands it over (what the client did not receive, its state) and forgets
// it without telling its contacts it went offline.
func TestResumeHandover(t *testing.T) {
	cl, n1, n2, _, bob := pair(t)
	cfg := n1.ClientConfig(t, "alice", "pw", "sm")
	cfg.StreamManagement = true
	cfg.TLS = &tls.Config{InsecureSkipVerify: true} // node2's certificate too
	alice := n1.Dial(t, cfg)
	online(t, alice)
	online(t, bob)
	subscribe(t, bob, alice)
	xmpptest.Expect(t, bob, "alice's presence", isPresence("", alice.JID()))
	cl.visible(t, alice.JID(), true)
	got := collect(alice)
	sendAll(t, bob, alice.JID(), "m", 0, 7)
	expectExactly(t, got, []string{"m0", "m1", "m2", "m3", "m4", "m5"}, func() string { return "m6" })
	alice.Abort()
	for range got {
	}
	sendAll(t, bob, alice.JID(), "q", 0, 3)
	xmpptest.Sync(t, bob)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	again, err := alice.ResumeAt(ctx, n2.Addr())
	if err != nil {
		t.Fatalf("resuming on node2: %v", err)
	}
	t.Cleanup(func() { again.Close() })
	got = collect(again)
	expectExactly(t, got, []string{"q0", "q1", "q2"}, func() string {
		sendAll(t, bob, alice.JID(), "after", 0, 1)
		return "after0"
	})
	// node1's directory learns of the session on node2 from node2's
	// announcement, which may come after the first messages node1 sent
	// through the handover.
	xmpptest.Eventually(t, "node1 routes to alice's available session on node2", func() bool {
		s := n1.App.Cluster().Directory().Get(alice.JID())
		return s != nil && s.Remote() && s.Available()
	})
	// node2 routes to its own session only, not also to node1's old one.
	xmpptest.Eventually(t, "node2 has one session of alice/sm", func() bool {
		n := 0
		for _, s := range n2.App.Cluster().Directory().Sessions(alice.JID().Bare()) {
			if s.JID() == alice.JID() {
				n++
			}
		}
		return n == 1
	})
	// No unavailable presence: the session went on.
	xmpptest.Sync(t, bob)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		st, err := bob.Recv(ctx)
		cancel()
		if err != nil {
			break
		}
		if isPresence(stanza.TypeUnavailable, alice.JID())(st) {
			t.Fatalf("bob got alice's unavailable presence: %s", st.Bytes())
		}
	}
}

// A node that drains sends its client with stream management to the
// other node (<see-other-host/>), where it resumes its session: node1
// hands it over, its contact sees no unavailable presence, and no message
// sent to it during the drain is lost.
func TestDrainResume(t *testing.T) {
	cl, n1, n2, _, bob := pair(t)
	cfg := n1.ClientConfig(t, "alice", "pw", "sm")
	cfg.StreamManagement = true
	cfg.TLS = &tls.Config{InsecureSkipVerify: true} // node2's certificate too
	alice := n1.Dial(t, cfg)
	online(t, alice)
	online(t, bob)
	subscribe(t, bob, alice)
	xmpptest.Expect(t, bob, "alice's presence", isPresence("", alice.JID()))
	cl.visible(t, alice.JID(), true)
	xmpptest.Eventually(t, "node1 knows node2's client address", func() bool {
		return n1.App.Cluster().OtherHost() == n2.Addr()
	})
	got := collect(alice)
	const total = 30
	sendAll(t, bob, alice.JID(), "m", 0, total/3)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		n1.App.Stop(ctx)
	}()
	sendAll(t, bob, alice.JID(), "m", total/3, total-total/3)
	select {
	case <-alice.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("alice's stream did not end")
	}
	var se *stream.Error
	if err := alice.Err(); !errors.As(err, &se) || se.Condition != stream.SeeOtherHost || se.OtherHost != n2.Addr() {
		t.Fatalf("alice's stream ended with %v, want <see-other-host/> to %s", err, n2.Addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	again, err := alice.ResumeAt(ctx, se.OtherHost)
	if err != nil {
		t.Fatalf("resuming on node2: %v", err)
	}
	t.Cleanup(func() { again.Close() })
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("node1 did not stop")
	}
	if s := n2.App.Cluster().Directory().Get(alice.JID()); s == nil || s.Remote() || !s.Available() {
		t.Fatalf("node2 does not hold alice's available session: %v", s)
	}
	seen := map[string]int{}
	for b := range got {
		seen[b]++
	}
	later := collect(again)
	missing := func() int {
		n := 0
		for i := range total {
			if seen["m"+strconv.Itoa(i)] == 0 {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(xmpptest.Wait); missing() > 0 && time.Now().Before(deadline); {
		select {
		case b := <-later:
			seen[b]++
		case <-time.After(100 * time.Millisecond):
		}
	}
	if missing() > 0 {
		// Routed while the session moved: stored, for the next login.
		fresh := n2.Client(t, "alice", "pw", "later")
		online(t, fresh)
		for b := range collectFor(fresh, 2*time.Second) {
			seen[b]++
		}
	}
	if n := missing(); n > 0 {
		t.Fatalf("%d of %d messages lost: %v", n, total, seen)
	}
	// The session went on: bob never saw alice/sm go offline.
	xmpptest.Sync(t, bob)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		st, err := bob.Recv(ctx)
		cancel()
		if err != nil {
			break
		}
		if isPresence(stanza.TypeUnavailable, alice.JID())(st) {
			t.Fatalf("bob got alice's unavailable presence: %s", st.Bytes())
		}
	}
}

// collectFor is collect for d.
func collectFor(c *client.Client, d time.Duration) <-chan string {
	out := make(chan string, 1024)
	go func() {
		defer close(out)
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		for {
			st, err := c.Recv(ctx)
			if err != nil {
				return
			}
			if b := st.ChildText("", "body"); st.Name.Local == "message" && b != "" {
				out <- b
			}
		}
	}()
	return out
}

// A session of a node killed with SIGKILL that its client never resumes:
// once its resumption time is over, a surviving node routes what its
// journal holds to the account, here to offline storage, where the
// client finds it at its next login.
func TestUnresumedAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	cl := newCluster(t, 2)
	n1, n2 := cl.nodes[0], cl.nodes[1]
	n1.AddUser(t, "alice", "pw")
	n1.AddUser(t, "bob", "pw")
	p := cl.startProcess(t, "stream_management: {resume_timeout: 4s}")
	alice := n1.Client(t, "alice", "pw", "home")
	bob := p.loginSM(t, "bob@localhost", "phone")
	online(t, alice)
	online(t, bob)
	cl.visible(t, bob.JID(), true)
	_, id := bob.StreamManagement()
	bob.Abort()
	sendAll(t, alice, bob.JID(), "q", 0, 3)
	xmpptest.Sync(t, alice)
	cl.journaled(t, id, 3)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p.done <- nil // for the cleanup
	cl.gone(t, bob.JID())
	// The resumption time (4s from the last write of its state) is over
	// by the time the directory healed and a little more.
	nc, err := nats.Connect(cl.url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(context.Background(), cl.name+"_resume")
	if err != nil {
		t.Fatal(err)
	}
	xmpptest.Eventually(t, "the resume state ended", func() bool {
		_, err := kv.Get(context.Background(), id)
		return err != nil
	})
	// The journal is purged once its messages were routed.
	subj := cl.name + ".smq." + id
	xmpptest.Eventually(t, "the journal purged", func() bool {
		s, err := js.Stream(context.Background(), cl.name+"_smq")
		if err != nil {
			return false
		}
		info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subj))
		return err == nil && info.State.Subjects[subj] == 0
	})
	later := n2.Client(t, "bob", "pw", "laptop")
	online(t, later)
	for _, w := range []string{"q0", "q1", "q2"} {
		st := xmpptest.Expect(t, later, w, isMessage(w))
		if st.Child("urn:xmpp:delay", "delay") == nil {
			t.Errorf("%s without a delay stamp", w)
		}
	}
	// Resuming now fails as XEP-0198 says.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := bob.ResumeAt(ctx, n2.Addr()); err == nil {
		t.Fatal("a session ended for good was resumed")
	}
}

// nodeAlive reports whether s lists node as alive.
func nodeAlive(s *xmpptest.Server, node string) bool {
	for _, info := range s.App.Cluster().Nodes() {
		if info.Name == node {
			return info.Alive
		}
	}
	return false
}

// acknowledged waits until the server acknowledged everything c sent
// (XEP-0198).
func acknowledged(t *testing.T, c *client.Client) {
	t.Helper()
	xmpptest.Eventually(t, "the server's acknowledgement", func() bool {
		if c.Unacked() == 0 {
			return true
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c.RequestAck(ctx)
		time.Sleep(20 * time.Millisecond)
		return c.Unacked() == 0
	})
}
