package auth

import (
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// testThrottle is a throttle small enough to walk through by hand.
var testThrottle = Throttle{FreePerAccount: 3, FreePerAddress: 10, Delay: time.Second, MaxDelay: 8 * time.Second, Window: 10 * time.Minute}

// Failures of one account from one address slow down that account's
// logins from there, with a delay doubling per failure up to the cap,
// and leave its logins from any other address alone: a stranger cannot
// lock (or even slow) a user out from elsewhere.
func TestThrottlePerAccountAndAddress(t *testing.T) {
	clk := newClock()
	a := New(nil, Options{Throttle: testThrottle, Now: clk.Now})
	attacker := netip.MustParseAddr("198.51.100.1")
	home := netip.MustParseAddr("203.0.113.5")
	for i := range 3 {
		if d := a.LoginDelay(alice, attacker); d != 0 {
			t.Fatalf("attempt %d delayed %v before the free failures were used", i, d)
		}
		a.Failed(alice, attacker)
	}
	// Sequential attempts: each waits the delay after the last failure,
	// doubling, capped at MaxDelay.
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
		if d := a.LoginDelay(alice, attacker); d != want {
			t.Fatalf("delayed attempt %d waits %v, want %v", i, d, want)
		}
		clk.Advance(want)
		a.Failed(alice, attacker)
	}
	// The account from another address, and another account from the
	// attacker's address (below the address limit), are not delayed.
	if d := a.LoginDelay(alice, home); d != 0 {
		t.Fatalf("alice from home waits %v", d)
	}
	if d := a.LoginDelay(bob, attacker); d != 0 {
		t.Fatalf("bob from the attacker's address waits %v", d)
	}
	// The count holds while failures come less than a window apart: a
	// failure 9 minutes later still owes the capped delay...
	clk.Advance(9 * time.Minute)
	a.Failed(alice, attacker)
	if d := a.LoginDelay(alice, attacker); d != 8*time.Second {
		t.Fatalf("a failure 9 minutes after the last: next waits %v, want 8s", d)
	}
	// ...and a whole window without a failure forgets it.
	clk.Advance(10 * time.Minute)
	a.Failed(alice, attacker)
	if d := a.LoginDelay(alice, attacker); d != 0 {
		t.Fatalf("a failure after a quiet window: next waits %v, want none", d)
	}
}

// Parallel attempts of one key do not all wait the same delay: each
// books the next turn, so that many connections gain nothing. No wait
// exceeds MaxDelay.
func TestThrottleSpacesParallelAttempts(t *testing.T) {
	clk := newClock()
	a := New(nil, Options{Throttle: testThrottle, Now: clk.Now})
	ip := netip.MustParseAddr("198.51.100.1")
	for range 3 {
		a.Failed(alice, ip)
	}
	var got []time.Duration
	for range 12 {
		got = append(got, a.LoginDelay(alice, ip))
	}
	want := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8, 8}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("parallel waits %v, want 1s, 2s, ... capped at 8s", got)
		}
	}
}

// A successful login clears the account's failures from that address,
// not the address's own count (else one owned account would reset it).
func TestThrottleSuccessResetsPair(t *testing.T) {
	clk := newClock()
	a := New(nil, Options{Throttle: Throttle{FreePerAccount: 2, FreePerAddress: 3, Delay: time.Second, MaxDelay: 8 * time.Second}, Now: clk.Now})
	ip := netip.MustParseAddr("198.51.100.1")
	a.Failed(alice, ip)
	a.Failed(alice, ip)
	if d := a.LoginDelay(alice, ip); d == 0 {
		t.Fatal("no delay after the free failures")
	}
	clk.Advance(time.Second)
	a.Succeeded(alice, ip)
	if d := a.LoginDelay(alice, ip); d != 0 {
		t.Fatalf("after a success: waits %v", d)
	}
	// The address had 2 failures; one more reaches its limit of 3, and
	// a success does not clear it.
	a.Failed(bob, ip)
	a.Succeeded(bob, ip)
	if d := a.LoginDelay(jid.MustParse("carol@example.org"), ip); d == 0 {
		t.Fatal("a success cleared the address's failures")
	}
}

