package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Default ports when no SRV record exists: 5222 for STARTTLS (RFC 6120
// §3.2.2) and 5223 for direct TLS (the customary port; XEP-0368 defines
// none).
const (
	defaultPort    = "5222"
	defaultTLSPort = "5223"
	alpnClient     = "xmpp-client" // XEP-0368 §3 ALPN protocol id
	closeWait      = 5 * time.Second
)

// Config configures Dial.
type Config struct {
	// JID is the account to log in as. Its localpart is the SASL
	// username; a resource, if present and Resource is empty, is the
	// requested resource.
	JID jid.JID
	// Password is the account password.
	Password string
	// Address is a host:port to connect to. When empty, SRV records
	// _xmpp-client._tcp (or _xmpps-client._tcp with DirectTLS, XEP-0368)
	// of the JID's domain are used, then the domain itself on port 5222
	// (5223 with DirectTLS).
	Address string
	// WebSocket, when set, is the URL of an XMPP over WebSocket endpoint
	// (RFC 7395), e.g. "wss://example.org:5443/xmpp-websocket", used
	// instead of a TCP connection; Address and DirectTLS are then
	// ignored, and TLS is the WebSocket's (wss). A ws:// URL is refused
	// unless it names a loopback address: there is no STARTTLS.
	WebSocket string
	// BOSH, when set, is the URL of a BOSH endpoint (XEP-0124 with
	// XEP-0206), e.g. "https://example.org:5443/http-bind", used instead
	// of a TCP connection like WebSocket. The channel counts as
	// confidential with https, or http to a loopback address; other
	// http:// URLs are refused.
	BOSH string
	// BOSHWait is the longest the BOSH server may hold a request (the
	// session's 'wait'), rounded down to seconds; zero means 60 s. A
	// shorter one notices a broken network sooner, for more requests.
	BOSHWait time.Duration
	// DirectTLS starts TLS immediately after connecting (XEP-0368)
	// instead of negotiating STARTTLS, which is otherwise required.
	DirectTLS bool
	// TLS is the TLS configuration. It is cloned; an empty ServerName
	// becomes the JID's domain and a MinVersion below TLS 1.2 is raised.
	TLS *tls.Config
	// Mechanism forces one SASL mechanism (e.g. "PLAIN", "SCRAM-SHA-1").
	// It is attempted even when the server does not advertise it. Empty
	// selects the best advertised one (sasl.Preferred).
	Mechanism string
	// Resource is the resource to request at bind; empty lets the server
	// generate one.
	Resource string
	// NoSession skips the legacy session establishment (RFC 3921 §3) even
	// when the server advertises it as not optional.
	NoSession bool
	// Log receives debug logs; nil discards them.
	Log *slog.Logger
	// Limits bounds the incoming stream; the zero value means
	// stream.DefaultLimits().
	Limits stream.Limits
	// StreamManagement enables XEP-0198 after binding when the server
	// offers it, with resumption (see Client.Resume).
	StreamManagement bool
	// SASL2 logs in with XEP-0388 when the server offers it, binding the
	// resource in the same round trip with Bind 2 (XEP-0386) unless a
	// Resource is asked for (sasl2.go).
	SASL2 bool
	// UserAgent describes this installation to a SASL2 server; FAST
	// needs its ID.
	UserAgent *UserAgent
	// FastToken is tried before the password with SASL2 (XEP-0484).
	FastToken *FastToken
	// RequestFastToken asks the SASL2 server for a FAST token; see
	// Client.FastToken.
	RequestFastToken bool
}

// tlsConfig returns the TLS configuration to use for domain.
func (cfg *Config) tlsConfig(domain string) *tls.Config {
	var tc *tls.Config
	if cfg.TLS != nil {
		tc = cfg.TLS.Clone()
	} else {
		tc = &tls.Config{}
	}
	if tc.ServerName == "" {
		tc.ServerName = domain
	}
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	if cfg.DirectTLS && len(tc.NextProtos) == 0 {
		tc.NextProtos = []string{alpnClient}
	}
	return tc
}

// addresses returns the host:port candidates to try, in order.
func (cfg *Config) addresses(ctx context.Context, log *slog.Logger) []string {
	if cfg.Address != "" {
		return []string{cfg.Address}
	}
	domain := cfg.JID.Domain()
	host := strings.TrimSuffix(strings.TrimPrefix(domain, "["), "]")
	port := defaultPort
	service := "xmpp-client"
	if cfg.DirectTLS {
		port, service = defaultTLSPort, "xmpps-client"
	}
	fallback := net.JoinHostPort(host, port)
	if net.ParseIP(host) != nil {
		return []string{fallback}
	}
	_, srvs, err := net.DefaultResolver.LookupSRV(ctx, service, "tcp", domain)
	if err != nil {
		log.Debug("SRV lookup failed", "service", service, "domain", domain, "err", err)
		return []string{fallback}
	}
	var out []string
	for _, s := range srvs {
		if s.Target == "." || s.Target == "" {
			// RFC 2782: the service is decidedly not available.
			return nil
		}
		out = append(out, net.JoinHostPort(strings.TrimSuffix(s.Target, "."), fmt.Sprint(s.Port)))
	}
	if len(out) == 0 {
		out = append(out, fallback)
	}
	return out
}

// dial connects over WebSocket or TCP; it reports whether the channel is
// already confidential (no STARTTLS then).
func (cfg *Config) dial(ctx context.Context, log *slog.Logger, limits stream.Limits) (net.Conn, bool, error) {
	web := func(url string, c net.Conn, secure bool, err error) (net.Conn, bool, error) {
		if err == nil && !secure {
			// No STARTTLS over the web: the channel stays in the clear.
			c.Close()
			return nil, false, fmt.Errorf("client: %s is not confidential (only wss://, https:// or a loopback address are)", url)
		}
		return c, secure, err
	}
	if cfg.WebSocket != "" {
		c, secure, err := dialWebSocket(ctx, cfg.WebSocket, cfg)
		return web(cfg.WebSocket, c, secure, err)
	}
	if cfg.BOSH != "" {
		c, secure, err := dialBOSH(cfg.BOSH, cfg, limits)
		return web(cfg.BOSH, c, secure, err)
	}
	c, err := cfg.connect(ctx, log)
	return c, cfg.DirectTLS, err
}

// connect opens the TCP (and, with DirectTLS, TLS) connection.
func (cfg *Config) connect(ctx context.Context, log *slog.Logger) (net.Conn, error) {
	addrs := cfg.addresses(ctx, log)
	if len(addrs) == 0 {
		return nil, fmt.Errorf("client: %s offers no client service (SRV target \".\")", cfg.JID.Domain())
	}
	var errs []error
	for _, a := range addrs {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", a)
		if err != nil {
			errs = append(errs, err)
			log.Debug("connect failed", "addr", a, "err", err)
			continue
		}
		if !cfg.DirectTLS {
			return conn, nil
		}
		tc := tls.Client(conn, cfg.tlsConfig(cfg.JID.Domain()))
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			errs = append(errs, fmt.Errorf("TLS handshake with %s: %w", a, err))
			continue
		}
		return tc, nil
	}
	return nil, fmt.Errorf("client: connecting to %s: %w", cfg.JID.Domain(), errors.Join(errs...))
}
