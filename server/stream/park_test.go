package stream_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
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

// Many parked sessions whose clients all go at once each end properly,
// whichever way their client went: a closing tag (answered with the
// server's), a TLS close_notify, or the TCP connection dropped. Each
// wake-up reads the end of its input and tears its session down with
// nothing of the parked state left behind: no session stays bound.
func TestManyParkedSessionsCloseAtOnce(t *testing.T) {
	const n = 45
	s := startServer(t, parkQuickly)
	sessions := make([]*raw, n)
	for i := range sessions {
		user := fmt.Sprintf("storm%d", i)
		s.AddUser(t, user, "pw")
		sessions[i] = loginRawTLS(t, s, user, "pw", "r")
	}
	table := s.App.Router().Sessions()
	if got := table.Count(); got != n {
		t.Fatalf("%d sessions bound, want %d", got, n)
	}
	waitParks(t, s, n)
	var wg sync.WaitGroup
	for i, r := range sessions {
		wg.Go(func() {
			switch i % 3 {
			case 0: // a clean close: the server answers with its closing tag
				r.write("</stream:stream>")
			case 1: // TLS close_notify, then the socket
				_ = r.tls.Close()
			case 2: // the TCP connection dropped, no TLS alert
				_ = r.tls.NetConn().Close()
			}
		})
	}
	wg.Wait()
	for i := 0; i < n; i += 3 {
		r := sessions[i]
		if el, err := r.next(); !errors.Is(err, io.EOF) {
			t.Errorf("session %d: got %v, %v; want the server's closing tag", i, el, err)
		}
		r.expectClosed()
	}
	xmpptest.Eventually(t, "every stormed session unbound", func() bool { return table.Count() == 0 })
	// The accounts log in again and work: nothing of the storm is left
	// in their way.
	a := loginRawTLS(t, s, "storm0", "pw", "r")
	b := loginRawTLS(t, s, "storm1", "pw", "r")
	a.send(stanza.NewMessage(stanza.TypeChat, b.full.String(), "after the storm"))
	if got := b.expectMessage("after the storm"); got.From() != a.full.String() {
		t.Errorf("message from %q, want %q", got.From(), a.full)
	}
}
