package component_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/component"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

const secret = "s3cret-component"

func server(t *testing.T) (*xmpptest.Server, string) {
	t.Helper()
	s := xmpptest.NewServer(t, func(c *config.Config) {
		c.Components = []config.Component{{Domain: "gw.localhost", Secret: secret}}
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerComponent, Address: "127.0.0.1:0"})
	})
	return s, s.App.Addrs(config.ListenerComponent)[0].String()
}

// comp is a component written by hand, as XEP-0114 describes.
type comp struct {
	t    *testing.T
	conn net.Conn
	dec  *stream.Decoder
	id   string
}

func connect(t *testing.T, addr, domain string) *comp {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='" + domain + "'>"))
	p := &comp{t: t, conn: c, dec: stream.NewDecoder(c, stream.Limits{})}
	h, err := p.dec.ReadHeader()
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	p.id = h.ID
	return p
}

// attach connects a component and completes its handshake.
func attach(t *testing.T, addr, domain string) *comp {
	t.Helper()
	p := connect(t, addr, domain)
	if el := p.handshake(secret); el.Name.Local != "handshake" {
		t.Fatalf("handshake: %s", el)
	}
	return p
}

// chat checks both ways between a user and the component: the user's
// message to bot reaches the component, in its namespace, and what the
// component sends from bot reaches the user.
func (p *comp) chat(user *client.Client, bot string) {
	p.t.Helper()
	xmpptest.Send(p.t, user, stanza.NewMessage(stanza.TypeChat, bot, "hi bot"))
	got := p.next()
	if got.Name.Local != "message" || got.Get("from") != user.JID().String() || got.ChildText("", "body") != "hi bot" {
		p.t.Fatalf("the component got %s", got)
	}
	p.conn.Write([]byte("<message from='" + bot + "' to='" + user.JID().String() + "' type='chat'><body>hi user</body></message>"))
	if m := xmpptest.NextMessage(p.t, user); m.Get("from") != bot || m.ChildText(stanza.NSClient, "body") != "hi user" {
		p.t.Fatalf("%s got %s", user.JID(), m)
	}
}

func (p *comp) handshake(secret string) *stanza.Element {
	p.t.Helper()
	sum := sha1.Sum([]byte(p.id + secret))
	p.conn.Write([]byte("<handshake>" + hex.EncodeToString(sum[:]) + "</handshake>"))
	return p.next()
}

func (p *comp) next() *stanza.Element {
	p.t.Helper()
	el, err := p.dec.Next()
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	return el
}

func TestComponent(t *testing.T) {
	s, addr := server(t)
	s.AddUser(t, "alice", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	gw := attach(t, addr, "gw.localhost")
	gw.chat(alice, "bot@gw.localhost")
	// The server lists the component among its services.
	ctx := xmpptest.Context(t, 10*time.Second)
	res, err := alice.SendIQ(ctx, stanza.NewIQ(stanza.TypeGet, "", "localhost", stanza.New(disco.NSItems, "query")))
	if err != nil || !strings.Contains(res.String(), "gw.localhost") {
		t.Fatalf("disco#items: %s, %v", res, err)
	}
	// A second connection for the same component is refused.
	dup := connect(t, addr, "gw.localhost")
	if el := dup.handshake(secret); stream.ParseStreamError(el) == nil || stream.ParseStreamError(el).Condition != stream.Conflict {
		t.Fatalf("second connection: %s", el)
	}
	// A 'from' outside the component's domain ends its stream.
	gw.conn.Write([]byte("<message from='alice@localhost' to='" + alice.JID().String() + "'><body>spoof</body></message>"))
	if el := gw.next(); stream.ParseStreamError(el) == nil || stream.ParseStreamError(el).Condition != stream.InvalidFrom {
		t.Fatalf("spoofed from: %s", el)
	}
}

func TestRefusals(t *testing.T) {
	_, addr := server(t)
	t.Run("wrong secret", func(t *testing.T) {
		gw := connect(t, addr, "gw.localhost")
		if el := gw.handshake("wrong"); stream.ParseStreamError(el) == nil || stream.ParseStreamError(el).Condition != stream.NotAuthorized {
			t.Fatalf("wrong secret: %s", el)
		}
	})
	t.Run("unknown component", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte("<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='nope.localhost'>"))
		dec := stream.NewDecoder(c, stream.Limits{})
		if _, err := dec.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		el, err := dec.Next()
		if err != nil || stream.ParseStreamError(el) == nil || stream.ParseStreamError(el).Condition != stream.HostUnknown {
			t.Fatalf("unknown component: %v %v", el, err)
		}
	})
}

