package turn_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v4"

	"github.com/parley-xmpp/parley/server/turn"
)

var secret = []byte("test secret")

// newServer returns a server relaying on loopback with options o.
func newServer(t *testing.T, o turn.Options) *turn.Server {
	t.Helper()
	o.Realm = "localhost"
	if o.Secret == nil {
		o.Secret = secret
	}
	o.RelayAddress = net.IPv4(127, 0, 0, 1)
	o.RelayBind = "127.0.0.1"
	s, err := turn.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// run runs serve until the test ends.
func run(t *testing.T, serve func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// start serves a TURN server on a random loopback UDP port.
func start(t *testing.T, o turn.Options) (*turn.Server, string) {
	t.Helper()
	s := newServer(t, o)
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	run(t, func(ctx context.Context) error { return s.ServePacket(ctx, pc) })
	return s, pc.LocalAddr().String()
}

// client returns a pion TURN client of server addr with credentials.
func client(t *testing.T, addr, username, password string) (*pionturn.Client, net.PacketConn) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Username: username, Password: password,
		Conn: conn, RTO: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c, conn
}

func TestBinding(t *testing.T) {
	_, addr := start(t, turn.Options{})
	c, conn := client(t, addr, "", "")
	mapped, err := c.SendBindingRequest()
	if err != nil {
		t.Fatalf("binding: %v", err)
	}
	if mapped.String() != conn.LocalAddr().String() {
		t.Fatalf("mapped address %s, want the client's %s", mapped, conn.LocalAddr())
	}
}

func TestCredentials(t *testing.T) {
	s, addr := start(t, turn.Options{})
	future := time.Now().Add(time.Hour)
	user, pass := turn.Credentials(secret, "juliet@localhost", future)
	for _, tc := range []struct {
		name, user, pass string
	}{
		{"forged password", user, turn.Password([]byte("other secret"), user)},
		{"expired", func() string {
			u, _ := turn.Credentials(secret, "juliet@localhost", time.Now().Add(-time.Second))
			return u
		}(),
			func() string {
				_, p := turn.Credentials(secret, "juliet@localhost", time.Now().Add(-time.Second))
				return p
			}()},
		{"extended expiry", "9" + user, pass},
		{"no expiry", "juliet@localhost", turn.Password(secret, "juliet@localhost")},
	} {
		c, _ := client(t, addr, tc.user, tc.pass)
		if relay, err := c.Allocate(); err == nil {
			relay.Close()
			t.Errorf("%s: allocation succeeded", tc.name)
		}
	}
	c, _ := client(t, addr, user, pass)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("allocation with valid credentials: %v", err)
	}
	defer relay.Close()
	ra := relay.LocalAddr().(*net.UDPAddr)
	if !ra.IP.Equal(net.IPv4(127, 0, 0, 1)) || ra.Port < turn.DefaultMinPort {
		t.Fatalf("relayed address %s: want 127.0.0.1 and a port of the default range", ra)
	}
	if n := s.Allocations(); n != 1 {
		t.Fatalf("%d allocations live, want 1", n)
	}
}

// allocate starts a server with options o and returns a client of it
// with an allocation.
func allocate(t *testing.T, o turn.Options) (*pionturn.Client, net.PacketConn) {
	t.Helper()
	_, addr := start(t, o)
	user, pass := turn.Credentials(secret, "juliet@localhost", time.Now().Add(time.Hour))
	c, _ := client(t, addr, user, pass)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	return c, relay
}

// echo is a UDP peer that sends back what it receives.
func echo(t *testing.T) *net.UDPConn {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	return pc
}

func TestLoopbackPeerRefused(t *testing.T) {
	c, relay := allocate(t, turn.Options{})
	peer := echo(t)
	if err := c.CreatePermission(peer.LocalAddr()); err == nil {
		t.Fatal("permission to a loopback peer granted")
	}
	if _, err := relay.WriteTo([]byte("ping"), peer.LocalAddr()); err == nil {
		t.Fatal("relaying to a loopback peer succeeded")
	}
	for _, ip := range []string{"10.1.2.3", "192.168.1.1", "172.16.0.1", "169.254.169.254", "224.0.0.1", "0.0.0.0", "100.64.0.1", "255.255.255.255", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1"} {
		if ok, _ := (turn.Peers{}).Allowed(net.ParseIP(ip)); ok {
			t.Errorf("peer %s allowed by default", ip)
		}
	}
	for _, ip := range []string{"8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8"} {
		if ok, why := (turn.Peers{}).Allowed(net.ParseIP(ip)); !ok {
			t.Errorf("public peer %s refused: %s", ip, why)
		}
	}
	deny := turn.Peers{Deny: []netip.Prefix{netip.MustParsePrefix("8.8.8.0/24")}, Allow: []netip.Prefix{netip.MustParsePrefix("8.0.0.0/8")}}
	if ok, _ := deny.Allowed(net.ParseIP("8.8.8.8")); ok {
		t.Error("a denied peer allowed: deny must win over allow")
	}
}

