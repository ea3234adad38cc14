package resolve_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/s2s/resolve"
)

func targets(t *testing.T, f *resolve.Finder, domain string) ([]resolve.Target, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return f.Targets(ctx, domain)
}

func TestTargets(t *testing.T) {
	dns := newDNSServer(t)
	// both.example: direct TLS and STARTTLS records mixed by priority.
	dns.addSRV("_xmpps-server._tcp.both.example", 5, 0, 5270, "tls.both.example")
	dns.addSRV("_xmpp-server._tcp.both.example", 10, 0, 5269, "plain.both.example")
	dns.addSRV("_xmpp-server._tcp.both.example", 1, 0, 5999, "first.both.example")
	// plain.example: STARTTLS only.
	dns.addSRV("_xmpp-server._tcp.plain.example", 0, 0, 5269, "xmpp.plain.example")
	// nodirect.example: "." for direct TLS, STARTTLS records.
	dns.addSRV("_xmpps-server._tcp.nodirect.example", 0, 0, 0, "")
	dns.addSRV("_xmpp-server._tcp.nodirect.example", 0, 0, 5269, "xmpp.nodirect.example")
	// off.example: "." for STARTTLS and nothing else; offdirect.example:
	// "." for direct TLS and nothing else.
	dns.addSRV("_xmpp-server._tcp.off.example", 0, 0, 0, "")
	dns.addSRV("_xmpps-server._tcp.offdirect.example", 0, 0, 0, "")
	// broken.example: the server fails.
	dns.failName("_xmpp-server._tcp.broken.example")
	dns.failName("_xmpps-server._tcp.broken.example")

	f := &resolve.Finder{Resolver: dns.resolver(), Routes: map[string]string{"routed.example": "127.0.0.9:15269"}, Shuffle: func(int) int { return 0 }}
	for _, tc := range []struct {
		domain string
		want   []resolve.Target
		err    error
	}{
		{"both.example", []resolve.Target{{"first.both.example", 5999, false}, {"tls.both.example", 5270, true}, {"plain.both.example", 5269, false}}, nil},
		{"plain.example", []resolve.Target{{"xmpp.plain.example", 5269, false}}, nil},
		{"nodirect.example", []resolve.Target{{"xmpp.nodirect.example", 5269, false}}, nil},
		{"none.example", []resolve.Target{{"none.example", resolve.DefaultPort, false}}, nil},
		{"routed.example", []resolve.Target{{"127.0.0.9", 15269, false}}, nil},
		{"off.example", nil, resolve.ErrNotOffered},
		{"offdirect.example", nil, resolve.ErrNotOffered},
	} {
		got, err := targets(t, f, tc.domain)
		if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("%s: err = %v, want %v", tc.domain, err, tc.err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: targets = %v, want %v", tc.domain, got, tc.want)
		}
	}
	// A failing DNS server: fall back to the domain, and say why.
	got, err := targets(t, f, "broken.example")
	if err == nil || !slices.Equal(got, []resolve.Target{{"broken.example", resolve.DefaultPort, false}}) {
		t.Errorf("broken.example: targets = %v, err = %v; want the fallback and an error", got, err)
	}
}

// TestTargetsWeights: within one priority, a record is picked with a
// chance proportional to its weight (plus one), per RFC 2782.
func TestTargetsWeights(t *testing.T) {
	dns := newDNSServer(t)
	dns.addSRV("_xmpp-server._tcp.w.example", 0, 0, 1, "zero.w.example")
	dns.addSRV("_xmpp-server._tcp.w.example", 0, 9, 2, "nine.w.example")
	dns.addSRV("_xmpp-server._tcp.w.example", 1, 50, 3, "later.w.example")
	for pick, first := range map[int]string{0: "zero.w.example", 1: "nine.w.example", 10: "nine.w.example"} {
		f := &resolve.Finder{Resolver: dns.resolver(), Shuffle: func(n int) int {
			if n != 11 && n != 10 && n != 1 && n != 51 {
				t.Errorf("Shuffle(%d): want the sum of weights + 1 of what is left", n)
			}
			return min(pick, n-1)
		}}
		got, err := targets(t, f, "w.example")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got[0].Host != first || got[2].Host != "later.w.example" {
			t.Errorf("pick %d: targets = %v, want %s first and the priority-1 record last", pick, got, first)
		}
	}
}

// TestDial: the dialer skips targets that refuse and resolves names
// through the same DNS.
func TestDial(t *testing.T) {
	dns := newDNSServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := uint16(closed.Addr().(*net.TCPAddr).Port)
	closed.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	dns.addA("up.example", [4]byte{127, 0, 0, 1})
	d := &resolve.Dialer{Dialer: &net.Dialer{Resolver: dns.resolver(), Timeout: 5 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, got, err := d.Dial(ctx, []resolve.Target{
		{Host: "127.0.0.1", Port: closedPort},
		{Host: "missing.example", Port: port},
		{Host: "up.example", Port: port},
	})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	c.Close()
	if got.Host != "up.example" {
		t.Fatalf("connected to %v, want up.example", got)
	}
	if _, _, err := d.Dial(ctx, []resolve.Target{{Host: "127.0.0.1", Port: closedPort}}); err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
}
