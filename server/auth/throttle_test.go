package auth

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

func TestThrottlePerAccount(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	clk := newClock()
	a := New(s.Accounts, Options{MaxFailuresPerAccount: 3, MaxFailuresPerIP: 100, FailureWindow: time.Minute, Now: clk.Now})
	if err := a.Create(ctx, alice, "secret-pw"); err != nil {
		t.Fatal(err)
	}
	// A client tries passwords from changing addresses.
	attempt := func(i int, pw string) error {
		ip := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		if err := a.Allow(alice, ip); err != nil {
			return err
		}
		if err := a.CheckPassword(ctx, alice, pw); err != nil {
			a.Failed(alice, ip)
			return err
		}
		a.Succeeded(alice, ip)
		return nil
	}
	for i := range 3 {
		if err := attempt(i, "guess"); !errors.Is(err, ErrNotAuthorized) {
			t.Fatalf("attempt %d = %v, want ErrNotAuthorized", i, err)
		}
		clk.Advance(time.Second)
	}
	// Now even the right password is refused, from any address.
	if err := attempt(50, "secret-pw"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("attempt after 3 failures = %v, want ErrThrottled", err)
	}
	// Other accounts are not affected.
	if err := a.Allow(bob, netip.MustParseAddr("198.51.100.1")); err != nil {
		t.Fatalf("Allow(bob) = %v", err)
	}
	// Sliding window: 58s after the first failure it still counts...
	clk.Advance(55 * time.Second) // first failure at t0, now t0+58s
	if err := a.Allow(alice, netip.Addr{}); !errors.Is(err, ErrThrottled) {
		t.Fatalf("Allow inside the window = %v, want ErrThrottled", err)
	}
	// ...and once it leaves the window one attempt is possible again.
	clk.Advance(2 * time.Second)
	if err := a.Allow(alice, netip.Addr{}); err != nil {
		t.Fatalf("Allow after the first failure expired = %v", err)
	}
	if err := attempt(60, "secret-pw"); err != nil {
		t.Fatalf("right password after recovery = %v", err)
	}
	// Success cleared the account's failures.
	for i := range 2 {
		if err := attempt(70+i, "guess"); !errors.Is(err, ErrNotAuthorized) {
			t.Fatalf("attempt = %v, want ErrNotAuthorized", err)
		}
	}
	if err := a.Allow(alice, netip.Addr{}); err != nil {
		t.Fatalf("Allow after success + 2 failures = %v, want nil", err)
	}
	// Full and bare JIDs share the counter.
	a.Failed(jid.MustParse("alice@example.org/phone"), netip.Addr{})
	if err := a.Allow(alice, netip.Addr{}); !errors.Is(err, ErrThrottled) {
		t.Fatalf("failure through a full JID not counted: %v", err)
	}
}

func TestThrottlePerIP(t *testing.T) {
	clk := newClock()
	a := New(nil, Options{MaxFailuresPerAccount: 100, MaxFailuresPerIP: 4, FailureWindow: time.Minute, Now: clk.Now})
	ip := netip.MustParseAddr("203.0.113.7")
	other := netip.MustParseAddr("203.0.113.8")
	for i := range 4 {
		u := jid.MustParse(fmt.Sprintf("user%d@example.org", i))
		if err := a.Allow(u, ip); err != nil {
			t.Fatalf("Allow before limit: %v", err)
		}
		a.Failed(u, ip)
	}
	// Any account, and the pre-auth check without one, is refused from ip.
	fresh := jid.MustParse("fresh@example.org")
	if err := a.Allow(fresh, ip); !errors.Is(err, ErrThrottled) {
		t.Fatalf("Allow(fresh, ip) = %v, want ErrThrottled", err)
	}
	if err := a.Allow(jid.JID{}, ip); !errors.Is(err, ErrThrottled) {
		t.Fatalf("Allow(zero, ip) = %v, want ErrThrottled", err)
	}
	// IPv4-mapped IPv6 is the same address.
	if err := a.Allow(fresh, netip.MustParseAddr("::ffff:203.0.113.7")); !errors.Is(err, ErrThrottled) {
		t.Fatalf("Allow(4in6) = %v, want ErrThrottled", err)
	}
	if err := a.Allow(fresh, other); err != nil {
		t.Fatalf("Allow(other ip) = %v", err)
	}
	// Success of one account does not reset the address.
	a.Succeeded(fresh, ip)
	if err := a.Allow(jid.JID{}, ip); !errors.Is(err, ErrThrottled) {
		t.Fatalf("Succeeded reset the address counter: %v", err)
	}
	clk.Advance(time.Minute)
	if err := a.Allow(fresh, ip); err != nil {
		t.Fatalf("Allow after the window = %v", err)
	}
}

func TestThrottleIPv6Prefix(t *testing.T) {
	clk := newClock()
	a := New(nil, Options{MaxFailuresPerIP: 2, Now: clk.Now})
	a.Failed(jid.JID{}, netip.MustParseAddr("2001:db8:1:2::1"))
	a.Failed(jid.JID{}, netip.MustParseAddr("2001:db8:1:2:ffff::9"))
	if err := a.Allow(jid.JID{}, netip.MustParseAddr("2001:db8:1:2:abcd::1")); !errors.Is(err, ErrThrottled) {
		t.Fatalf("same /64 = %v, want ErrThrottled", err)
	}
	if err := a.Allow(jid.JID{}, netip.MustParseAddr("2001:db8:1:3::1")); err != nil {
		t.Fatalf("other /64 = %v", err)
	}
}

func TestThrottleDisabled(t *testing.T) {
	a := New(nil, Options{})
	ip := netip.MustParseAddr("192.0.2.1")
	for range 1000 {
		a.Failed(alice, ip)
	}
	if err := a.Allow(alice, ip); err != nil {
		t.Fatalf("zero limits should disable throttling: %v", err)
	}
	if a.byAccount.size() != 0 || a.byIP.size() != 0 {
		t.Fatal("disabled limiter tracks entries")
	}
}

func TestThrottleBounded(t *testing.T) {
	clk := newClock()
	a := New(nil, Options{MaxFailuresPerAccount: 3, MaxFailuresPerIP: 3, MaxTracked: 50, FailureWindow: time.Minute, Now: clk.Now})
	for i := range 1000 {
		u := jid.MustParse(fmt.Sprintf("u%d@example.org", i))
		a.Failed(u, netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
		if n := a.byAccount.size(); n > 50 {
			t.Fatalf("account table grew to %d, cap 50", n)
		}
		if n := a.byIP.size(); n > 50 {
			t.Fatalf("address table grew to %d, cap 50", n)
		}
	}
	// The failure timestamps per key are bounded too.
	for range 100 {
		a.Failed(alice, netip.Addr{})
	}
	a.byAccount.mu.Lock()
	n := len(a.byAccount.failures[alice.String()])
	a.byAccount.mu.Unlock()
	if n != 3 {
		t.Fatalf("alice has %d recorded failures, want max 3", n)
	}
	// Once the window passes, the next operation sweeps expired entries.
	clk.Advance(2 * time.Minute)
	a.Failed(bob, netip.MustParseAddr("192.0.2.9"))
	if a.byAccount.size() != 1 || a.byIP.size() != 1 {
		t.Fatalf("after expiry: %d accounts, %d addresses tracked; want 1, 1", a.byAccount.size(), a.byIP.size())
	}
}
