package stream_test

import (
	"context"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
	"github.com/parley-xmpp/parley/xmpptest"
)

// loginRawTLS connects to the direct-TLS listener (XEP-0368),
// authenticates with PLAIN and binds.
func loginRawTLS(t testing.TB, s *xmpptest.Server, user, password, resource string) *raw {
	t.Helper()
	r := dialRawTLS(t, s, nil)
	r.open()
	r.login(sasl.Plain, user, password)
	r.bind(resource)
	return r
}

// parkQuickly makes idle sessions park after 100 ms.
func parkQuickly(c *config.Config) { c.Limits.ParkAfter = 100 * time.Millisecond }

// waitParks waits until the server has parked at least n readers in all.
func waitParks(t *testing.T, s *xmpptest.Server, n uint64) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for s.App.Parks() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d readers parked, want %d", s.App.Parks(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Sessions whose readers parked still receive (the write side rebuilds its
// cipher state) and send (the socket wakes the reader), over and over.
func TestParkedSessionsKeepWorking(t *testing.T) {
	s, alice, bob := newServer(t, parkQuickly)
	waitParks(t, s, 2)
	for round := range 4 {
		base := s.App.Parks() // alice and bob are parked
		alive(t, alice, bob)
		alive(t, bob, alice)
		waitParks(t, s, base+2) // each woke by sending, each parks again
		if round == 2 {
			// Direct TLS too, and a stanza split across two TLS records
			// with more than park_after in between: the partial stanza
			// is kept (no park mid-stanza) and completed.
			r := loginRawTLS(t, s, "carol", "pw", "park")
			p := s.App.Parks()
			waitParks(t, s, p+1)
			msg := stanza.NewMessage(stanza.TypeChat, alice.JID().String(), "split")
			b := msg.AppendXML(nil, stanza.NSClient)
			r.write(string(b[:10]))
			time.Sleep(300 * time.Millisecond)
			r.write(string(b[10:]))
			if got := nextMessage(t, alice); got.ChildText(stanza.NSClient, "body") != "split" {
				t.Fatalf("alice got %s", got)
			}
			waitParks(t, s, p+2) // carol, once the stanza is complete
		}
	}
}

// The idle ping (XEP-0199) and its timeout still apply to a parked reader.
func TestParkedSessionIsPingedAndClosed(t *testing.T) {
	s := startServer(t, parkQuickly, func(c *config.Config) {
		c.Limits.IdlePing = 700 * time.Millisecond
		c.Limits.PingTimeout = 700 * time.Millisecond
	})
	s.AddUser(t, "dead", "pw")
	dead := loginRawTLS(t, s, "dead", "pw", "r")
	ping := dead.mustNext()
	if ping.Child(nsPing, "ping") == nil {
		t.Fatalf("expected a ping, got %s", ping)
	}
	if s.App.Parks() == 0 {
		t.Error("the session never parked before its ping")
	}
	dead.expectStreamError(stream.ConnectionTimeout)
}

// Parked sessions are closed cleanly when the server stops.
func TestParkedSessionEnds(t *testing.T) {
	s, alice, _ := newServer(t, parkQuickly)
	r := loginRawTLS(t, s, "carol", "pw", "gone")
	waitParks(t, s, 3)
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	s.App.Stop(ctx)
	r.expectStreamError(stream.SystemShutdown)
	for { // alice, parked too, sees her stream end
		if _, err := alice.Recv(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("alice's stream did not end at shutdown")
			}
			return
		}
	}
}

// A parked session closed from elsewhere (here: replaced by a new session
// with its resource) gets its stream error and ends: the close wakes it.
func TestParkedSessionReplaced(t *testing.T) {
	s, _, _ := newServer(t, parkQuickly)
	old := loginRawTLS(t, s, "carol", "pw", "same")
	p := s.App.Parks()
	waitParks(t, s, p+1)
	loginRawTLS(t, s, "carol", "pw", "same")
	old.expectStreamError(stream.Conflict)
}
