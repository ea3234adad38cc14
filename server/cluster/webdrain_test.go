package cluster_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/cluster"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

// withHTTP adds an http listener (WebSocket and BOSH) on the node's own
// loopback address.
func withHTTP(c *config.Config) {
	i := strings.TrimPrefix(c.Cluster.Node, "node")
	c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerHTTP, Address: "127.0.0." + i + ":0"})
}

// webURIs returns a node's WebSocket and BOSH endpoints.
func webURIs(s *xmpptest.Server) (ws, bosh string) {
	hp := s.App.Addrs(config.ListenerHTTP)[0].String()
	return "ws://" + hp + "/xmpp-websocket", "http://" + hp + "/http-bind"
}

// webClient logs a user's resource in over WebSocket (ws) or BOSH.
func webClient(t *testing.T, s *xmpptest.Server, user, resource, ws, bosh string) *client.Client {
	t.Helper()
	cfg := s.ClientConfig(t, user, "pw", resource)
	cfg.WebSocket, cfg.BOSH = ws, bosh
	if bosh != "" {
		cfg.BOSHWait = 2 * time.Second
	}
	return s.Dial(t, cfg)
}

// ended waits for c's stream to end and returns why.
func ended(t *testing.T, c *client.Client, who string) error {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(15 * time.Second):
		t.Fatalf("%s's stream did not end", who)
	}
	return c.Err()
}

// A node that stops sends its WebSocket clients to another node's
// WebSocket endpoint (<close see-other-uri/>, RFC 7395 §3.6.1) and its
// BOSH clients to another node's BOSH endpoint (see-other-uri, XEP-0124
// §17.2); the clients log in there and chat. The last node, with nowhere
// to send them, ends their streams with system-shutdown.
func TestDrainWebClients(t *testing.T) {
	cl := newCluster(t, 2, withHTTP)
	n1, n2 := cl.nodes[0], cl.nodes[1]
	n1.AddUser(t, "alice", "pw")
	n1.AddUser(t, "bob", "pw")
	ws1, bosh1 := webURIs(n1)
	ws2, bosh2 := webURIs(n2)
	alice := webClient(t, n1, "alice", "ws", ws1, "")
	bob := webClient(t, n1, "bob", "bosh", "", bosh1)
	online(t, alice)
	online(t, bob)
	// node2 advertises its web endpoints in its lease; a client over TLS
	// is never sent to them (RFC 7395 §3.6.1: not to a lower security).
	xmpptest.Eventually(t, "node1 knows node2's web endpoints", func() bool {
		c := n1.App.Cluster()
		return c.OtherWeb(cluster.WebSocket, false) == ws2 && c.OtherWeb(cluster.BOSH, false) == bosh2
	})
	if u := n1.App.Cluster().OtherWeb(cluster.WebSocket, true); u != "" {
		t.Errorf("a client over TLS would be sent to %q", u)
	}
	// An idle BOSH client: its empty request is held when node1 stops
	// (one between two requests would find the listener closed).
	xmpptest.Sync(t, bob)
	time.Sleep(300 * time.Millisecond)

	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n1.App.Stop(stopCtx)
	var redirect *client.SeeOtherURIError
	if err := ended(t, alice, "alice"); !errors.As(err, &redirect) || redirect.URI != ws2 {
		t.Fatalf("alice's WebSocket stream ended with %v, want see-other-uri %s", err, ws2)
	}
	var be *client.BOSHError
	if err := ended(t, bob, "bob"); !errors.As(err, &be) || be.Condition != "see-other-uri" || be.URI != bosh2 {
		t.Fatalf("bob's BOSH session ended with %v, want see-other-uri %s", err, bosh2)
	}

	// They follow, to node2, and chat there.
	alice = webClient(t, n2, "alice", "ws", redirect.URI, "")
	bob = webClient(t, n2, "bob", "bosh", "", be.URI)
	for i := range 3 {
		body := "after the move " + strconv.Itoa(i)
		xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, bob.JID().String(), body))
		xmpptest.Expect(t, bob, body, isMessage(body))
	}
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, alice.JID().String(), "back"))
	xmpptest.Expect(t, alice, "bob's answer", isMessage("back"))

	// The last node: system-shutdown.
	xmpptest.Eventually(t, "node2 knows no other live node", func() bool {
		return n2.App.Cluster().OtherWeb(cluster.WebSocket, false) == ""
	})
	n2.App.Stop(stopCtx)
	var se *stream.Error
	if err := ended(t, alice, "alice"); !errors.As(err, &se) || se.Condition != stream.SystemShutdown {
		t.Fatalf("the last node ended alice's WebSocket stream with %v, want <system-shutdown/>", err)
	}
	if err := ended(t, bob, "bob"); !errors.As(err, &be) || be.Condition != "system-shutdown" {
		t.Fatalf("the last node ended bob's BOSH session with %v, want system-shutdown", err)
	}
}

// A client over TLS (wss://) is never sent to a plain endpoint: with
// node2 serving only ws:// and http://, node1's wss client gets
// <system-shutdown/> while its ws client is sent to node2.
func TestDrainWebClientsTLS(t *testing.T) {
	cl := newCluster(t, 2, withHTTP, func(c *config.Config) {
		if c.Cluster.Node == "node1" {
			c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerHTTPS, Address: "127.0.0.1:0"})
		}
	})
	n1, n2 := cl.nodes[0], cl.nodes[1]
	n1.AddUser(t, "alice", "pw")
	n1.AddUser(t, "bob", "pw")
	ws1, _ := webURIs(n1)
	ws2, _ := webURIs(n2)
	wss1 := "wss://" + n1.App.Addrs(config.ListenerHTTPS)[0].String() + "/xmpp-websocket"
	alice := webClient(t, n1, "alice", "wss", wss1, "")
	bob := webClient(t, n1, "bob", "ws", ws1, "")
	xmpptest.Eventually(t, "node1 knows node2's web endpoints", func() bool {
		return n1.App.Cluster().OtherWeb(cluster.WebSocket, false) == ws2
	})
	// node2 learns node1's secure endpoint too.
	if got := n2.App.Cluster().OtherWeb(cluster.WebSocket, true); got != wss1 {
		t.Errorf("node2 would send a wss client to %q, want %q", got, wss1)
	}

	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n1.App.Stop(stopCtx)
	var se *stream.Error
	if err := ended(t, alice, "alice"); !errors.As(err, &se) || se.Condition != stream.SystemShutdown {
		t.Fatalf("alice's wss stream ended with %v, want <system-shutdown/>", err)
	}
	var redirect *client.SeeOtherURIError
	if err := ended(t, bob, "bob"); !errors.As(err, &redirect) || redirect.URI != ws2 {
		t.Fatalf("bob's ws stream ended with %v, want see-other-uri %s", err, ws2)
	}
}
