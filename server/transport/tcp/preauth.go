package tcp

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/stream"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// AddrCounter counts the unauthenticated connections of each client
// address, for Config.PreauthPerAddress. The listeners of one server
// share one (Config.Preauth), so that the cap holds across them.
type AddrCounter struct {
	mu sync.Mutex
	n  map[netip.Addr]int
}

// take counts one more connection for key unless it already has most
// (0: no cap), and reports whether it did, with the count before.
func (a *AddrCounter) take(key netip.Addr, most int) (int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.n[key]
	if most > 0 && n >= most {
		return n, false
	}
	if a.n == nil {
		a.n = make(map[netip.Addr]int)
	}
	a.n[key] = n + 1
	return n, true
}

// release counts one connection of key less.
func (a *AddrCounter) release(key netip.Addr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := a.n[key]; n > 1 {
		a.n[key] = n - 1
	} else {
		delete(a.n, key) // the map holds only addresses with connections
	}
}

// addrKey is the address connections are counted under: an IPv4
// address, or the /64 of an IPv6 one (one subscriber's network, which a
// single host may fill with addresses of its choosing).
func addrKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is4() {
		return a
	}
	p, err := a.Prefix(64)
	if err != nil {
		return a
	}
	return p.Addr()
}

// admit counts a new connection against Config.PreauthPerAddress and
// returns the key it is counted under; the zero key when there is no
// cap. Past the cap it refuses the connection and reports false: on a
// STARTTLS listener with a stream header and <policy-violation/>
// (RFC 6120 §4.9.3.14: the address broke a local policy; not
// <connection-timeout/>, which is about inactivity, nor
// <resource-constraint/>, which would say the server itself is short),
// on a direct TLS listener by closing it, as no TLS handshake is spent
// on it.
func (l *Listener) admit(nc net.Conn) (netip.Addr, bool) {
	most := l.cfg.PreauthPerAddress
	if most <= 0 {
		return netip.Addr{}, true
	}
	ap, err := netip.ParseAddrPort(nc.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}, true // not TCP/IP: nothing to count by
	}
	key := addrKey(ap.Addr())
	n, ok := l.cfg.Preauth.take(key, most)
	if ok {
		return key, true
	}
	l.log.Info("c2s: too many unauthenticated connections from one address, refused",
		"remote", nc.RemoteAddr().String(), "counted_as", key.String(), "open", n, "max", most)
	if !l.cfg.DirectTLS {
		buf := xstream.AppendHeader(nil, xstream.Header{ID: stream.NewID(), Version: "1.0", Lang: "en", ContentNS: stanza.NSClient})
		buf = appendStreamElement(buf, (&xstream.Error{Condition: xstream.PolicyViolation, Text: "too many unauthenticated connections from your address"}).Element())
		buf = append(buf, xstream.Close...)
		// A new connection's send buffer is empty: this does not block.
		_ = nc.SetWriteDeadline(l.clk.now().Add(time.Second))
		_, _ = nc.Write(buf)
	}
	nc.Close()
	return netip.Addr{}, false
}

// releasePreauth stops counting the connection against its address:
// it authenticated, or it is gone.
func (c *conn) releasePreauth() {
	if key := c.preauthKey; key.IsValid() {
		c.preauthKey = netip.Addr{}
		c.l.cfg.Preauth.release(key)
	}
}
