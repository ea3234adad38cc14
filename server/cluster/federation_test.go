package cluster_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/internal/testca"
	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/s2s/certid"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// fedDomains are the cluster's domain and the separate server's.
const (
	fedA = "a.example"
	fedB = "b.example"
)

// fedSetup is a two-node cluster serving fedA, federating with a single
// server serving fedB. The single server's route to fedA is node2's s2s
// listener: whatever it sends, and every dialback verification it makes,
// goes to node2, while node1's users send from node1.
type fedSetup struct {
	cl     *testCluster
	n1, n2 *xmpptest.Server
	b      *xmpptest.Server
	ca     *testca.CA
}

// federatedCluster starts the setup. With ca, every server's certificate
// for its domain comes from ca, which they all trust (SASL EXTERNAL);
// without, the certificates are self-signed and the servers use Server
// Dialback: the cluster's nodes share the data folder's secret, from
// which dialback keys derive, when shareSecret.
func federatedCluster(t *testing.T, ca *testca.CA, shareSecret bool) *fedSetup {
	t.Helper()
	if os.Getenv(natsEnv) == "" {
		t.Skipf("%s not set", natsEnv)
	}
	ports := []int{xmpptest.FreePort(t), xmpptest.FreePort(t)}
	pb := xmpptest.FreePort(t)
	secret := []byte(strings.Repeat("shared cluster secret!", 2))
	certs := func(c *config.Config, domain string) {
		if ca == nil {
			return
		}
		dir := t.TempDir()
		ca.Issue(t, domain, certid.Identities{DNS: []string{domain}}, nil).WritePEM(t, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
		ca.WritePEM(t, filepath.Join(dir, "ca.pem"))
		c.TLS.Certificates = []config.Certificate{{Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}}
		c.S2S.CAFile = filepath.Join(dir, "ca.pem")
	}
	s2s := func(c *config.Config, domain string) {
		c.Domains = []string{domain}
		c.S2S.Enabled = true
		c.S2S.ConnectTimeout = 10 * time.Second
		certs(c, domain)
	}
	cl := newCluster(t, 2, func(c *config.Config) {
		i, _ := strconv.Atoi(strings.TrimPrefix(c.Cluster.Node, "node"))
		s2s(c, fedA)
		c.S2S.Routes = map[string]string{fedB: "127.0.0.1:" + strconv.Itoa(pb)}
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerS2S, Address: "127.0.0." + strconv.Itoa(i) + ":" + strconv.Itoa(ports[i-1])})
		if shareSecret {
			if err := os.WriteFile(filepath.Join(c.DataDir, "secret"), secret, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	})
	b := xmpptest.NewServerWithAdmin(t, nil, app.AdminOptions{}, func(c *config.Config) {
		s2s(c, fedB)
		c.S2S.Routes = map[string]string{fedA: "127.0.0.2:" + strconv.Itoa(ports[1])}
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerS2S, Address: "127.0.0.1:" + strconv.Itoa(pb)})
	})
	return &fedSetup{cl: cl, n1: cl.nodes[0], n2: cl.nodes[1], b: b, ca: ca}
}

// login logs a user's resource in on s, trusting the test CA when there
// is one.
func (f *fedSetup) login(t *testing.T, s *xmpptest.Server, user, resource string) *client.Client {
	t.Helper()
	cfg := s.ClientConfig(t, user, "pw", resource)
	if f.ca != nil {
		cfg.TLS.RootCAs = f.ca.Pool
	}
	return s.Dial(t, cfg)
}

// isChat matches a message with body from from.
func isChat(from, body string) func(*stanza.Element) bool {
	return func(st *stanza.Element) bool {
		return st.Name.Local == "message" && st.Get("from") == from && st.ChildText("", "body") == body
	}
}

