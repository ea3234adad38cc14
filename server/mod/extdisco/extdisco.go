// Package extdisco is External Service Discovery (XEP-0215) on the served
// domains: a local user asks its server for the STUN and TURN services
// that get its calls through NATs, and receives TURN credentials valid for
// a limited time (the TURN REST shared-secret scheme, server/turn's
// Credentials). The services are the built-in STUN/TURN server (server/turn,
// which this module runs on the turn and turns listeners) and an external
// one (coturn and the like, sharing the secret) when configured.
package extdisco

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/turn"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// NS is XEP-0215's namespace and disco feature.
const NS = "urn:xmpp:extdisco:2"

// DefaultTTL is how long credentials are valid by default.
const DefaultTTL = 24 * time.Hour

// External is an external STUN/TURN server sharing a TURN REST secret
// with this server (coturn's use-auth-secret and static-auth-secret).
type External struct {
	// Host is its host name or IP address; empty: none.
	Host string
	// Port is its STUN/TURN port (UDP and TCP per Transports); 0: 3478.
	Port int
	// TLSPort is its TURN over TLS port; 0: none advertised.
	TLSPort int
	// Transports are those offered on Port: "udp", "tcp"; empty: both.
	Transports []string
	// Secret is the shared secret; required with Host.
	Secret string
}

// Options configure the module and the built-in server.
type Options struct {
	// SecretFile keeps the built-in server's generated shared secret
	// when Secret is empty.
	SecretFile string
	// Secret is the built-in server's shared secret.
	Secret string
	// TTL is how long issued credentials are valid; 0: DefaultTTL.
	TTL time.Duration
	// Host is the host clients are told to reach the built-in server
	// at; empty: the listener's IP address when it listens on one,
	// otherwise the user's domain.
	Host string
	// RelayAddress is the public IPv4 address of relayed candidates;
	// empty: the listener's when it listens on one, otherwise the
	// address of the interface of the default route.
	RelayAddress string
	// Turn are the built-in server's relay settings (ports, bind address,
	// limits); its Realm, Secret, RelayAddress, Log and Now are set by
	// the module.
	Turn turn.Options
	// External is an external server to advertise as well.
	External External
}

// Module answers XEP-0215 requests and runs the built-in STUN/TURN
// server on the turn and turns listeners.
type Module struct {
	o      Options
	host   module.Host
	secret []byte

	mu      sync.Mutex
	srv     *turn.Server // created with the first listener
	udp     *net.UDPAddr // the first turn listener's UDP socket
	tcp     *net.TCPAddr // the first turn listener
	tls     *net.TCPAddr // the first turns listener
	srvErr  error
	srvOnce sync.Once
}

// New returns the module with options o (see Configure for the section
// modules.extdisco that may replace them).
func New(o Options) *Module { return &Module{o: o} }

var (
	_ module.Module              = (*Module)(nil)
	_ module.Configurable        = (*Module)(nil)
	_ module.MultiListenerServer = (*Module)(nil)
	_ module.PacketServer        = (*Module)(nil)
)

// Name implements module.Module.
func (*Module) Name() string { return "extdisco" }

