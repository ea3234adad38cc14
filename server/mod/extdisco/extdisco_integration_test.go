package extdisco_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v4"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/mod/extdisco"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpptest"
)

// setup starts a server with turn and turns listeners on loopback.
func setup(t *testing.T, clock *xmpptest.Clock, settings map[string]any) *xmpptest.Server {
	t.Helper()
	return xmpptest.NewServerWithClock(t, clock, func(c *config.Config) {
		c.Listeners = append(c.Listeners,
			config.Listener{Type: config.ListenerTURN, Address: "127.0.0.1:0"},
			config.Listener{Type: config.ListenerTURNS, Address: "127.0.0.1:0"})
		if settings != nil {
			c.Modules.SetSection("extdisco", settings)
		}
	})
}

// ask sends an extdisco request to the server.
func ask(t *testing.T, s *xmpptest.Server, c *client.Client, q *stanza.Element) (*stanza.Element, error) {
	t.Helper()
	return c.SendIQ(xmpptest.Context(t, 10*time.Second), stanza.NewIQ(stanza.TypeGet, "", s.Domain(), q))
}

// services returns the services the server lists, by type and transport.
func services(t *testing.T, s *xmpptest.Server, c *client.Client) map[string]*stanza.Element {
	t.Helper()
	res, err := ask(t, s, c, stanza.New(extdisco.NS, "services"))
	if err != nil {
		t.Fatalf("services: %v", err)
	}
	out := map[string]*stanza.Element{}
	for _, svc := range res.Payload().ChildrenNamed(extdisco.NS, "service") {
		out[svc.Get("type")+"/"+svc.Get("transport")] = svc
	}
	return out
}

