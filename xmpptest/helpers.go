package xmpptest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Wait bounds every helper below that waits for the server: a test that
// gets no answer within it fails instead of hanging.
const Wait = 5 * time.Second

// nsPing is the XEP-0199 namespace Sync pings the server with.
const nsPing = "urn:xmpp:ping"

// Send sends a stanza, failing the test on error.
func Send(t testing.TB, c *client.Client, st *stanza.Element) {
	t.Helper()
	if err := c.Send(Context(t, Wait), st); err != nil {
		t.Fatalf("%s: send: %v", c.JID(), err)
	}
}

// Expect reads the stanzas c receives until one matches, skipping the
// others, and fails the test if none does within Wait. what names the
// awaited stanza in the failure.
func Expect(t testing.TB, c *client.Client, what string, match func(*stanza.Element) bool) *stanza.Element {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	for {
		st, err := c.Recv(ctx)
		if err != nil {
			t.Fatalf("%s: waiting for %s: %v", c.JID(), what, err)
		}
		if match(st) {
			return st
		}
	}
}

// Never reads what c receives for d and fails the test if a stanza
// matches; what names the stanza that must not come. It proves an absence
// only as far as d allows: wait for a later stanza with Expect instead
// when there is one to wait for.
func Never(t testing.TB, c *client.Client, what string, d time.Duration, match func(*stanza.Element) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		st, err := c.Recv(ctx)
		if err != nil {
			return
		}
		if match(st) {
			t.Fatalf("%s got %s: %s", c.JID(), what, st)
		}
	}
}

// NextMessage returns the next message c receives, skipping presences
// and anything else that is not a message.
func NextMessage(t testing.TB, c *client.Client) *stanza.Element {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	for {
		st, err := c.Recv(ctx)
		if err != nil {
			t.Fatalf("%s: no message: %v", c.JID(), err)
		}
		if st.Name.Local == "message" {
			return st
		}
	}
}

// Eventually polls cond until it holds, failing the test with what if it
// does not within Wait. Use it for state the server changes in the
// background (a session unbound, a registration removed), never to wait
// for a stanza: Expect does that.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for delay := time.Millisecond; !cond(); delay = min(2*delay, 20*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(delay)
	}
}

// Sync pings the server from c and waits for the answer. The server
// handles a session's stanzas in order, so when the answer comes back
// everything c sent before it has been processed: routed, stored,
// delivered to the recipients' queues. An error reply (a server without
// the ping module) is a round trip too.
func Sync(t testing.TB, c *client.Client) {
	t.Helper()
	ping := stanza.NewIQ(stanza.TypeGet, "", c.JID().Domain(), stanza.New(nsPing, "ping"))
	_, err := c.SendIQ(Context(t, Wait), ping)
	var se *stanza.Error
	if err != nil && !errors.As(err, &se) {
		t.Fatalf("%s: sync: %v", c.JID(), err)
	}
}

// Clock is a fake server clock for NewServerWithClock: it stands still
// until the test steps it, so that timestamps the server takes (archive
// stamps, delays) are as distinct as the test makes them, without sleeps.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Step moves the clock forward by d.
func (c *Clock) Step(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Parse parses one element written as XML, failing the test if it is
// not well-formed.
func Parse(t testing.TB, xml string) *stanza.Element {
	t.Helper()
	el, err := stream.ParseElement([]byte(xml), stream.DefaultLimits())
	if err != nil {
		t.Fatalf("parse %s: %v", xml, err)
	}
	return el
}

// Buffer collects what a logger writes, safe for the logger's
// goroutines while a test reads it.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write implements io.Writer.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
