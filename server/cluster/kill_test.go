package cluster_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/parley-xmpp/parley/server/cluster"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// process is a node running as `parley serve`.
type process struct {
	cmd  *exec.Cmd
	addr string
	// comp is the component listener's address.
	comp string
	log  string
	done chan error
}

var (
	summaryAddr = regexp.MustCompile(`(127\.0\.0\.3:\d+) \(STARTTLS\)`)
	summaryComp = regexp.MustCompile(`(127\.0\.0\.3:\d+) \(components\)`)
)

// startProcess builds cmd/parley and runs it as node3 of cl, its client
// listener on 127.0.0.3.
func (c *testCluster) startProcess(t *testing.T, extra ...string) *process {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "parley")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/parley-xmpp/parley/cmd/parley").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "parley.yaml")
	conf := fmt.Sprintf(`listeners:
  - {type: c2s, address: "127.0.0.3:0"}
  - {type: component, address: "127.0.0.3:0"}
components:
  - {domain: %q, secret: %q}
storage: %q
s2s: {enabled: false}
log: {level: debug}
cluster:
  enabled: true
  node: node3
  name: %s
  nats: %q
  node_ttl: %s
`, compDomain, compSecret, c.db, c.name, c.url, c.ttl)
	for _, e := range extra {
		conf += e + "\n"
	}
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &process{log: filepath.Join(dir, "node3.log"), done: make(chan error, 1)}
	logf, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	p.cmd = exec.Command(bin, "serve", "--config", cfg, "--data", filepath.Join(dir, "data"))
	p.cmd.Stderr = logf
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case first <- sc.Text():
			default:
			}
		}
		close(first)
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("node3 log:\n%s", b)
		}
	})
	select {
	case line := <-first:
		m := summaryAddr.FindStringSubmatch(line)
		if m == nil {
			b, _ := os.ReadFile(p.log)
			t.Fatalf("node3: no summary line (got %q); log:\n%s", line, b)
		}
		p.addr = m[1]
		if m := summaryComp.FindStringSubmatch(line); m != nil {
			p.comp = m[1]
		}
	case <-time.After(60 * time.Second):
		t.Fatal("node3 did not start")
	}
	return p
}

func (p *process) login(t *testing.T, user, resource string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Config{JID: jid.MustParse(user), Password: "pw", Address: p.addr,
		TLS: &tls.Config{InsecureSkipVerify: true}, Resource: resource})
	if err != nil {
		t.Fatalf("login %s on node3: %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// subscribe makes a subscribed to b's presence, b online.
func subscribe(t *testing.T, a, b *client.Client) {
	t.Helper()
	xmpptest.Send(t, a, stanza.New(stanza.NSClient, "presence", "to", b.JID().Bare().String(), "type", stanza.TypeSubscribe))
	xmpptest.Expect(t, b, "the subscription request", isPresence(stanza.TypeSubscribe, a.JID().Bare()))
	xmpptest.Send(t, b, stanza.New(stanza.NSClient, "presence", "to", a.JID().Bare().String(), "type", stanza.TypeSubscribed))
}

func TestNodeKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	cl := newCluster(t, 2, withComponent)
	n1, n2 := cl.nodes[0], cl.nodes[1]
	n1.AddUser(t, "alice", "pw")
	n1.AddUser(t, "bob", "pw")
	p := cl.startProcess(t)
	// A component on node3 too, which dies with it.
	attachComponent(t, p.comp)
	xmpptest.Eventually(t, "node1 routes the component to node3", func() bool {
		return n1.App.Cluster().ComponentNode(compDomain) == "node3"
	})
	alice := n1.Client(t, "alice", "pw", "home")
	bob := p.login(t, "bob@localhost", "phone")
	online(t, alice)
	online(t, bob)
	cl.visible(t, bob.JID(), true) // node1 routes the subscription to node3
	subscribe(t, alice, bob)
	xmpptest.Expect(t, alice, "bob's presence", isPresence("", bob.JID()))
	cl.visible(t, bob.JID(), true)

	// kill -9: node 3 neither ends its lease nor deletes its entries.
	killed := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p.done <- nil // for the cleanup
	// Within the TTL (and a sweep), every node forgets bob's session and
	// alice learns that bob went offline.
	xmpptest.Expect(t, alice, "bob's unavailable presence, sent for the dead node", func(st *stanza.Element) bool {
		return isPresence(stanza.TypeUnavailable, bob.JID())(st)
	})
	cl.gone(t, bob.JID())
	// Another node may have reaped bob's entry before node1's own view of
	// node3's lease expired: that follows within the TTL.
	xmpptest.Eventually(t, "node1 lists node3 as dead", func() bool {
		for _, n := range n1.App.Cluster().Nodes() {
			if n.Name == "node3" {
				return !n.Alive
			}
		}
		return false
	})
	if d := time.Since(killed); d > 2*cl.ttl {
		t.Errorf("directory healed %v after the kill, TTL %v", d, cl.ttl)
	}
	// The dead node's entry left the bucket too.
	nc, err := nats.Connect(cl.url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(context.Background(), cl.name+"_sessions")
	if err != nil {
		t.Fatal(err)
	}
	xmpptest.Eventually(t, "the entry of bob/phone deleted", func() bool {
		_, err := kv.Get(context.Background(), cluster.KeyOf(bob.JID()))
		return errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted)
	})
	// The component is no longer routed to node3, and its entry is gone.
	if got := n1.App.Cluster().ComponentNode(compDomain); got != "" {
		t.Errorf("node1 routes the component of the dead node to %q", got)
	}
	comps, err := js.KeyValue(context.Background(), cl.name+"_components")
	if err != nil {
		t.Fatal(err)
	}
	xmpptest.Eventually(t, "the component's entry deleted", func() bool {
		_, err := comps.Get(context.Background(), cluster.CompKey(compDomain))
		return errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted)
	})
	// A message to bob now goes to offline storage, and reaches him when
	// he logs in on another node.
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, bob.JID().Bare().String(), "after the crash"))
	xmpptest.Sync(t, alice)
	again := n2.Client(t, "bob", "pw", "laptop")
	online(t, again)
	xmpptest.Expect(t, again, "the message stored while no node had bob", isMessage("after the crash"))
}