func testClusterFederation(t *testing.T, ca *testca.CA, wantAuth string) {
	f := federatedCluster(t, ca, true)
	f.n1.AddUser(t, "alice", "pw")
	f.n1.AddUser(t, "carol", "pw")
	f.b.AddUser(t, "bob", "pw")
	alice := f.login(t, f.n1, "alice", "home")
	carol := f.login(t, f.n2, "carol", "desk")
	bob := f.login(t, f.b, "bob", "phone")
	f.cl.visible(t, alice.JID(), false)
	f.cl.visible(t, carol.JID(), false)

	// From node1 to b.example: node1 makes its own link, and b.example
	// verifies node1's dialback key with node2 (its route to a.example).
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, bob.JID().String(), "hello from node1"))
	xmpptest.Expect(t, bob, "alice's message", isChat(alice.JID().String(), "hello from node1"))
	// From node2 to b.example, over node2's own link.
	xmpptest.Send(t, carol, stanza.NewMessage(stanza.TypeChat, bob.JID().String(), "hello from node2"))
	xmpptest.Expect(t, bob, "carol's message", isChat(carol.JID().String(), "hello from node2"))
	// From b.example, whose link reaches node2: to carol there, and to
	// alice on node1 through the cluster.
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, alice.JID().String(), "hi alice"))
	xmpptest.Expect(t, alice, "bob's answer on node1", isChat(bob.JID().String(), "hi alice"))
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, carol.JID().String(), "hi carol"))
	xmpptest.Expect(t, carol, "bob's answer on node2", isChat(bob.JID().String(), "hi carol"))

	for i, s := range []*xmpptest.Server{f.n1, f.n2} {
		var out int
		for _, l := range s.App.S2S().Links() {
			if l.Remote == fedB && l.State == "ready" && l.Auth == wantAuth {
				out++
			}
		}
		if out != 1 {
			t.Errorf("node%d's outgoing links: %+v", i+1, s.App.S2S().Links())
		}
	}
	// b.example opened one link to a.example (to node2), and accepted
	// one from each node.
	if links := f.b.App.S2S().Links(); len(links) != 1 || links[0].Auth != wantAuth {
		t.Errorf("b.example's outgoing links: %+v", links)
	}
	in := 0
	for _, l := range f.b.App.Admin().Status(context.Background()).Links {
		if l.Incoming && l.Remote == fedA && l.Auth == wantAuth {
			in++
		}
	}
	if in != 2 {
		t.Errorf("b.example accepted %d streams from a.example, want 2: %+v", in, f.b.App.Admin().Status(context.Background()).Links)
	}

	// A subscription across federation, reaching alice's resources on
	// both nodes.
	alice2 := f.login(t, f.n2, "alice", "work")
	online(t, alice)
	online(t, alice2)
	online(t, bob)
	f.cl.visible(t, alice.JID(), true)
	f.cl.visible(t, alice2.JID(), true)
	xmpptest.Send(t, bob, stanza.New(stanza.NSClient, "presence", "to", "alice@"+fedA, "type", "subscribe"))
	isSub := func(st *stanza.Element) bool {
		return st.Name.Local == "presence" && st.Get("type") == "subscribe" && st.Get("from") == "bob@"+fedB
	}
	xmpptest.Expect(t, alice, "bob's request on node1", isSub)
	xmpptest.Expect(t, alice2, "bob's request on node2", isSub)
	xmpptest.Send(t, alice, stanza.New(stanza.NSClient, "presence", "to", "bob@"+fedB, "type", "subscribed"))
	// bob gets the approval, then the presence of both of alice's
	// resources (RFC 6121 §3.1.5), one of them on the other node.
	xmpptest.Expect(t, bob, "the approval", isPresence("subscribed", alice.JID().Bare()))
	xmpptest.Expect(t, bob, "alice/home's presence", isPresence("", alice.JID()))
	xmpptest.Expect(t, bob, "alice/work's presence", isPresence("", alice2.JID()))
	// alice subscribes back, from node2; bob approves.
	xmpptest.Send(t, alice2, stanza.New(stanza.NSClient, "presence", "to", "bob@"+fedB, "type", "subscribe"))
	xmpptest.Expect(t, bob, "alice's request", func(st *stanza.Element) bool {
		return st.Name.Local == "presence" && st.Get("type") == "subscribe" && st.Get("from") == "alice@"+fedA
	})
	xmpptest.Send(t, bob, stanza.New(stanza.NSClient, "presence", "to", "alice@"+fedA, "type", "subscribed"))
	xmpptest.Expect(t, alice, "bob's presence on node1", isPresence("", bob.JID()))
	xmpptest.Expect(t, alice2, "bob's presence on node2", isPresence("", bob.JID()))
	// bob's presence broadcast reaches both; alice's (on node2) reaches
	// bob.
	away := presence()
	away.Append(stanza.New(stanza.NSClient, "show").SetText("away"))
	xmpptest.Send(t, bob, away)
	isAway := func(st *stanza.Element) bool {
		return st.Name.Local == "presence" && st.Get("from") == bob.JID().String() && st.ChildText("", "show") == "away"
	}
	xmpptest.Expect(t, alice, "bob away, on node1", isAway)
	xmpptest.Expect(t, alice2, "bob away, on node2", isAway)
	dnd := presence()
	dnd.Append(stanza.New(stanza.NSClient, "show").SetText("dnd"))
	xmpptest.Send(t, alice2, dnd)
	xmpptest.Expect(t, bob, "alice/work dnd", func(st *stanza.Element) bool {
		return st.Name.Local == "presence" && st.Get("from") == alice2.JID().String() && st.ChildText("", "show") == "dnd"
	})
	// alice/home leaves: bob sees it go.
	alice.Close()
	xmpptest.Expect(t, bob, "alice/home unavailable", isPresence("unavailable", alice.JID()))
}

// TestClusterFederationDialback: a two-node cluster federating with a
// single server with Server Dialback, the nodes sharing the secret.
func TestClusterFederationDialback(t *testing.T) {
	testClusterFederation(t, nil, "dialback")
}

// TestClusterFederationExternal: the same with certificates from a CA
// every server trusts (SASL EXTERNAL).
func TestClusterFederationExternal(t *testing.T) {
	testClusterFederation(t, testca.New(t), "SASL EXTERNAL")
}

// TestClusterFederationDialbackUnsharedSecret: nodes that do not share
// the data folder's secret make dialback keys the other cannot verify:
// b.example, verifying node1's key with node2, refuses node1's link, and
// alice's message bounces.
func TestClusterFederationDialbackUnsharedSecret(t *testing.T) {
	f := federatedCluster(t, nil, false)
	f.n1.AddUser(t, "alice", "pw")
	f.b.AddUser(t, "bob", "pw")
	alice := f.login(t, f.n1, "alice", "home")
	bob := f.login(t, f.b, "bob", "phone")
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, bob.JID().String(), "lost?"))
	xmpptest.Expect(t, alice, "the bounce", func(st *stanza.Element) bool {
		return st.Name.Local == "message" && st.Type() == stanza.TypeError && st.Get("from") == bob.JID().String()
	})
	xmpptest.Never(t, bob, "no message", 300*time.Millisecond, isChat(alice.JID().String(), "lost?"))
}
