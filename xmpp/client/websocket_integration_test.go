package client_test

import (
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// TestWebSocket: the client library over XMPP over WebSocket (RFC 7395)
// logs in (SASL, resource binding), exchanges messages with a TCP client
// and closes cleanly.
func TestWebSocket(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerHTTP, Address: "127.0.0.1:0"})
	})
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	cfg := s.ClientConfig(t, "alice", "pw", "web")
	cfg.WebSocket = "ws://" + s.App.Addrs(config.ListenerHTTP)[0].String() + "/xmpp-websocket"
	alice := s.Dial(t, cfg)
	bob := s.Client(t, "bob", "pw", "desk")
	if alice.JID().String() != "alice@localhost/web" {
		t.Fatalf("bound %s", alice.JID())
	}
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, bob.JID().String(), "from the web"))
	if got := xmpptest.NextMessage(t, bob); got.ChildText(stanza.NSClient, "body") != "from the web" || got.Get("from") != alice.JID().String() {
		t.Fatalf("bob got %s", got)
	}
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, alice.JID().String(), "back over TCP"))
	if got := xmpptest.NextMessage(t, alice); got.ChildText(stanza.NSClient, "body") != "back over TCP" {
		t.Fatalf("alice got %s", got)
	}
	ctx := xmpptest.Context(t, 10*time.Second)
	if _, err := alice.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "localhost", stanza.New("urn:xmpp:ping", "ping"))); err != nil {
		t.Fatalf("ping over WebSocket: %v", err)
	}
	if err := alice.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}