// Configure implements module.Configurable: see docs/config.md,
// modules.extdisco.
func (m *Module) Configure(s config.Section) error {
	o := m.o
	t, x := &o.Turn, &o.External
	var allow, deny []string
	err := s.Decode(config.Fields{
		"secret":                   func(v config.Value) { v.String(&o.Secret) },
		"ttl":                      func(v config.Value) { v.Duration(&o.TTL) },
		"host":                     func(v config.Value) { v.String(&o.Host) },
		"relay_address":            func(v config.Value) { v.String(&o.RelayAddress) },
		"relay_bind":               func(v config.Value) { v.String(&t.RelayBind) },
		"min_port":                 func(v config.Value) { v.Int(&t.MinPort) },
		"max_port":                 func(v config.Value) { v.Int(&t.MaxPort) },
		"max_allocations":          func(v config.Value) { v.Int(&t.MaxAllocations) },
		"max_allocations_per_user": func(v config.Value) { v.Int(&t.MaxAllocationsPerUser) },
		"allocation_rate":          func(v config.Value) { v.Size(&t.AllocationRate) },
		"total_rate":               func(v config.Value) { v.Size(&t.TotalRate) },
		"max_connections":          func(v config.Value) { v.Int(&t.MaxConnections) },
		"idle_timeout":             func(v config.Value) { v.Duration(&t.IdleTimeout) },
		"allow_peers":              func(v config.Value) { v.Strings(&allow) },
		"deny_peers":               func(v config.Value) { v.Strings(&deny) },
		"external_host":            func(v config.Value) { v.String(&x.Host) },
		"external_port":            func(v config.Value) { v.Int(&x.Port) },
		"external_tls_port":        func(v config.Value) { v.Int(&x.TLSPort) },
		"external_transports":      func(v config.Value) { v.Strings(&x.Transports) },
		"external_secret":          func(v config.Value) { v.String(&x.Secret) },
	}, func(report config.Report) {
		if o.TTL < 0 || (o.TTL > 0 && o.TTL < time.Minute) {
			report("ttl", "must be at least 1m")
		}
		if o.RelayAddress != "" {
			if a, err := netip.ParseAddr(o.RelayAddress); err != nil || !a.Is4() {
				report("relay_address", "must be an IPv4 address, not %q", o.RelayAddress)
			}
		}
		if t.MinPort != 0 || t.MaxPort != 0 {
			if t.MinPort < 1 || t.MaxPort > 65535 || t.MinPort > t.MaxPort {
				report("min_port", "min_port and max_port must be a range of UDP ports, 1 to 65535")
			}
		}
		for key, v := range map[string]int{"max_allocations": t.MaxAllocations, "max_allocations_per_user": t.MaxAllocationsPerUser, "max_connections": t.MaxConnections} {
			if v < 0 {
				report(key, "must not be negative")
			}
		}
		if t.IdleTimeout < 0 {
			report("idle_timeout", "must not be negative")
		}
		var err error
		if t.Peers.Allow, err = prefixes(allow); err != nil {
			report("allow_peers", "%v", err)
		}
		if t.Peers.Deny, err = prefixes(deny); err != nil {
			report("deny_peers", "%v", err)
		}
		for key, p := range map[string]int{"external_port": x.Port, "external_tls_port": x.TLSPort} {
			if p < 0 || p > 65535 {
				report(key, "must be a port, 1 to 65535")
			}
		}
		for _, tr := range x.Transports {
			if tr != "udp" && tr != "tcp" {
				report("external_transports", "must list udp and tcp only, not %q", tr)
			}
		}
		if x.Host != "" && x.Secret == "" {
			report("external_secret", "the external server's shared secret is required with external_host")
		}
	})
	if err != nil {
		return err
	}
	m.o = o
	return nil
}

// prefixes parses address ranges ("10.0.0.0/8") and addresses.
func prefixes(ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address range nor an address", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.host = r.Host()
	if m.o.TTL == 0 {
		m.o.TTL = DefaultTTL
	}
	secret, err := m.loadSecret()
	if err != nil {
		return err
	}
	m.secret = secret
	r.Feature(module.TargetServer, NS)
	r.HandleIQ(module.IQKey{Type: stanza.TypeGet, Name: xml.Name{Space: NS, Local: "services"}, Target: module.TargetServer}, m.services)
	r.HandleIQ(module.IQKey{Type: stanza.TypeGet, Name: xml.Name{Space: NS, Local: "credentials"}, Target: module.TargetServer}, m.credentials)
	return nil
}

// loadSecret returns the built-in server's shared secret: the configured
// one, or the one kept in SecretFile, generated on first start.
func (m *Module) loadSecret() ([]byte, error) {
	if m.o.Secret != "" {
		return []byte(m.o.Secret), nil
	}
	if m.o.SecretFile == "" {
		return randomBytes(32), nil
	}
	if b, err := os.ReadFile(m.o.SecretFile); err == nil && len(b) >= 32 {
		return b, nil
	}
	b := []byte(base64.RawStdEncoding.EncodeToString(randomBytes(32)))
	if err := os.WriteFile(m.o.SecretFile, b, 0o600); err != nil {
		return nil, fmt.Errorf("extdisco: writing the TURN secret %s: %w", m.o.SecretFile, err)
	}
	return b, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return b
}

// ListenerType implements module.ListenerServer.
func (*Module) ListenerType() config.ListenerType { return config.ListenerTURN }