// turnClient is a pion TURN client over conn to the server at addr.
func turnClient(t *testing.T, conn net.PacketConn, addr string, svc *stanza.Element) *pionturn.Client {
	t.Helper()
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr,
		Username: svc.Get("username"), Password: svc.Get("password"),
		Conn: conn, RTO: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func udpConn(t *testing.T) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

func addr(svc *stanza.Element) string { return net.JoinHostPort(svc.Get("host"), svc.Get("port")) }

// A local user discovers the built-in STUN and TURN services, with TURN
// REST credentials for its bare JID, and uses them over UDP, TCP and TLS:
// a STUN binding tells it its address, a TURN allocation gives it a relay
// on the server's address.
func TestServicesAndAllocation(t *testing.T) {
	s := setup(t, nil, nil)
	alice := s.AddUser(t, "alice", "pw")
	c := s.Client(t, "alice", "pw", "phone")

	res, err := ask(t, s, c, stanza.New(disco.NSInfo, "query"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := disco.ParseInfo(res.Payload())
	if err != nil {
		t.Fatal(err)
	}
	if !info.HasFeature(extdisco.NS) {
		t.Fatalf("the server does not advertise %s: %v", extdisco.NS, info.Features)
	}

	before := time.Now()
	svcs := services(t, s, c)
	for _, k := range []string{"stun/udp", "turn/udp", "turn/tcp", "turns/tcp"} {
		if svcs[k] == nil {
			t.Fatalf("no %s service in %v", k, svcs)
		}
	}
	if svcs["stun/udp"].Get("username") != "" || svcs["stun/udp"].Get("restricted") != "" {
		t.Error("the STUN service carries credentials")
	}
	udp := svcs["turn/udp"]
	if udp.Get("host") != "127.0.0.1" || udp.Get("port") != svcs["stun/udp"].Get("port") || udp.Get("restricted") != "1" {
		t.Fatalf("turn/udp service %s", udp)
	}
	exp, err := time.Parse(time.RFC3339, udp.Get("expires"))
	if err != nil {
		t.Fatalf("expires %q: %v", udp.Get("expires"), err)
	}
	if d := exp.Sub(before); d < extdisco.DefaultTTL-time.Minute || d > extdisco.DefaultTTL+time.Minute {
		t.Fatalf("credentials expire in %s, want about %s", d, extdisco.DefaultTTL)
	}
	if want := strconv.FormatInt(exp.Unix(), 10) + ":" + alice.String(); udp.Get("username") != want {
		t.Fatalf("username %q, want %q", udp.Get("username"), want)
	}

	// STUN binding over UDP.
	conn := udpConn(t)
	tc := turnClient(t, conn, addr(svcs["stun/udp"]), udp)
	mapped, err := tc.SendBindingRequest()
	if err != nil {
		t.Fatalf("STUN binding: %v", err)
	}
	if mapped.String() != conn.LocalAddr().String() {
		t.Fatalf("mapped address %s, want %s", mapped, conn.LocalAddr())
	}
	// TURN allocation over UDP.
	relay, err := tc.Allocate()
	if err != nil {
		t.Fatalf("TURN allocation over UDP: %v", err)
	}
	defer relay.Close()
	if ip := relay.LocalAddr().(*net.UDPAddr).IP; !ip.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("relayed address %s, want the listener's 127.0.0.1", relay.LocalAddr())
	}

	// TURN allocation over TCP.
	tcp, err := net.Dial("tcp", addr(svcs["turn/tcp"]))
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	tcpClient := turnClient(t, pionturn.NewSTUNConn(tcp), addr(svcs["turn/tcp"]), svcs["turn/tcp"])
	relayTCP, err := tcpClient.Allocate()
	if err != nil {
		t.Fatalf("TURN allocation over TCP: %v", err)
	}
	defer relayTCP.Close()

	// TURN allocation over TLS, the server's certificate verified.
	cfg := s.TLSConfig()
	tlsConn, err := tls.Dial("tcp", addr(svcs["turns/tcp"]), cfg)
	if err != nil {
		t.Fatalf("TLS to the turns listener: %v", err)
	}
	defer tlsConn.Close()
	tlsClient := turnClient(t, pionturn.NewSTUNConn(tlsConn), addr(svcs["turns/tcp"]), svcs["turns/tcp"])
	relayTLS, err := tlsClient.Allocate()
	if err != nil {
		t.Fatalf("TURN allocation over TLS: %v", err)
	}
	defer relayTLS.Close()
}

// Credentials requested for a service (XEP-0215 §3.3) work; forged ones
// and expired ones do not; a relay to loopback is refused.
func TestCredentials(t *testing.T) {
	clock := xmpptest.NewClock(time.Now())
	s := setup(t, clock, map[string]any{"ttl": "10m"})
	s.AddUser(t, "alice", "pw")
	c := s.Client(t, "alice", "pw", "phone")
	svcs := services(t, s, c)
	udp := svcs["turn/udp"]

	res, err := ask(t, s, c, stanza.New(extdisco.NS, "credentials").Append(
		stanza.New(extdisco.NS, "service", "host", udp.Get("host"), "type", "turn", "port", udp.Get("port"))))
	if err != nil {
		t.Fatalf("credentials: %v", err)
	}
	got := res.Payload().ChildrenNamed(extdisco.NS, "service")
	if len(got) != 2 { // UDP and TCP share the port
		t.Fatalf("credentials: %d services, want 2: %s", len(got), res)
	}
	cred := got[0]
	if cred.Get("username") == "" || cred.Get("password") == "" {
		t.Fatalf("credentials without username or password: %s", cred)
	}
	for _, bad := range []*stanza.Element{
		stanza.New(extdisco.NS, "service", "host", "turn.example.net", "type", "turn"),
		stanza.New(extdisco.NS, "service", "host", udp.Get("host"), "type", "stun"),
	} {
		_, err := ask(t, s, c, stanza.New(extdisco.NS, "credentials").Append(bad))
		var se *stanza.Error
		if !errors.As(err, &se) || se.Condition != stanza.ItemNotFound {
			t.Errorf("credentials for %s: %v, want item-not-found", bad, err)
		}
	}
	_, err = ask(t, s, c, stanza.New(extdisco.NS, "credentials"))
	var se *stanza.Error
	if !errors.As(err, &se) || se.Condition != stanza.BadRequest {
		t.Errorf("credentials without a service: %v, want bad-request", err)
	}

	// Forged: another password for the same username.
	forged := stanza.New(extdisco.NS, "service", "username", cred.Get("username"), "password", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	if r, err := turnClient(t, udpConn(t), addr(udp), forged).Allocate(); err == nil {
		r.Close()
		t.Fatal("an allocation with a forged password succeeded")
	}
	// Valid, and the relay refuses a loopback peer.
	tc := turnClient(t, udpConn(t), addr(udp), cred)
	relay, err := tc.Allocate()
	if err != nil {
		t.Fatalf("allocation with the requested credentials: %v", err)
	}
	defer relay.Close()
	if err := tc.CreatePermission(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}); err == nil {
		t.Fatal("a permission for a loopback peer was granted")
	}
	// Expired: the server's clock passes the expiry.
	clock.Step(11 * time.Minute)
	if r, err := turnClient(t, udpConn(t), addr(udp), cred).Allocate(); err == nil {
		r.Close()
		t.Fatal("an allocation with expired credentials succeeded")
	}
}

// With allow_peers covering loopback, data is relayed to a loopback peer
// and back.
func TestAllowedPeer(t *testing.T) {
	s := setup(t, nil, map[string]any{"allow_peers": []string{"127.0.0.1"}})
	s.AddUser(t, "alice", "pw")
	c := s.Client(t, "alice", "pw", "phone")
	udp := services(t, s, c)["turn/udp"]
	tc := turnClient(t, udpConn(t), addr(udp), udp)
	relay, err := tc.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	peer := udpConn(t)
	msg := []byte("hello through the relay")
	if _, err := relay.WriteTo(msg, peer.LocalAddr()); err != nil {
		t.Fatalf("relaying to an allowed peer: %v", err)
	}
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 1500)
	n, from, err := peer.ReadFrom(buf)
	if err != nil {
		t.Fatalf("the peer received nothing: %v", err)
	}
	if !bytes.Equal(buf[:n], msg) || from.String() != relay.LocalAddr().String() {
		t.Fatalf("peer got %q from %s, want %q from the relay %s", buf[:n], from, msg, relay.LocalAddr())
	}
	if _, err := peer.WriteTo([]byte("pong"), from); err != nil {
		t.Fatal(err)
	}
	relay.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, _, err = relay.ReadFrom(buf); err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("reading the peer's answer through the relay: %q, %v", buf[:n], err)
	}
}

