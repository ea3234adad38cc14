package turn

import (
	"net"
	"net/netip"
)

// Peers decides which peer addresses the relay may send to (TURN
// CreatePermission and ChannelBind). By default it refuses the server's
// own networks and addresses that are not a single remote host, so that
// the relay cannot reach services the Internet cannot (the server-side
// request forgery TURN servers are prone to): loopback, private (RFC
// 1918, unique local), shared (RFC 6598), link-local, multicast,
// broadcast, unspecified and reserved ranges. Allow lists ranges to relay
// to anyway (a LAN deployment); Deny adds ranges to refuse.
type Peers struct {
	Allow, Deny []netip.Prefix
}

// special are ranges refused by default besides those netip classifies
// (loopback, private, link-local, multicast, unspecified).
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (carrier-grade NAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: embeds IPv4 addresses
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds IPv4 addresses
	netip.MustParsePrefix("2001::/32"),       // Teredo: embeds IPv4 addresses
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated
}

// Allowed reports whether the relay may send to ip, with the reason when
// not.
func (p Peers) Allowed(ip net.IP) (bool, string) {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false, "not an IP address"
	}
	a = a.Unmap()
	for _, d := range p.Deny {
		if d.Contains(a) {
			return false, "denied by configuration"
		}
	}
	for _, al := range p.Allow {
		if al.Contains(a) {
			return true, ""
		}
	}
	switch {
	case a.IsLoopback():
		return false, "loopback address"
	case a.IsPrivate():
		return false, "private address"
	case a.IsLinkLocalUnicast():
		return false, "link-local address"
	case a.IsMulticast():
		return false, "multicast address"
	case a.IsUnspecified():
		return false, "unspecified address"
	}
	for _, s := range special {
		if s.Contains(a) {
			return false, "reserved address " + s.String()
		}
	}
	return true, ""
}
