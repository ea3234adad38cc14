package stream_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// A client sending faster than limits.rate allows is read more slowly:
// all it sent arrives, in order, and no sooner than the rate permits
// after the burst (a lower bound on the time taken, which a slow machine
// only makes longer).
func TestRateLimitReadsSlowerDropsNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rate  config.Rate
		count int
		size  int
		least time.Duration
	}{
		// 24 messages of 4 KiB and more at 32 KiB/s after 32 KiB: 2 s.
		{"bytes", config.Rate{BytesPerSecond: 32 << 10, Burst: time.Second}, 24, 4 << 10, 2 * time.Second},
		// 30 messages at 10/s after 10 (the burst): 2 s.
		{"stanzas", config.Rate{StanzasPerSecond: 10, Burst: time.Second}, 30, 16, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, bob := newServer(t, func(c *config.Config) { c.Limits.Rate = tc.rate })
			carol := s.Client(t, "carol", "pw", "fast")
			filler := strings.Repeat("x", tc.size)
			start := time.Now()
			sent := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				for i := range tc.count {
					if err := carol.Send(ctx, stanza.NewMessage(stanza.TypeChat, bob.JID().String(), fmt.Sprintf("%d %s", i, filler))); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()
			for i := range tc.count {
				m := nextMessage(t, bob)
				if want := fmt.Sprintf("%d %s", i, filler); m.ChildText(stanza.NSClient, "body") != want {
					t.Fatalf("message %d: got %.20q", i, m.ChildText(stanza.NSClient, "body"))
				}
			}
			took := time.Since(start)
			if err := <-sent; err != nil {
				t.Fatal(err)
			}
			t.Logf("%d messages of %d bytes in %v", tc.count, tc.size, took)
			if took < tc.least {
				t.Fatalf("%d messages of %d bytes arrived in %v: the rate %+v allows no less than %v", tc.count, tc.size, took, tc.rate, tc.least)
			}
			alive(t, carol, bob) // still connected
		})
	}
}

// Before authentication limits.preauth_rate applies, from then on
// limits.rate: here a slow first and none after.
func TestPreauthRateThenSessionRate(t *testing.T) {
	s, _, bob := newServer(t, func(c *config.Config) {
		c.Limits.PreauthRate = config.Rate{BytesPerSecond: 1024, Burst: time.Second}
		c.Limits.Rate = config.Rate{}
	})
	r := dialRaw(t, s)
	r.open()
	start := time.Now()
	// 3 KiB of whitespace (allowed between elements) before <starttls/>:
	// at 1 KiB/s after a 1 KiB burst, <proceed/> comes after 2 s at the
	// earliest.
	r.write(strings.Repeat(" ", 3<<10))
	r.startTLS(nil)
	if took := time.Since(start); took < 2*time.Second {
		t.Fatalf("3 KiB before authentication read in %v; the preauth rate allows no less than 2s", took)
	}
	r.login(sasl.Plain, "carol", "pw")
	r.bind("after")
	// Authenticated: 128 KiB go through without the preauth rate (which
	// would take two minutes).
	filler := strings.Repeat("y", 1<<10)
	const count = 128
	start = time.Now()
	for i := range count {
		r.send(stanza.NewMessage(stanza.TypeChat, bob.JID().String(), fmt.Sprintf("%d %s", i, filler)))
	}
	for i := range count {
		m := nextMessage(t, bob)
		if want := fmt.Sprintf("%d %s", i, filler); m.ChildText(stanza.NSClient, "body") != want {
			t.Fatalf("message %d: got %.20q", i, m.ChildText(stanza.NSClient, "body"))
		}
	}
	t.Logf("128 KiB after authentication in %v", time.Since(start))
}