// An external server's
// services are listed with credentials of its own secret.
func TestExternalAndRemote(t *testing.T) {
	s := setup(t, nil, map[string]any{"external_host": "turn.example.net", "external_secret": "coturn secret", "external_tls_port": 5349})
	s.AddUser(t, "alice", "pw")
	c := s.Client(t, "alice", "pw", "phone")
	svcs := services(t, s, c)
	ext := 0
	for _, svc := range svcs {
		if svc.Get("host") == "turn.example.net" {
			ext++
		}
	}
	if ext != 4 { // stun/udp, turn/udp, turn/tcp, turns/tcp
		t.Fatalf("%d external services, want 4: %v", ext, svcs)
	}
	res, err := ask(t, s, c, stanza.New(extdisco.NS, "services", "type", "turns"))
	if err != nil {
		t.Fatal(err)
	}
	var ts []*stanza.Element
	for _, svc := range res.Payload().ChildrenNamed(extdisco.NS, "service") {
		if svc.Get("type") != "turns" {
			t.Errorf("a %s service in a turns query", svc.Get("type"))
		}
		if svc.Get("host") == "turn.example.net" {
			ts = append(ts, svc)
		}
	}
	if len(ts) != 1 || ts[0].Get("port") != "5349" {
		t.Fatalf("external turns services %v", ts)
	}
	// The external server checks the password with the secret they share.
	mac := hmac.New(sha1.New, []byte("coturn secret"))
	mac.Write([]byte(ts[0].Get("username")))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); ts[0].Get("password") != want {
		t.Fatalf("password %q, want the HMAC-SHA1 of the username under the shared secret, %q", ts[0].Get("password"), want)
	}
}