// ListenerTypes implements module.MultiListenerServer.
func (*Module) ListenerTypes() []config.ListenerType {
	return []config.ListenerType{config.ListenerTURN, config.ListenerTURNS}
}

// Listening implements module.ListenerWatcher: the first listener of
// each kind is the one clients are told about, listed from the moment
// the socket is open (it already queues what clients send).
func (m *Module) Listening(t config.ListenerType, addr net.Addr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch a := addr.(type) {
	case *net.UDPAddr:
		if m.udp == nil {
			m.udp = a
		}
	case *net.TCPAddr:
		if t == config.ListenerTURNS && m.tls == nil {
			m.tls = a
		} else if t == config.ListenerTURN && m.tcp == nil {
			m.tcp = a
		}
	}
}

// ServeListener implements module.ListenerServer: STUN/TURN over TCP, or
// over TLS for a turns listener (the server hands a TLS listener).
func (m *Module) ServeListener(ctx context.Context, ln net.Listener) error {
	a, _ := ln.Addr().(*net.TCPAddr)
	srv, err := m.server(a.IP)
	if err != nil {
		ln.Close()
		return err
	}
	return srv.ServeListener(ctx, ln)
}

// ServePacket implements module.PacketServer: STUN/TURN over UDP.
func (m *Module) ServePacket(ctx context.Context, pc net.PacketConn) error {
	a, _ := pc.LocalAddr().(*net.UDPAddr)
	srv, err := m.server(a.IP)
	if err != nil {
		pc.Close()
		return err
	}
	return srv.ServePacket(ctx, pc)
}

// server returns the built-in server, creating it for the first
// listener, which listens on ip.
func (m *Module) server(ip net.IP) (*turn.Server, error) {
	m.srvOnce.Do(func() {
		relay, err := m.relayAddress(ip)
		if err != nil {
			m.srvErr = err
			return
		}
		o := m.o.Turn
		o.Realm = m.host.Domains()[0]
		o.Secret = m.secret
		o.RelayAddress = relay
		o.Log = m.host.Logger().With("component", "turn")
		o.Now = m.host.Now
		m.srv, m.srvErr = turn.New(o)
		if m.srvErr == nil {
			m.host.Logger().Info("STUN/TURN server", "relay_address", relay.String())
		}
	})
	return m.srv, m.srvErr
}

// relayAddress is the address of relayed candidates: the configured one,
// the listener's IPv4 address, or the source address of the default
// route (no packet is sent to find it).
func (m *Module) relayAddress(listener net.IP) (net.IP, error) {
	if m.o.RelayAddress != "" {
		return net.ParseIP(m.o.RelayAddress).To4(), nil
	}
	if ip4 := listener.To4(); ip4 != nil && !ip4.IsUnspecified() {
		return ip4, nil
	}
	c, err := net.Dial("udp4", "192.0.2.1:3478")
	if err == nil {
		defer c.Close()
		if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() != nil {
			return a.IP.To4(), nil
		}
	}
	// An offline machine: relays work for this machine only.
	m.host.Logger().Warn("extdisco: no IPv4 default route to find the TURN relay address: relaying on 127.0.0.1; set modules.extdisco.relay_address", "err", err)
	return net.IPv4(127, 0, 0, 1).To4(), nil
}

// Server returns the built-in STUN/TURN server once a listener serves it
// (for tests and status), or nil.
func (m *Module) Server() *turn.Server {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.srv
}

// service is one advertised service.
type service struct {
	typ, host, transport string
	port                 int
	secret               []byte // TURN: the credentials' secret
}

