package websocket_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

// server starts a test server with an HTTP listener and returns its
// address.
func server(t *testing.T) (*xmpptest.Server, string) {
	t.Helper()
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerHTTP, Address: "127.0.0.1:0"})
	})
	return s, s.App.Addrs(config.ListenerHTTP)[0].String()
}

// client is a raw RFC 7395 client.
type client struct {
	t *testing.T
	c *ws.Conn
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := ws.Dial(ctx, "ws://"+addr+"/xmpp-websocket", &ws.DialOptions{Subprotocols: []string{"xmpp"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != "xmpp" {
		t.Fatalf("subprotocol %q", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	t.Cleanup(func() { c.CloseNow() })
	return &client{t: t, c: c}
}

func (c *client) send(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.c.Write(ctx, ws.MessageText, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next reads one message: one complete element.
func (c *client) next() *stanza.Element {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := c.c.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	el, err := stream.ParseElement(b, stream.DefaultLimits())
	if err != nil {
		c.t.Fatalf("message %q is not one element: %v", b, err)
	}
	return el
}

func (c *client) open() (open, features *stanza.Element) {
	c.t.Helper()
	c.send(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0"/>`)
	open = c.next()
	if open.Name.Space != "urn:ietf:params:xml:ns:xmpp-framing" || open.Name.Local != "open" || open.Get("id") == "" || open.Get("from") != "localhost" {
		c.t.Fatalf("answer to <open/>: %s", open)
	}
	features = c.next()
	if features.Name.Space != stanza.NSStream || features.Name.Local != "features" {
		c.t.Fatalf("features: %s", features)
	}
	return open, features
}

// TestLoginAndMessage: a whole session over WebSocket, one element per
// message in both directions, every stanza carrying its namespace.
func TestLoginAndMessage(t *testing.T) {
	s, addr := server(t)
	s.AddUser(t, "alice", "secret")
	c := dial(t, addr)
	_, features := c.open()
	// From loopback the channel counts as confidential: SASL is offered.
	if features.Child("urn:ietf:params:xml:ns:xmpp-sasl", "mechanisms") == nil {
		t.Fatalf("no SASL offered: %s", features)
	}
	c.send(`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">` + base64.StdEncoding.EncodeToString([]byte("\x00alice\x00secret")) + `</auth>`)
	if el := c.next(); el.Name.Local != "success" {
		t.Fatalf("auth: %s", el)
	}
	c.open()
	c.send(`<iq xmlns="jabber:client" type="set" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>web</resource></bind></iq>`)
	res := c.next()
	if res.Get("type") != "result" || res.Name.Space != stanza.NSClient {
		t.Fatalf("bind: %s", res)
	}
	me := res.Child("urn:ietf:params:xml:ns:xmpp-bind", "bind").ChildText("urn:ietf:params:xml:ns:xmpp-bind", "jid")
	c.send(`<message xmlns="jabber:client" to="` + me + `" type="chat"><body>over the web &lt;&amp;&gt;</body></message>`)
	msg := c.next()
	if msg.Name.Local != "message" || msg.Name.Space != stanza.NSClient || msg.ChildText(stanza.NSClient, "body") != "over the web <&>" || msg.Get("from") != me {
		t.Fatalf("message: %s", msg)
	}
	// <close/> ends the stream; the server answers with its own.
	c.send(`<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`)
	if el := c.next(); el.Name.Local != "close" {
		t.Fatalf("close: %s", el)
	}
}

func TestRefusals(t *testing.T) {
	_, addr := server(t)
	t.Run("no xmpp subprotocol", func(t *testing.T) {
		resp, err := http.Get("http://" + addr + "/xmpp-websocket")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 4 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("DOCTYPE in open", func(t *testing.T) {
		c := dial(t, addr)
		c.send(`<!DOCTYPE open [<!ENTITY x "y">]><open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0"/>`)
		if el := c.streamError(); el != stream.RestrictedXML {
			t.Fatalf("stream error %s", el)
		}
	})
	t.Run("oversized message", func(t *testing.T) {
		c := dial(t, addr)
		c.open()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.c.Write(ctx, ws.MessageText, []byte("<message xmlns='jabber:client'><body>"+strings.Repeat("x", 2<<20)+"</body></message>"))
		// The server ends the connection: the WebSocket library closes it
		// with "message too big" (1009) as soon as the frame exceeds the
		// read limit, before the engine sees anything.
		for {
			_, b, err := c.c.Read(ctx)
			if err == nil {
				t.Logf("message before the end: %s", b)
				continue
			}
			if ctx.Err() != nil {
				t.Fatalf("the connection stayed open: %v", err)
			}
			return
		}
	})
	t.Run("a second open within the stream", func(t *testing.T) {
		c := dial(t, addr)
		c.open()
		c.send(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0"/>`)
		if el := c.streamError(); el == "" {
			t.Fatal("no stream error")
		}
	})
}

// streamError reads until a stream error and returns its condition.
func (c *client) streamError() stream.Condition {
	c.t.Helper()
	for {
		el := c.next()
		if se := stream.ParseStreamError(el); se != nil {
			return se.Condition
		}
	}
}

func TestHostMeta(t *testing.T) {
	_, addr := server(t)
	resp, err := http.Get("http://" + addr + "/.well-known/host-meta.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Links []struct{ Rel, Href string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" || len(doc.Links) != 2 ||
		doc.Links[0].Rel != "urn:xmpp:alt-connections:websocket" || doc.Links[0].Href != "ws://"+addr+"/xmpp-websocket" ||
		doc.Links[1].Rel != "urn:xmpp:alt-connections:xbosh" || doc.Links[1].Href != "http://"+addr+"/http-bind" {
		t.Fatalf("host-meta.json: %+v, headers %v", doc, resp.Header)
	}
	resp2, err := http.Get("http://" + addr + "/.well-known/host-meta")
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	b, _ := io.ReadAll(resp2.Body)
	if !strings.Contains(string(b), `rel="urn:xmpp:alt-connections:websocket"`) || !strings.Contains(string(b), "ws://"+addr+"/xmpp-websocket") ||
		!strings.Contains(string(b), `rel="urn:xmpp:alt-connections:xbosh"`) || !strings.Contains(string(b), "http://"+addr+"/http-bind") ||
		!strings.Contains(string(b), `xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0"`) {
		t.Fatalf("host-meta: %s", b)
	}
}

// login authenticates with PLAIN and returns the features of the
// restarted stream.
func (c *client) login(user, password string) *stanza.Element {
	c.t.Helper()
	c.open()
	c.send(`<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">` + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+password)) + `</auth>`)
	if el := c.next(); el.Name.Local != "success" {
		c.t.Fatalf("auth: %s", el)
	}
	_, features := c.open()
	return features
}

// TestResumeAfterDroppedSocket: a stream-managed session whose WebSocket
// closes without <close/> is kept, and a new WebSocket resumes it
// (XEP-0198): what was sent to it meanwhile arrives.
func TestResumeAfterDroppedSocket(t *testing.T) {
	s, addr := server(t)
	s.AddUser(t, "alice", "secret")
	s.AddUser(t, "bob", "secret")
	c := dial(t, addr)
	if f := c.login("alice", "secret"); f.Child("urn:xmpp:sm:3", "sm") == nil {
		t.Fatalf("no stream management offered: %s", f)
	}
	c.send(`<iq xmlns="jabber:client" type="set" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>web</resource></bind></iq>`)
	me := c.next().Child("urn:ietf:params:xml:ns:xmpp-bind", "bind").ChildText("urn:ietf:params:xml:ns:xmpp-bind", "jid")
	c.send(`<enable xmlns="urn:xmpp:sm:3" resume="true"/>`)
	enabled := c.next()
	if enabled.Name.Local != "enabled" || enabled.Get("id") == "" {
		t.Fatalf("enable: %s", enabled)
	}
	// The socket goes away without <close/>.
	c.c.CloseNow()

	bob := s.Client(t, "bob", "secret", "desk")
	xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, me, "while you were away"))
	xmpptest.Sync(t, bob)

	c2 := dial(t, addr)
	c2.login("alice", "secret")
	c2.send(`<resume xmlns="urn:xmpp:sm:3" h="0" previd="` + enabled.Get("id") + `"/>`)
	if el := c2.next(); el.Name.Local != "resumed" {
		t.Fatalf("resume: %s", el)
	}
	for {
		el := c2.next()
		if el.Name.Local == "message" {
			if el.ChildText(stanza.NSClient, "body") != "while you were away" || el.Get("to") != me {
				t.Fatalf("after resumption: %s", el)
			}
			break
		}
	}
}

// TestOrigins: with http.websocket_origins set, a page of another origin
// cannot open a stream; one of a listed origin can.
func TestOrigins(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerHTTP, Address: "127.0.0.1:0"})
		c.HTTP.WebSocketOrigins = []string{"*.example.org"}
	})
	addr := s.App.Addrs(config.ListenerHTTP)[0].String()
	for origin, ok := range map[string]bool{"https://chat.example.org": true, "https://evil.example": false, "": true} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, resp, err := ws.Dial(ctx, "ws://"+addr+"/xmpp-websocket", &ws.DialOptions{Subprotocols: []string{"xmpp"}, HTTPHeader: h})
		cancel()
		if (err == nil) != ok {
			t.Errorf("origin %q: err %v, want allowed %v", origin, err, ok)
		}
		if !ok && resp != nil && resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: status %d", origin, resp.StatusCode)
		}
		if c != nil {
			c.CloseNow()
		}
	}
}

// TestParkedOverWSS: over wss (an https listener, Parley's TLS layer
// under net/http) the channel is confidential with its tls-exporter
// binding (a -PLUS mechanism is chosen), an idle stream's reader parks,
// and a parked stream wakes on input, answers, and parks again, over and
// over; stanzas written to it while parked arrive.
func TestParkedOverWSS(t *testing.T) {
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerHTTPS, Address: "127.0.0.1:0"})
		c.Limits.ParkAfter = 50 * time.Millisecond
	})
	s.AddUser(t, "alice", "pw")
	s.AddUser(t, "bob", "pw")
	cfg := s.ClientConfig(t, "alice", "pw", "web")
	cfg.WebSocket = "wss://" + s.App.Addrs(config.ListenerHTTPS)[0].String() + "/xmpp-websocket"
	alice := s.Dial(t, cfg)
	ctx := xmpptest.Context(t, 10*time.Second)
	rc, _, err := ws.Dial(ctx, cfg.WebSocket, &ws.DialOptions{Subprotocols: []string{"xmpp"},
		HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: s.TLSConfig()}}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	raw := &client{t: t, c: rc}
	t.Cleanup(func() { rc.CloseNow() })
	if _, features := raw.open(); !strings.Contains(features.String(), "SCRAM-SHA-256-PLUS") {
		t.Errorf("no -PLUS mechanism offered over wss: %s", features)
	}
	// Discovery names the wss:// endpoint (the request came over TLS).
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: s.TLSConfig()}}
	resp, err := hc.Get("https://" + s.App.Addrs(config.ListenerHTTPS)[0].String() + "/.well-known/host-meta.json")
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(meta), `"wss://`) {
		t.Errorf("host-meta over https: %s", meta)
	}
	bob := s.Client(t, "bob", "pw", "desk")
	xmpptest.Eventually(t, "alice's (and bob's) readers park", func() bool { return s.App.Parks() >= 2 })
	for round := range 3 {
		// Input wakes the parked reader: a ping answered; then it parks
		// again (round 0 proves it: bob stays parked until he sends).
		p := s.App.Parks()
		if _, err := alice.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "localhost", stanza.New("urn:xmpp:ping", "ping"))); err != nil {
			t.Fatalf("round %d: ping after parking: %v", round, err)
		}
		xmpptest.Eventually(t, "alice's reader parks again", func() bool { return s.App.Parks() > p })
		// A parked stream is written to: a message from a TCP session.
		xmpptest.Send(t, bob, stanza.NewMessage(stanza.TypeChat, alice.JID().String(), fmt.Sprint("to a parked stream ", round)))
		if got := xmpptest.NextMessage(t, alice); got.ChildText(stanza.NSClient, "body") != fmt.Sprint("to a parked stream ", round) {
			t.Fatalf("round %d: alice got %s", round, got)
		}
	}
	if err := alice.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}
