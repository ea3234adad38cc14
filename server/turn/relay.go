package turn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"golang.org/x/time/rate"
)

// relayGenerator opens the relay sockets of allocations: UDP ports of the
// configured range on RelayBind, advertised with RelayAddress, each one
// rate-limited.
type relayGenerator struct{ s *Server }

func (s *Server) relays() *relayGenerator { return &relayGenerator{s} }

// Validate implements pionturn.RelayAddressGenerator.
func (g *relayGenerator) Validate() error { return nil }

// relayTries is how many random ports of the range are tried before an
// allocation fails for want of a free port.
const relayTries = 20

// AllocatePacketConn implements pionturn.RelayAddressGenerator.
func (g *relayGenerator) AllocatePacketConn(network string, requested int) (net.PacketConn, net.Addr, error) {
	o := g.s.o
	try := func(port int) (net.PacketConn, net.Addr, error) {
		pc, err := net.ListenPacket(network, net.JoinHostPort(o.RelayBind, strconv.Itoa(port)))
		if err != nil {
			return nil, nil, err
		}
		local, ok := pc.LocalAddr().(*net.UDPAddr)
		if !ok {
			pc.Close()
			return nil, nil, errors.New("turn: relay socket is not UDP")
		}
		addr := &net.UDPAddr{IP: o.RelayAddress, Port: local.Port}
		return &limitedConn{PacketConn: pc, own: limiter(o.AllocationRate), total: g.s.total}, addr, nil
	}
	if requested != 0 {
		return try(requested)
	}
	var err error
	for range relayTries {
		var pc net.PacketConn
		var addr net.Addr
		if pc, addr, err = try(o.MinPort + rand.IntN(o.MaxPort-o.MinPort+1)); err == nil {
			return pc, addr, nil
		}
	}
	g.s.log.Warn("turn: no free relay port", "range", fmt.Sprintf("%d-%d", o.MinPort, o.MaxPort), "err", err)
	return nil, nil, fmt.Errorf("turn: no free relay port in %d-%d: %w", o.MinPort, o.MaxPort, err)
}

// AllocateConn implements pionturn.RelayAddressGenerator: TCP relaying
// (RFC 6062) is not offered.
func (g *relayGenerator) AllocateConn(string, int) (net.Conn, net.Addr, error) {
	return nil, nil, errors.New("turn: TCP relaying is not supported")
}

// limitedConn is a relay socket whose traffic, both ways, is limited by
// its own rate and the server's: datagrams over either are dropped, as a
// congested network would.
type limitedConn struct {
	net.PacketConn
	own, total *rate.Limiter // nil: unlimited
}

func (c *limitedConn) allow(n int) bool {
	if c.own != nil && !c.own.AllowN(time.Now(), n) {
		return false
	}
	return c.total == nil || c.total.AllowN(time.Now(), n)
}

// ReadFrom reads the next datagram within the rates.
func (c *limitedConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil || c.allow(n) {
			return n, addr, err
		}
	}
}

// WriteTo sends p if the rates allow it, and drops it otherwise.
func (c *limitedConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if !c.allow(len(p)) {
		return len(p), nil
	}
	return c.PacketConn.WriteTo(p, addr)
}
