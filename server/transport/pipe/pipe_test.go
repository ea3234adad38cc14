package pipe_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/mod/ping"
	"github.com/parley-xmpp/parley/server/router"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/stream"
	"github.com/parley-xmpp/parley/server/transport/pipe"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

const (
	domain   = "example.com"
	password = "correct horse"
	nsSASL   = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind   = "urn:ietf:params:xml:ns:xmpp-bind"
	nsPing   = "urn:xmpp:ping"
)

// passwords is an Authenticator that knows one password for everyone.
type passwords struct{}

func (passwords) SCRAMKey(context.Context, jid.JID, string) (storage.SCRAMKey, error) {
	return storage.SCRAMKey{}, storage.ErrNotFound
}

func (passwords) CheckPassword(_ context.Context, _ jid.JID, pw string) error {
	if pw != password {
		return errors.New("wrong password")
	}
	return nil
}
func (passwords) CheckEnabled(context.Context, jid.JID) error  { return nil }
func (passwords) LoginDelay(jid.JID, netip.Addr) time.Duration { return 0 }
func (passwords) Failed(jid.JID, netip.Addr)                   {}
func (passwords) Succeeded(jid.JID, netip.Addr)                {}
func (passwords) RevokedSince(jid.JID, time.Time) bool         { return false }

// client is a test client on the client end of a pipe.
type client struct {
	t *testing.T
	c *pipe.Client
}

func (c *client) send(el *stanza.Element) {
	c.t.Helper()
	if err := c.c.Send(el); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *client) next() *stanza.Element {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	el, err := c.c.Next()
	if err != nil {
		c.t.Fatalf("reading: %v", err)
	}
	if se := xstream.ParseStreamError(el); se != nil {
		c.t.Fatalf("stream error: %v", se)
	}
	return el
}

// open sends a stream header and returns the features the engine offers.
func (c *client) open() *stanza.Element {
	c.t.Helper()
	if err := c.c.Open(xstream.Header{To: domain, Version: "1.0", ContentNS: stanza.NSClient}); err != nil {
		c.t.Fatalf("open: %v", err)
	}
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	h, err := c.c.ReadHeader()
	if err != nil || h.From != domain || h.ID == "" {
		c.t.Fatalf("the engine's stream header: %+v, %v", h, err)
	}
	f := c.next()
	if f.Name.Space != stanza.NSStream || f.Name.Local != "features" {
		c.t.Fatalf("expected stream features, got %s", f)
	}
	return f
}

// login authenticates user with SASL PLAIN and binds resource res.
func login(t *testing.T, eng *stream.Server, user, res string) (*client, jid.JID) {
	t.Helper()
	srv, cl := pipe.New()
	t.Cleanup(func() { cl.Close() })
	eng.Accept(t.Context(), srv)
	c := &client{t: t, c: cl}
	f := c.open()
	var mechs []string
	for _, m := range f.Child(nsSASL, "mechanisms").Elements() {
		mechs = append(mechs, m.Text())
	}
	// Secure, without channel bindings: SCRAM and PLAIN, no -PLUS.
	want := []string{sasl.ScramSHA256, sasl.ScramSHA1, sasl.Plain}
	if len(mechs) != len(want) {
		t.Fatalf("mechanisms %v, want %v", mechs, want)
	}
	for i := range want {
		if mechs[i] != want[i] {
			t.Fatalf("mechanisms %v, want %v", mechs, want)
		}
	}
	creds := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	c.send(stanza.New(nsSASL, "auth", "mechanism", sasl.Plain).AppendText(creds))
	if el := c.next(); el.Name.Local != "success" {
		t.Fatalf("authentication: %s", el)
	}
	if f := c.open(); f.Child(nsBind, "bind") == nil {
		t.Fatalf("no resource binding offered after authentication: %s", f)
	}
	c.send(stanza.NewIQ(stanza.TypeSet, "bind1", "", stanza.New(nsBind, "bind").Append(stanza.New(nsBind, "resource").AppendText(res))))
	reply := c.next()
	full, err := jid.Parse(reply.Child(nsBind, "bind").ChildText(nsBind, "jid"))
	if reply.Type() != stanza.TypeResult || err != nil {
		t.Fatalf("bind: %s", reply)
	}
	return c, full
}

// Two clients log in over pipes, with no socket anywhere: SASL PLAIN,
// resource binding, a message from one to the other (through the
// router and the session table) with its 'from' stamped, a ping to the
// server, and the close of the stream.
func TestLoginOverPipe(t *testing.T) {
	r := router.New(router.Options{Domains: []string{domain}})
	if err := r.Register(ping.New()); err != nil {
		t.Fatal(err)
	}
	eng := stream.New(stream.Config{Router: r, Sessions: r.Sessions(), Auth: passwords{}, AllowPLAIN: true, FakeSecret: []byte("secret")})
	t.Cleanup(func() { eng.Shutdown(context.Background()) }) // after the clients' cleanups

	alice, aliceJID := login(t, eng, "alice", "home")
	bob, bobJID := login(t, eng, "bob", "phone")
	if aliceJID.String() != "alice@"+domain+"/home" || bobJID.String() != "bob@"+domain+"/phone" {
		t.Fatalf("bound %s and %s", aliceJID, bobJID)
	}

	msg := stanza.NewMessage(stanza.TypeChat, bobJID.String(), "hello over a pipe")
	alice.send(msg)
	got := bob.next()
	if stanza.KindOf(got) != stanza.KindMessage || got.From() != aliceJID.String() || got.ChildText(stanza.NSClient, "body") != "hello over a pipe" {
		t.Fatalf("bob got %s", got)
	}

	alice.send(stanza.NewIQ(stanza.TypeGet, "p1", domain, stanza.New(nsPing, "ping")))
	pong := alice.next()
	if pong.Type() != stanza.TypeResult || pong.ID() != "p1" {
		t.Fatalf("ping answered with %s", pong)
	}

	if err := alice.c.CloseStream(); err != nil {
		t.Fatal(err)
	}
	_ = alice.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if el, err := alice.c.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after closing the stream: %v, %v; want the engine's close", el, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for eng.Count() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams open after alice left, want 1", eng.Count())
		}
		time.Sleep(time.Millisecond)
	}
}
