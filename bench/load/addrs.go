package load

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// DefaultSources is the loopback range connections are spread over: each
// source address has its own 64k ephemeral ports towards one server port.
const DefaultSources = "127.0.0.2-127.0.0.250"

// maxSources bounds a source range.
const maxSources = 1 << 16

// Sources is a list of local IPv4 or IPv6 addresses to bind outgoing
// connections to, used round-robin. The zero value binds nothing.
type Sources struct {
	addrs []netip.Addr
}

// ParseSources parses "" (let the kernel choose), a range "A-B" of IPv4
// addresses, or a comma-separated list. Only loopback addresses are
// accepted: the generator is meant for a server on the same machine.
func ParseSources(spec string) (*Sources, error) {
	s := &Sources{}
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return s, nil
	}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := netip.ParseAddr(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("load: source address %q: %w", lo, err)
		}
		b := a
		if isRange {
			if b, err = netip.ParseAddr(strings.TrimSpace(hi)); err != nil {
				return nil, fmt.Errorf("load: source address %q: %w", hi, err)
			}
			if !a.Is4() || !b.Is4() || b.Less(a) {
				return nil, fmt.Errorf("load: source range %q must be increasing IPv4 addresses", part)
			}
		}
		for x := a; ; x = x.Next() {
			if !x.IsLoopback() {
				return nil, fmt.Errorf("load: source address %s is not a loopback address", x)
			}
			if len(s.addrs) >= maxSources {
				return nil, fmt.Errorf("load: more than %d source addresses", maxSources)
			}
			s.addrs = append(s.addrs, x)
			if x == b {
				break
			}
		}
	}
	return s, nil
}

// Len returns the number of addresses.
func (s *Sources) Len() int {
	if s == nil {
		return 0
	}
	return len(s.addrs)
}

// For returns the local address for connection i, or nil when no sources
// are configured.
func (s *Sources) For(i int) *net.TCPAddr {
	if s.Len() == 0 {
		return nil
	}
	if i < 0 {
		i = -i
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(s.addrs[i%len(s.addrs)], 0))
}