// TestDisconnectedComponent: stanzas for a component that is away wait
// for it a short while; past the grace they bounce.
func TestDisconnectedComponent(t *testing.T) {
	s, addr := server(t)
	s.AddUser(t, "alice", "pw")
	alice := s.Client(t, "alice", "pw", "desk")
	xmpptest.Send(t, alice, stanza.NewMessage(stanza.TypeChat, "bot@gw.localhost", "are you there?"))
	xmpptest.Sync(t, alice)
	gw := connect(t, addr, "gw.localhost")
	gw.handshake(secret)
	if got := gw.next(); got.ChildText("", "body") != "are you there?" {
		t.Fatalf("component got %s after connecting", got)
	}
}

// TestShutdown: when the server stops, a connected component's stream
// ends as a client's does, with <system-shutdown/> and the closing tag
// (RFC 6120 §4.9.3.22), not with the connection cut: a gateway such as
// biboumi then knows the server went away on purpose.
func TestShutdown(t *testing.T) {
	s, addr := server(t)
	gw := attach(t, addr, "gw.localhost")
	s.App.Stop(xmpptest.Context(t, 10*time.Second))
	el, err := gw.dec.Next()
	if err != nil {
		t.Fatalf("at shutdown: %v, want <system-shutdown/>", err)
	}
	if se := stream.ParseStreamError(el); se == nil || se.Condition != stream.SystemShutdown {
		t.Fatalf("at shutdown: %s, want <system-shutdown/>", el)
	}
	if _, err := gw.dec.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the stream error: %v, want </stream:stream>", err)
	}
}

// TestLogKeys: the lines about a component name it under "domain": the
// listener's logger already carries "component" (the part of the server,
// as every line of the server's log does), and a second "component" key
// makes the line ambiguous (a JSON log line with two keys of one name).
func TestLogKeys(t *testing.T) {
	var buf bytes.Buffer
	l := component.New(component.Options{
		Components: []component.Component{{Domain: "gw.localhost", Secret: secret}},
		Log:        slog.New(slog.NewJSONHandler(&buf, nil)).With("component", "components"),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- l.Serve(ctx, ln) }()
	attach(t, ln.Addr().String(), "gw.localhost")
	cancel()
	if err := <-served; err != nil { // Serve returns once every connection's lines are written
		t.Fatal(err)
	}
	var saw []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec struct {
			Msg string `json:"msg"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if n := strings.Count(line, `"component":`); n != 1 {
			t.Errorf("log line with %d \"component\" keys: %s", n, line)
		}
		if strings.HasPrefix(rec.Msg, "component: connected") || strings.HasPrefix(rec.Msg, "component: disconnected") {
			if !strings.Contains(line, `"domain":"gw.localhost"`) {
				t.Errorf("log line without the component's domain: %s", line)
			}
			saw = append(saw, rec.Msg)
		}
	}
	if len(saw) != 2 {
		t.Fatalf("logged %v, want the connection and the disconnection:\n%s", saw, buf.String())
	}
}

// TestFederatedComponent: a user of another server reaches a component
// of this one over server-to-server, and the component's answer reaches
// the user: the component's domain is this server's to accept stanzas
// for, and to authenticate (Server Dialback) when the component sends.
func TestFederatedComponent(t *testing.T) {
	pa, pb := freePort(t), freePort(t)
	a := xmpptest.NewServer(t, func(c *config.Config) {
		c.Domains = []string{"a.example"}
		c.S2S.Enabled = true
		c.S2S.ConnectTimeout = 10 * time.Second
		c.S2S.Routes = map[string]string{"b.example": pb}
		c.Components = []config.Component{{Domain: "gw.a.example", Secret: secret}}
		c.Listeners = append(c.Listeners,
			config.Listener{Type: config.ListenerS2S, Address: pa},
			config.Listener{Type: config.ListenerComponent, Address: "127.0.0.1:0"})
	})
	b := xmpptest.NewServer(t, func(c *config.Config) {
		c.Domains = []string{"b.example"}
		c.S2S.Enabled = true
		c.S2S.ConnectTimeout = 10 * time.Second
		c.S2S.Routes = map[string]string{"a.example": pa, "gw.a.example": pa}
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerS2S, Address: pb})
	})
	b.AddUser(t, "bob", "pw")
	bob := b.Client(t, "bob", "pw", "desk")
	gw := attach(t, a.App.Addrs(config.ListenerComponent)[0].String(), "gw.a.example")
	gw.chat(bob, "bot@gw.a.example")
}

// freePort returns a loopback address whose port was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