// Failures across accounts from one address slow down every login from
// it, and only from it; an IPv6 /64 is one address, an IPv4-mapped
// address is its IPv4 address.
func TestThrottlePerAddress(t *testing.T) {
	clk := newClock()
	a := New(nil, Options{Throttle: testThrottle, Now: clk.Now})
	for i := range 10 {
		a.Failed(jid.MustParse(fmt.Sprintf("user%d@example.org", i)), netip.MustParseAddr(fmt.Sprintf("2001:db8:1:2::%x", i+1)))
	}
	fresh := jid.MustParse("fresh@example.org")
	if d := a.LoginDelay(fresh, netip.MustParseAddr("2001:db8:1:2:abcd::1")); d != time.Second {
		t.Fatalf("same /64 waits %v, want 1s", d)
	}
	if d := a.LoginDelay(fresh, netip.MustParseAddr("2001:db8:1:3::1")); d != 0 {
		t.Fatalf("other /64 waits %v", d)
	}
	v4 := netip.MustParseAddr("192.0.2.7")
	for i := range 10 {
		a.Failed(jid.MustParse(fmt.Sprintf("user%d@example.org", i)), v4)
	}
	if d := a.LoginDelay(fresh, netip.MustParseAddr("::ffff:192.0.2.7")); d == 0 {
		t.Fatal("IPv4-mapped address not counted as its IPv4 address")
	}
	// Unknown addresses are never delayed.
	if d := a.LoginDelay(fresh, netip.Addr{}); d != 0 {
		t.Fatalf("invalid address waits %v", d)
	}
}

func TestThrottleDisabled(t *testing.T) {
	a := New(nil, Options{Throttle: Throttle{MaxDelay: -1}})
	ip := netip.MustParseAddr("192.0.2.1")
	for range 1000 {
		a.Failed(alice, ip)
	}
	if d := a.LoginDelay(alice, ip); d != 0 {
		t.Fatalf("disabled throttle delays %v", d)
	}
	if p, ad := a.throttle.size(); p != 0 || ad != 0 {
		t.Fatal("disabled throttle tracks entries")
	}
}

// Deleting an account forgets its failures from every address.
func TestThrottleForgetsDeletedAccount(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	a := New(s.Accounts, Options{Throttle: testThrottle})
	if err := a.Create(ctx, alice, "pw-alice"); err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("192.0.2.1")
	for range 5 {
		a.Failed(alice, ip)
	}
	if err := a.Delete(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if p, _ := a.throttle.size(); p != 0 {
		t.Fatalf("%d pair records left after deletion", p)
	}
}

func TestThrottleBounded(t *testing.T) {
	clk := newClock()
	a := New(nil, Options{Throttle: Throttle{FreePerAccount: 3, FreePerAddress: 3, MaxTracked: 50, Window: time.Minute}, Now: clk.Now})
	for i := range 1000 {
		u := jid.MustParse(fmt.Sprintf("u%d@example.org", i))
		a.Failed(u, netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
		if p, ad := a.throttle.size(); p > 50 || ad > 50 {
			t.Fatalf("tables grew to %d pairs, %d addresses; cap 50", p, ad)
		}
	}
	// Once the window passes, the next operation sweeps expired entries.
	clk.Advance(2 * time.Minute)
	a.Failed(bob, netip.MustParseAddr("192.0.2.10"))
	if p, ad := a.throttle.size(); p != 1 || ad != 1 {
		t.Fatalf("after expiry: %d pairs, %d addresses tracked; want 1, 1", p, ad)
	}
}

// BenchmarkThrottleFull measures what full tables cost: an attacker
// failing for as many (account, address) pairs as the throttle tracks,
// with long names. Reported: heap bytes per tracked pair (with its
// address record).
func BenchmarkThrottleFull(b *testing.B) {
	const n = 100_000
	long := strings.Repeat("x", 1000)
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		th := newThrottle(Throttle{}, time.Now)
		for i := range n {
			th.fail(fmt.Sprintf("%s%d@example.org", long, i), netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if p, a := th.size(); p != n || a != n {
			b.Fatalf("%d pairs, %d addresses", p, a)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/pair")
		runtime.KeepAlive(th)
	}
}