func TestAllowedPeerRelays(t *testing.T) {
	_, relay := allocate(t, turn.Options{Peers: turn.Peers{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	peer := echo(t)
	msg := []byte("through the relay")
	if _, err := relay.WriteTo(msg, peer.LocalAddr()); err != nil {
		t.Fatalf("relaying to an allowed peer: %v", err)
	}
	relay.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, from, err := relay.ReadFrom(buf)
	if err != nil {
		t.Fatalf("reading the echo through the relay: %v", err)
	}
	if !bytes.Equal(buf[:n], msg) || from.String() != peer.LocalAddr().String() {
		t.Fatalf("got %q from %s, want %q from %s", buf[:n], from, msg, peer.LocalAddr())
	}
}

func TestQuota(t *testing.T) {
	_, addr := start(t, turn.Options{MaxAllocationsPerUser: 1, MaxAllocations: 2})
	alloc := func(user string) error {
		u, p := turn.Credentials(secret, user, time.Now().Add(time.Hour))
		c, _ := client(t, addr, u, p)
		relay, err := c.Allocate()
		if err == nil {
			t.Cleanup(func() { relay.Close() })
		}
		return err
	}
	if err := alloc("juliet@localhost"); err != nil {
		t.Fatal(err)
	}
	if err := alloc("juliet@localhost"); err == nil {
		t.Fatal("a second allocation of one user over the per-user cap succeeded")
	}
	if err := alloc("romeo@localhost"); err != nil {
		t.Fatalf("another user's allocation: %v", err)
	}
	if err := alloc("nurse@localhost"); err == nil {
		t.Fatal("an allocation over the total cap succeeded")
	}
}

// Stream connections are capped, and an idle one is closed.
func TestStreamConnections(t *testing.T) {
	s := newServer(t, turn.Options{MaxConnections: 1, IdleTimeout: 300 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	run(t, func(ctx context.Context) error { return s.ServeListener(ctx, ln) })

	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	first := dial() // sends nothing
	second := dial()
	closed := func(c net.Conn, what string) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("%s: read %v, want it closed by the server", what, err)
		}
	}
	closed(second, "a connection over the cap")
	closed(first, "an idle connection") // counted out before it is closed
	third := dial()
	c3, err := pionturn.NewClient(&pionturn.ClientConfig{STUNServerAddr: ln.Addr().String(), Conn: pionturn.NewSTUNConn(third)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c3.Listen(); err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if _, err := c3.SendBindingRequest(); err != nil {
		t.Fatalf("STUN binding once the idle connection was closed: %v", err)
	}
}

// A relay carries no more than its rate (and burst) allows: datagrams
// over it are dropped.
func TestAllocationRate(t *testing.T) {
	_, relay := allocate(t, turn.Options{AllocationRate: 1000, Peers: turn.Peers{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	peer.SetReadBuffer(1 << 20)
	const n, size = 150, 1000
	start := time.Now()
	for range n {
		if _, err := relay.WriteTo(make([]byte, size), peer.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	buf := make([]byte, 2000)
	for {
		peer.SetReadDeadline(time.Now().Add(time.Second))
		if _, _, err := peer.ReadFrom(buf); err != nil {
			break
		}
		got++
	}
	// The burst is 64 KiB; the rate adds 1000 bytes a second.
	limit := (64<<10 + 1000*int(time.Since(start).Seconds()+1)) / size
	if got == 0 || got > limit {
		t.Fatalf("the peer got %d of %d datagrams of %d bytes, want 1 to %d", got, n, size, limit)
	}
}

// Stopping the server closes the stream connections still open.
func TestStopClosesConnections(t *testing.T) {
	s := newServer(t, turn.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeListener(ctx, ln) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for s.Connections() == 0 { // accepted
		runtime.Gosched()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after the server stopped: %v, want the connection closed", err)
	}
}