// list returns the services for a user of domain.
func (m *Module) list(domain string) []service {
	var out []service
	m.mu.Lock()
	udp, tcp, tlsAddr := m.udp, m.tcp, m.tls
	m.mu.Unlock()
	host := func(ip net.IP) string {
		switch {
		case m.o.Host != "":
			return m.o.Host
		case !ip.IsUnspecified():
			return ip.String()
		}
		return domain
	}
	if udp != nil {
		out = append(out,
			service{typ: "stun", host: host(udp.IP), transport: "udp", port: udp.Port},
			service{typ: "turn", host: host(udp.IP), transport: "udp", port: udp.Port, secret: m.secret})
	}
	if tcp != nil {
		out = append(out, service{typ: "turn", host: host(tcp.IP), transport: "tcp", port: tcp.Port, secret: m.secret})
	}
	if tlsAddr != nil {
		out = append(out, service{typ: "turns", host: host(tlsAddr.IP), transport: "tcp", port: tlsAddr.Port, secret: m.secret})
	}
	if x := m.o.External; x.Host != "" {
		port := x.Port
		if port == 0 {
			port = 3478
		}
		trs := x.Transports
		if len(trs) == 0 {
			trs = []string{"udp", "tcp"}
		}
		for _, tr := range trs {
			if tr == "udp" {
				out = append(out, service{typ: "stun", host: x.Host, transport: tr, port: port})
			}
			out = append(out, service{typ: "turn", host: x.Host, transport: tr, port: port, secret: []byte(x.Secret)})
		}
		if x.TLSPort != 0 {
			out = append(out, service{typ: "turns", host: x.Host, transport: "tcp", port: x.TLSPort, secret: []byte(x.Secret)})
		}
	}
	return out
}

// element is the <service/> of s for user, with credentials valid until
// expires for a TURN service.
func (s service) element(user string, expires time.Time) *stanza.Element {
	el := stanza.New(NS, "service", "type", s.typ, "host", s.host, "port", strconv.Itoa(s.port), "transport", s.transport)
	if s.secret != nil {
		username, password := turn.Credentials(s.secret, user, expires)
		el.Set("restricted", "1").Set("username", username).Set("password", password).
			Set("expires", expires.UTC().Format("2006-01-02T15:04:05Z"))
	}
	return el
}

// allowed checks that the request comes from a local user: credentials
// are for the server's own users only.
func (m *Module) allowed(q *module.IQ) error {
	if q.From.Local() != "" && m.host.IsLocal(q.From.Domain()) {
		return nil
	}
	m.host.Logger().Info("extdisco: request from a non-local entity refused", "from", q.From)
	return &stanza.Error{Type: stanza.ErrAuth, Condition: stanza.Forbidden, Text: "only users of this server may use its STUN/TURN services"}
}

// expiry is when credentials issued now expire (whole seconds, as the
// username carries them).
func (m *Module) expiry() time.Time {
	return m.host.Now().Add(m.o.TTL).Truncate(time.Second)
}

// services answers a request for the services (XEP-0215 §3.1, §3.2).
func (m *Module) services(_ context.Context, q *module.IQ) (*stanza.Element, error) {
	if err := m.allowed(q); err != nil {
		return nil, err
	}
	typ := q.Payload.Get("type")
	res := stanza.New(NS, "services")
	if typ != "" {
		res.Set("type", typ)
	}
	user, expires := q.From.Bare().String(), m.expiry()
	for _, s := range m.list(q.From.Domain()) {
		if typ == "" || s.typ == typ {
			res.Append(s.element(user, expires))
		}
	}
	return res, nil
}

// credentials answers a request for the credentials of a service
// (XEP-0215 §3.3): the services of that host and type (and port, when
// given) that take credentials.
func (m *Module) credentials(_ context.Context, q *module.IQ) (*stanza.Element, error) {
	if err := m.allowed(q); err != nil {
		return nil, err
	}
	want := q.Payload.Child(NS, "service")
	if want == nil || want.Get("host") == "" || want.Get("type") == "" {
		m.host.Logger().Info("extdisco: credentials request without a service host and type", "from", q.From)
		return nil, stanza.Errorf(stanza.BadRequest, "the request needs a <service/> with host and type")
	}
	port := want.Get("port")
	res := stanza.New(NS, "credentials")
	user, expires := q.From.Bare().String(), m.expiry()
	for _, s := range m.list(q.From.Domain()) {
		if s.secret == nil || !strings.EqualFold(s.host, want.Get("host")) || s.typ != want.Get("type") || (port != "" && port != strconv.Itoa(s.port)) {
			continue
		}
		res.Append(s.element(user, expires))
	}
	if len(res.Elements()) == 0 {
		m.host.Logger().Info("extdisco: credentials for an unknown service", "from", q.From, "host", want.Get("host"), "type", want.Get("type"), "port", port)
		return nil, stanza.Errorf(stanza.ItemNotFound, "no %s service with credentials at %s", want.Get("type"), want.Get("host"))
	}
	return res, nil
}
