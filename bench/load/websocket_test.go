package load

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

func TestCheckWebSocketURL(t *testing.T) {
	for _, ok := range []string{"ws://127.0.0.1:5280/xmpp-websocket", "wss://localhost:5443/ws"} {
		if _, err := checkWebSocketURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "127.0.0.1:5280", "http://127.0.0.1/xmpp-websocket", "ws:///path", "wss//x", "ws://a b/"} {
		if _, err := checkWebSocketURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	cfg := Config{Dialer: Dialer{Domain: "localhost", WebSocket: "http://x/"}, UserFormat: "u%d", Count: 1}
	if err := cfg.validate("login"); err == nil {
		t.Error("a config with an http:// WebSocket URL validated")
	}
	cfg.Dialer.WebSocket = "ws://127.0.0.1:1/xmpp-websocket"
	if err := cfg.validate("login"); err != nil {
		t.Errorf("a WebSocket URL without --address: %v", err)
	}
}

// TestAppendOpen: the <open/> the generator sends is RFC 7395's, with
// the domain escaped.
func TestAppendOpen(t *testing.T) {
	el, err := stream.ParseElement(appendOpen(nil, "a'b&c.example"), stream.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if el.Name.Space != nsFraming || el.Name.Local != "open" || el.Get("to") != "a'b&c.example" || el.Get("version") != "1.0" {
		t.Errorf("<open/>: %s", el)
	}
	el, err = stream.ParseElement([]byte(framedClose), stream.DefaultLimits())
	if err != nil || el.Name.Space != nsFraming || el.Name.Local != "close" {
		t.Errorf("<close/>: %v %v", el, err)
	}
}

// TestWebSocketSession: over plain ws:// to a server on loopback (which
// offers SASL there), a session logs in, binds, gets a message it sent
// itself with SendRaw (no namespace declared: the generator's messages)
// and with Send, and ends with <close/>, which the server answers.
func TestWebSocketSession(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Auth.MaxFailureDelay = 0
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerHTTP, Address: "127.0.0.1:0"})
	})
	s.AddUser(t, "user0", "pw")
	d := Dialer{
		Domain:    s.Domain(),
		Mechanism: sasl.ScramSHA256,
		Keys:      NewKeyCache(),
		Resource:  "bench",
		WebSocket: "ws://" + s.App.Addrs(config.ListenerHTTP)[0].String() + "/xmpp-websocket",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sess, err := d.Login(ctx, 0, Account{User: "user0", Password: "pw"}, LoginOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "user0@" + s.Domain() + "/bench0"; sess.JID != want {
		t.Errorf("bound %q, want %q", sess.JID, want)
	}
	raw := appendMessage(nil, sess.Bare, stanza.TypeChat, 0, time.Now())
	if err := sess.SendRaw(raw); err != nil {
		t.Fatal(err)
	}
	if err := sess.Send(stanza.NewMessage(stanza.TypeChat, sess.Bare, "second")); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for len(bodies) < 2 {
		el, err := sess.Next()
		if err != nil {
			t.Fatalf("after %q: %v", bodies, err)
		}
		if stanza.KindOf(el) == stanza.KindMessage {
			bodies = append(bodies, el.ChildText(stanza.NSClient, "body"))
		}
	}
	if _, idx, ok := parsePayload(bodies[0]); !ok || idx != 0 || bodies[1] != "second" {
		t.Errorf("received bodies %q", bodies)
	}
	sess.wmu.Lock()
	_, err = sess.conn.Write([]byte(framedClose))
	sess.wmu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err := sess.Next()
		if err == ErrFramedClose {
			break
		}
		if err != nil {
			t.Fatalf("after <close/>: %v, want the server's <close/>", err)
		}
	}
	sess.conn.Close()
}

// TestWebSocketLoginErrors: a URL where nothing listens, and a path that
// is no WebSocket endpoint, fail the login with an error that says so.
func TestWebSocketLoginErrors(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerHTTP, Address: "127.0.0.1:0"})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, url := range []string{"ws://127.0.0.1:1/xmpp-websocket", "ws://" + s.App.Addrs(config.ListenerHTTP)[0].String() + "/no-such-path"} {
		d := Dialer{Domain: s.Domain(), Mechanism: sasl.ScramSHA256, WebSocket: url}
		_, err := d.Login(ctx, 0, Account{User: "user0", Password: "pw"}, LoginOptions{})
		if err == nil || !strings.Contains(err.Error(), "WebSocket") {
			t.Errorf("%s: %v", url, err)
		}
	}
}
