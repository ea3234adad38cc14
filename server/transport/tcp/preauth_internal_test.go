package tcp

import (
	"net/netip"
	"testing"
)

// IPv4 addresses count one by one, IPv6 ones by /64, and an IPv4-mapped
// IPv6 address as the IPv4 address.
func TestAddrKey(t *testing.T) {
	same := [][2]string{
		{"192.0.2.1", "::ffff:192.0.2.1"},
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"},
	}
	differ := [][2]string{
		{"192.0.2.1", "192.0.2.2"},
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
	}
	key := func(s string) netip.Addr { return addrKey(netip.MustParseAddr(s)) }
	for _, p := range same {
		if key(p[0]) != key(p[1]) {
			t.Errorf("%s and %s counted apart (%s, %s)", p[0], p[1], key(p[0]), key(p[1]))
		}
	}
	for _, p := range differ {
		if key(p[0]) == key(p[1]) {
			t.Errorf("%s and %s counted together", p[0], p[1])
		}
	}
}

// The counter caps each key and forgets keys with no connection left.
func TestAddrCounter(t *testing.T) {
	var a AddrCounter
	k := netip.MustParseAddr("192.0.2.1")
	for i := range 3 {
		if n, ok := a.take(k, 3); !ok || n != i {
			t.Fatalf("take %d: %d, %v", i, n, ok)
		}
	}
	if _, ok := a.take(k, 3); ok {
		t.Fatal("a fourth connection taken with a cap of 3")
	}
	if _, ok := a.take(netip.MustParseAddr("192.0.2.2"), 3); !ok {
		t.Fatal("another address refused")
	}
	a.release(k)
	if _, ok := a.take(k, 3); !ok {
		t.Fatal("a released place not reused")
	}
	for range 3 {
		a.release(k)
	}
	a.release(netip.MustParseAddr("192.0.2.2"))
	if len(a.n) != 0 {
		t.Fatalf("%d keys left with no connection", len(a.n))
	}
}
