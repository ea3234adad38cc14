package load

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

// TestCheckWebSocketURL: ws:// and wss:// URLs with a host pass, others
// fail, and a config with a WebSocket URL needs no --address.
func TestCheckWebSocketURL(t *testing.T) {
	testCheckURL(t, checkWebSocketURL, []string{"ws://127.0.0.1:5280/xmpp-websocket", "wss://localhost:5443/ws"},
		[]string{"http://127.0.0.1/xmpp-websocket", "ws:///path", "wss//x", "ws://a b/"},
		func(d *Dialer, u string) { d.WebSocket = u }, "http://x/", "ws://127.0.0.1:1/xmpp-websocket")
}

// testCheckURL checks a URL check: the good URLs pass, the bad ones, the
// empty string and a bare address fail; a config whose transport URL
// (set with set) is badURL does not validate, one with goodURL does,
// without a server address.
func testCheckURL(t *testing.T, check func(string) (*url.URL, error), good, bad []string, set func(*Dialer, string), badURL, goodURL string) {
	t.Helper()
	for _, ok := range good {
		if _, err := check(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, b := range append(bad, "", "127.0.0.1:5280") {
		if _, err := check(b); err == nil {
			t.Errorf("%q accepted", b)
		}
	}
	cfg := Config{Dialer: Dialer{Domain: "localhost"}, UserFormat: "u%d", Count: 1}
	set(&cfg.Dialer, badURL)
	if err := cfg.validate("login"); err == nil {
		t.Errorf("a config with URL %s validated", badURL)
	}
	set(&cfg.Dialer, goodURL)
	if err := cfg.validate("login"); err != nil {
		t.Errorf("%s without --address: %v", goodURL, err)
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
