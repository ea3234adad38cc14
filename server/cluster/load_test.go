package cluster_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// tally records the bodies each receiver got, on any of its clients.
type tally struct {
	mu  sync.Mutex
	got map[string]int
}

func (t *tally) follow(c *client.Client) {
	go func() {
		for b := range collect(c) {
			t.mu.Lock()
			t.got[b]++
			t.mu.Unlock()
		}
	}()
}

func (t *tally) count(b string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.got[b]
}

// Senders and receivers with stream management on three nodes; the node
// run as `parley serve` is killed with SIGKILL under traffic. Its clients
// resume on the other nodes. Every message a sender sent and the server
// acknowledged reaches its recipient (live, resumed, or from offline
// storage at a new login), and the directory heals within the TTL.
func TestKillUnderTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	cl := newCluster(t, 2)
	n1, n2 := cl.nodes[0], cl.nodes[1]
	for _, u := range []string{"s1", "s2", "s3", "r1", "r2", "r3"} {
		n1.AddUser(t, u, "pw")
	}
	p := cl.startProcess(t)
	insecure := &tls.Config{InsecureSkipVerify: true}
	dial := func(n *xmpptest.Server, user string) *client.Client {
		cfg := n.ClientConfig(t, user, "pw", "load")
		cfg.StreamManagement, cfg.TLS = true, insecure
		return n.Dial(t, cfg)
	}
	senders := []*client.Client{dial(n1, "s1"), dial(n2, "s2"), p.loginSM(t, "s3@localhost", "load")}
	receivers := []*client.Client{dial(n1, "r1"), dial(n2, "r2"), p.loginSM(t, "r3@localhost", "load")}
	tallies := make([]*tally, len(receivers))
	for i, r := range receivers {
		online(t, r)
		cl.visible(t, r.JID(), true)
		tallies[i] = &tally{got: map[string]int{}}
		tallies[i].follow(r)
	}
	// Where a client of node3 resumes.
	elsewhere := func(i int) string { return []string{n1.Addr(), n2.Addr()}[i%2] }

	var (
		stop   = make(chan struct{})
		wg     sync.WaitGroup
		sentMu sync.Mutex
		sent   = make([][]string, len(receivers)) // per receiver
		final  = make([]*client.Client, len(senders))
	)
	for si, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := s
			defer func() { final[si] = c }()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				for ri, r := range receivers {
					body := fmt.Sprintf("s%d-r%d-%d", si+1, ri+1, k)
					msg := stanza.NewMessage(stanza.TypeChat, r.JID().Bare().String(), body)
					for {
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						err := c.Send(ctx, msg)
						cancel()
						if err == nil {
							break
						}
						// node3 died: resume elsewhere (the client resends
						// what the server had not acknowledged).
						select {
						case <-c.Done():
						case <-time.After(10 * time.Second):
							t.Errorf("sender %d: %v", si+1, err)
							return
						}
						ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
						nc, rerr := c.ResumeAt(ctx, elsewhere(si))
						cancel()
						if rerr != nil {
							t.Errorf("sender %d resuming: %v", si+1, rerr)
							return
						}
						c = nc
					}
					sentMu.Lock()
					sent[ri] = append(sent[ri], body)
					sentMu.Unlock()
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	time.Sleep(time.Second)
	// Each survivor is watched from the kill on, so that the time the
	// directory took to heal is measured, not the time the test looked.
	healed := make([]chan time.Time, 2)
	for i, n := range []*xmpptest.Server{n1, n2} {
		healed[i] = make(chan time.Time, 1)
		go func() {
			for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				for _, info := range n.App.Cluster().Nodes() {
					if info.Name == "node3" && !info.Alive && info.Sessions == 0 {
						healed[i] <- time.Now()
						return
					}
				}
			}
			close(healed[i])
		}()
	}
	killed := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p.done <- nil // for the cleanup
	// node3's receiver resumes elsewhere.
	select {
	case <-receivers[2].Done():
	case <-time.After(10 * time.Second):
		t.Fatal("r3's stream did not end with node3")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	r3, err := receivers[2].ResumeAt(ctx, elsewhere(1))
	cancel()
	if err != nil {
		t.Fatalf("r3 resuming: %v", err)
	}
	t.Cleanup(func() { r3.Close() })
	tallies[2].follow(r3)
	// The directory heals within the TTL and a sweep (a tenth of it):
	// node3 is dead for the survivors, and none of its sessions is left.
	// A second is allowed for the scheduling of a loaded machine.
	for i, ch := range healed {
		at, ok := <-ch
		if !ok {
			t.Fatalf("node%d still lists node3 alive or with sessions a minute after the kill", i+1)
		}
		if d, limit := at.Sub(killed), cl.ttl+cl.ttl/10+time.Second; d > limit {
			t.Errorf("node%d: directory healed %v after the kill, over %v (TTL %v)", i+1, d, limit, cl.ttl)
		} else {
			t.Logf("node%d: directory healed %v after the kill (TTL %v)", i+1, d, cl.ttl)
		}
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// Every message sent is acknowledged by now.
	for i, c := range final {
		// A checkpoint waits up to 5s for a node that does not answer.
		for end := time.Now().Add(30 * time.Second); c.Unacked() > 0; {
			if time.Now().After(end) {
				t.Fatalf("sender %d: %d messages not acknowledged", i+1, c.Unacked())
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			c.RequestAck(ctx)
			cancel()
			time.Sleep(200 * time.Millisecond)
		}
	}
	// Messages that went to offline storage (while no node had the
	// receiver) come with a new login.
	missing := func(ri int) []string {
		var out []string
		sentMu.Lock()
		defer sentMu.Unlock()
		for _, b := range sent[ri] {
			if tallies[ri].count(b) == 0 {
				out = append(out, b)
			}
		}
		return out
	}
	deadline := time.Now().Add(xmpptest.Wait)
	for ri := range receivers {
		for len(missing(ri)) > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	total, dups := 0, 0
	for ri, r := range receivers {
		if m := missing(ri); len(m) > 0 {
			again := n1.Client(t, r.JID().Local(), "pw", "later")
			tallies[ri].follow(again)
			online(t, again)
			xmpptest.Eventually(t, "offline messages", func() bool { return len(missing(ri)) == 0 })
		}
		sentMu.Lock()
		total += len(sent[ri])
		var twice []string
		for _, b := range sent[ri] {
			if tallies[ri].count(b) > 1 {
				dups++
				twice = append(twice, b)
			}
		}
		if len(twice) > 0 {
			t.Logf("receiver %d got twice: %v", ri+1, twice)
		}
		sentMu.Unlock()
		if m := missing(ri); len(m) > 0 {
			t.Errorf("receiver %s lost %d acknowledged messages: %v", jid.JID(r.JID()).Bare(), len(m), m)
		}
	}
	t.Logf("%d messages acknowledged and delivered, %d of them twice", total, dups)
}
