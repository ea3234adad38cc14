package load_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/parley-xmpp/parley/bench/load"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/storage/postgres/pgtest"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpptest"
)

// TestClusterPairing runs the chat scenario against a real cluster of
// two nodes (PostgreSQL and NATS from PARLEY_TEST_POSTGRES and
// PARLEY_TEST_NATS; skipped without them): the sessions are spread over
// both nodes' addresses, each pair on two nodes (cross-node) or on one
// (same-node), as the directory of each node shows, and both runs
// deliver every message, with the processor time measured.
func TestClusterPairing(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster run skipped in -short mode")
	}
	url := os.Getenv("PARLEY_TEST_NATS")
	if url == "" {
		t.Skip("PARLEY_TEST_NATS not set")
	}
	db := pgtest.Database(t)
	var b [4]byte
	rand.Read(b[:])
	name := "parleybench_" + hex.EncodeToString(b[:])
	t.Cleanup(func() { removeBuckets(t, url, name) }) // after the nodes stopped
	var nodes []*xmpptest.Server
	roots := x509.NewCertPool()
	for i := range 2 {
		n := xmpptest.NewServer(t, func(c *config.Config) {
			c.Storage = config.Storage{Kind: config.StoragePostgres, URL: db}
			c.Listeners = []config.Listener{{Type: config.ListenerC2S, Address: "127.0.0." + strconv.Itoa(i+1) + ":0"}}
			c.Cluster.Enabled = true
			c.Cluster.Node = "node" + strconv.Itoa(i+1)
			c.Cluster.Name = name
			c.Cluster.NATS = []string{url}
			c.Auth.MaxFailureDelay = 0
			c.Modules.Disabled = append(c.Modules.Disabled, "mam")
		})
		pem, err := os.ReadFile(n.CertFile())
		if err != nil || !roots.AppendCertsFromPEM(pem) {
			t.Fatalf("node %d's certificate: %v", i+1, err)
		}
		nodes = append(nodes, n)
	}
	const users = 8
	for i := range users {
		nodes[0].AddUser(t, fmt.Sprintf("user%d", i), "pw")
	}
	base := load.Config{
		Dialer: load.Dialer{
			Addrs:     []string{nodes[0].Addr(), nodes[1].Addr()},
			Domain:    nodes[0].Domain(),
			TLS:       &tls.Config{RootCAs: roots, ServerName: nodes[0].Domain(), MinVersion: tls.VersionTLS12},
			Mechanism: sasl.ScramSHA256,
			Keys:      load.NewKeyCache(),
			Resource:  "bench",
		},
		UserFormat: "user%d", PasswordFormat: "pw", Count: users, Concurrency: 4,
		Duration: time.Second, Rate: 400, PID: os.Getpid(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, p := range []load.Pairing{load.PairsCrossNode, load.PairsSameNode} {
		t.Run(p.String(), func(t *testing.T) {
			cfg := base
			cfg.Dialer.Pairing = p
			// Where the sessions land: account i's session is local to
			// the node its pairing names, remote on the other.
			for i := range 4 {
				s, err := cfg.Dialer.Login(ctx, i, cfg.Account(i), load.LoginOptions{})
				if err != nil {
					t.Fatal(err)
				}
				full := jid.MustParse(s.JID)
				want := i % 2
				if p == load.PairsSameNode {
					want = i / 2 % 2
				}
				for k, n := range nodes {
					dir := n.App.Cluster().Directory()
					xmpptest.Eventually(t, fmt.Sprintf("node%d sees %s", k+1, full), func() bool { return dir.Get(full) != nil })
					if remote := dir.Get(full).Remote(); remote != (k != want) {
						t.Errorf("%v: account %d's session on node%d is remote %v, want it on node%d", p, i, k+1, remote, want+1)
					}
				}
				s.Close()
				nodes[want].WaitSessionEnded(t, full)
			}
			rep, err := load.Run(ctx, cfg, "chat")
			if err != nil {
				t.Fatal(err)
			}
			if rep.Errors != 0 || rep.Logins != users || rep.Sent == 0 || rep.Received != rep.Sent || rep.Lost != 0 {
				t.Errorf("%v: %d logins, %d errors %v, %d sent, %d received, %d lost", p, rep.Logins, rep.Errors, rep.ErrorKinds, rep.Sent, rep.Received, rep.Lost)
			}
			if rep.CPU == nil || rep.CPU.Deliveries != rep.Received || rep.CPU.ServerSeconds <= 0 || rep.CPU.ServerMicrosPerDeliv <= 0 {
				t.Errorf("%v: processor time %+v for %d deliveries", p, rep.CPU, rep.Received)
			}
		})
	}
}

// removeBuckets deletes the cluster's JetStream buckets.
func removeBuckets(t *testing.T, url, name string) {
	nc, err := nats.Connect(url)
	if err == nil {
		defer nc.Close()
		var js jetstream.JetStream
		if js, err = jetstream.New(nc); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, suffix := range []string{"_sessions", "_nodes", "_components"} {
				err = errors.Join(err, js.DeleteKeyValue(ctx, name+suffix))
			}
		}
	}
	if err != nil {
		t.Errorf("removing the buckets %s_*: %v", name, err)
	}
}
