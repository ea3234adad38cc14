// Package proxy65 is the SOCKS5 bytestreams proxy (XEP-0065) on
// proxy.<domain> for each served domain: clients that cannot reach each
// other directly (NAT, firewalls) both connect to the proxy's SOCKS5
// listener (type proxy65) and the Requester activates the stream with an
// IQ. The relay itself is server/bytestreams'.
package proxy65

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"sync"

	"github.com/parley-xmpp/parley/server/bytestreams"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/xmpp/disco"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// NS is XEP-0065's namespace.
const NS = "http://jabber.org/protocol/bytestreams"

// Prefix is the service domain's first label.
const Prefix = "proxy"

// Options configure the proxy.
type Options struct {
	// Host is the address clients connect to (the streamhost's host,
	// XEP-0065 §4): a name that resolves to this machine, or an IP
	// address. Empty: the listener's IP address when it listens on one,
	// otherwise the user's domain.
	Host string
	// Port is the advertised port, when it differs from the listener's
	// (a port forwarded by a NAT); 0: the listener's.
	Port int
	// AllowRemote lets users of other servers use the proxy; by default
	// only the server's own users may.
	AllowRemote bool
	// Relay are the relay's limits.
	Relay bytestreams.Options
}

// Module is the proxy service.
type Module struct {
	o     Options
	relay *bytestreams.Relay
	host  module.Host

	mu   sync.Mutex
	addr *net.TCPAddr // the first proxy65 listener's, once it serves
}

// New returns the module with options o (see Configure for the section
// modules.proxy65 that may replace them).
func New(o Options) *Module { return &Module{o: o} }

var (
	_ module.Module         = (*Module)(nil)
	_ module.Configurable   = (*Module)(nil)
	_ module.ListenerServer = (*Module)(nil)
)

// Name implements module.Module.
func (*Module) Name() string { return "proxy65" }

// Configure implements module.Configurable: modules.proxy65's keys host,
// port, allow_remote, max_transfers, max_transfers_per_user, max_pending,
// max_pending_per_address, transfer_rate and total_rate (bytes per
// second, sizes like "10MiB"), idle_timeout and pending_timeout.
func (m *Module) Configure(s config.Section) error {
	o := m.o
	r := &o.Relay
	err := s.Decode(config.Fields{
		"host":                    func(v config.Value) { v.String(&o.Host) },
		"port":                    func(v config.Value) { v.Int(&o.Port) },
		"allow_remote":            func(v config.Value) { v.Bool(&o.AllowRemote) },
		"max_transfers":           func(v config.Value) { v.Int(&r.MaxTransfers) },
		"max_transfers_per_user":  func(v config.Value) { v.Int(&r.MaxTransfersPerUser) },
		"max_pending":             func(v config.Value) { v.Int(&r.MaxPending) },
		"max_pending_per_address": func(v config.Value) { v.Int(&r.MaxPendingPerAddress) },
		"transfer_rate":           func(v config.Value) { v.Size(&r.TransferRate) },
		"total_rate":              func(v config.Value) { v.Size(&r.TotalRate) },
		"idle_timeout":            func(v config.Value) { v.Duration(&r.IdleTimeout) },
		"pending_timeout":         func(v config.Value) { v.Duration(&r.PendingTimeout) },
	}, func(report config.Report) {
		if o.Port < 0 || o.Port > 65535 {
			report("port", "must be a TCP port, 1 to 65535 (or 0: the listener's)")
		}
		for key, v := range map[string]int{"max_transfers": r.MaxTransfers, "max_transfers_per_user": r.MaxTransfersPerUser, "max_pending": r.MaxPending, "max_pending_per_address": r.MaxPendingPerAddress, "transfer_rate": r.TransferRate, "total_rate": r.TotalRate} {
			if v < 0 {
				report(key, "must not be negative")
			}
		}
		if r.IdleTimeout < 0 || r.PendingTimeout < 0 {
			report("idle_timeout", "timeouts must not be negative")
		}
	})
	if err != nil {
		return err
	}
	m.o = o
	return nil
}

// ListenerType implements module.ListenerServer.
func (*Module) ListenerType() config.ListenerType { return config.ListenerProxy65 }

// ServeListener implements module.ListenerServer: the SOCKS5 relay runs
// on ln until ctx ends.
func (m *Module) ServeListener(ctx context.Context, ln net.Listener) error {
	return m.relay.Serve(ctx, ln)
}

// Listening implements module.ListenerWatcher: the first listener is the
// address the proxy announces, from the moment its socket is open.
func (m *Module) Listening(_ config.ListenerType, addr net.Addr) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a, ok := addr.(*net.TCPAddr); ok && m.addr == nil {
		m.addr = a
	}
}

// Register implements module.Module.
func (m *Module) Register(r module.Registrar) error {
	m.host = r.Host()
	o := m.o.Relay
	o.Log = m.host.Logger().With("component", "proxy65")
	m.relay = bytestreams.New(o)
	for _, d := range m.host.Domains() {
		svc, err := jid.New("", Prefix+"."+d, "")
		if err != nil {
			return err
		}
		r.ServiceDomain(svc.Domain(), m.serviceHook(svc, d))
	}
	return nil
}

// Relay returns the module's relay (for tests and status).
func (m *Module) Relay() *bytestreams.Relay { return m.relay }

func (m *Module) serviceHook(svc jid.JID, domain string) module.Hook {
	return func(ctx context.Context, p *module.Packet) module.Verdict {
		st := p.Stanza
		if p.Kind != stanza.KindIQ || !st.IsRequest() || p.To.Resource() != "" || p.To.Local() != "" {
			return module.Continue
		}
		q := st.Payload()
		if q == nil || q.Name.Local != "query" || q.Get("node") != "" {
			return module.Continue
		}
		get := st.Type() == stanza.TypeGet
		switch {
		case get && q.Name.Space == disco.NSInfo:
			m.host.Route(ctx, stanza.Result(st, disco.Info{
				Identities: []disco.Identity{{Category: "proxy", Type: "bytestreams", Name: "SOCKS5 Bytestreams"}},
				Features:   []string{disco.NSInfo, disco.NSItems, NS},
			}.Element()))
		case get && q.Name.Space == disco.NSItems:
			m.host.Route(ctx, stanza.Result(st, disco.Items{}.Element()))
		case get && q.Name.Space == NS:
			m.streamhost(ctx, p, svc, domain)
		case !get && q.Name.Space == NS:
			m.activate(ctx, p)
		default:
			return module.Continue
		}
		return module.Handled
	}
}

// allowed reports whether from may use the proxy, answering the request
// with <forbidden/> when not (XEP-0065 §4).
func (m *Module) allowed(ctx context.Context, p *module.Packet) bool {
	if m.o.AllowRemote || m.host.IsLocal(p.From.Domain()) {
		return true
	}
	m.host.Logger().Info("proxy65: request from a remote user refused", "from", p.From)
	m.host.Route(ctx, stanza.ErrorReply(p.Stanza, &stanza.Error{Type: stanza.ErrAuth, Condition: stanza.Forbidden, Text: "only users of this server may use its proxy"}))
	return false
}

// streamhost answers a request for the proxy's network address (XEP-0065
// §4).
func (m *Module) streamhost(ctx context.Context, p *module.Packet, svc jid.JID, domain string) {
	if !m.allowed(ctx, p) {
		return
	}
	host, port, ok := m.address(domain)
	if !ok {
		m.host.Route(ctx, stanza.ErrorReply(p.Stanza, stanza.Errorf(stanza.NotAllowed, "the proxy is not listening")))
		return
	}
	m.host.Route(ctx, stanza.Result(p.Stanza, stanza.New(NS, "query").Append(
		stanza.New(NS, "streamhost", "jid", svc.String(), "host", host, "port", strconv.Itoa(port)))))
}

// address is the streamhost's host and port for users of domain.
func (m *Module) address(domain string) (string, int, bool) {
	m.mu.Lock()
	a := m.addr
	m.mu.Unlock()
	if a == nil {
		return "", 0, false
	}
	host, port := m.o.Host, m.o.Port
	if host == "" {
		host = domain
		if !a.IP.IsUnspecified() {
			host = a.IP.String() // RFC 5952 form for IPv6
		}
	}
	if port == 0 {
		port = a.Port
	}
	return host, port, true
}

// activate starts the bytestream the Requester names (XEP-0065 §6.3.7):
// the hash of the sid, the IQ's from and the target must be a stream both
// parties connected to.
func (m *Module) activate(ctx context.Context, p *module.Packet) {
	st, q := p.Stanza, p.Stanza.Payload()
	reply := func(e *stanza.Error) { m.host.Route(ctx, stanza.ErrorReply(st, e)) }
	if !m.allowed(ctx, p) {
		return
	}
	sid := q.Get("sid")
	act := q.Child(NS, "activate")
	if sid == "" || act == nil {
		reply(stanza.Errorf(stanza.BadRequest, "activation needs a sid and an <activate/> target"))
		return
	}
	target, err := jid.Parse(act.Text())
	if err != nil {
		reply(stanza.Errorf(stanza.JIDMalformed, "the target %q is not a JID", act.Text()))
		return
	}
	sum := sha1.Sum([]byte(sid + p.From.String() + target.String()))
	err = m.relay.Activate(hex.EncodeToString(sum[:]), p.From.Bare().String())
	switch {
	case err == nil:
		m.host.Route(ctx, stanza.Result(st, nil))
	case errors.Is(err, bytestreams.ErrNoStream):
		reply(stanza.Errorf(stanza.ItemNotFound, "no connection for stream %q between you and %s", sid, target))
	case errors.Is(err, bytestreams.ErrOneParty):
		reply(stanza.Errorf(stanza.NotAllowed, "only one party is connected to stream %q", sid))
	case errors.Is(err, bytestreams.ErrActive):
		reply(stanza.Errorf(stanza.NotAllowed, "stream %q is already active", sid))
	case errors.Is(err, bytestreams.ErrBusy):
		reply(&stanza.Error{Type: stanza.ErrWait, Condition: stanza.ResourceConstraint, Text: "too many transfers through the proxy: try again later"})
	default:
		reply(&stanza.Error{Type: stanza.ErrWait, Condition: stanza.InternalServerError})
	}
	if err != nil {
		m.host.Logger().Info("proxy65: activation refused", "from", p.From, "sid", sid, "target", target, "err", err)
	}
}
