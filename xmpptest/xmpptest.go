// Package xmpptest starts an in-process Parley server on loopback ports
// with a temporary data folder, and logs real xmpp/client sessions into it
// over TCP and TLS. Every integration test of the project uses it.
package xmpptest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/modules"
	"github.com/parley-xmpp/parley/xmpp/client"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Option changes the configuration of a test server before it starts.
type Option func(*config.Config)

// Server is a running in-process server.
type Server struct {
	App    *app.App
	Config *config.Config
	roots  *x509.CertPool
	cancel context.CancelFunc
	watch  *watcher
}

// NewServer starts a server serving "localhost" with listeners on
// 127.0.0.1 random ports; it stops when the test ends. Set PARLEY_TEST_LOG=1
// to see its log.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	return NewServerWithClock(t, nil, opts...)
}

// NewServerWithClock starts a server as NewServer does, whose modules read
// the time from clock (module.Host.Now) instead of the wall clock; a nil
// clock is the wall clock.
func NewServerWithClock(t testing.TB, clock *Clock, opts ...Option) *Server {
	t.Helper()
	return newServer(t, clock, nil, nil, opts...)
}

// NewServerWithLog starts a server as NewServer does, logging to log (for
// tests of what the server logs).
func NewServerWithLog(t testing.TB, log *slog.Logger, opts ...Option) *Server {
	t.Helper()
	return newServer(t, nil, log, nil, opts...)
}

// NewServerWithAdmin starts a server as NewServer does, with the live
// administration on (app.App.EnableAdmin with adm, without the admin
// socket) and an admin HTTP listener on a random loopback port.
func NewServerWithAdmin(t testing.TB, log *slog.Logger, adm app.AdminOptions, opts ...Option) *Server {
	t.Helper()
	adm.NoSocket = true
	opts = append(opts, func(c *config.Config) {
		c.Listeners = append(c.Listeners, config.Listener{Type: config.ListenerAdmin, Address: "127.0.0.1:0"})
	})
	return newServer(t, nil, log, &adm, opts...)
}

func newServer(t testing.TB, clock *Clock, log *slog.Logger, adm *app.AdminOptions, opts ...Option) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listeners = []config.Listener{
		{Type: config.ListenerC2S, Address: "127.0.0.1:0"},
		{Type: config.ListenerC2STLS, Address: "127.0.0.1:0"},
	}
	// A test server is an island: stanzas to other domains bounce at
	// once, without DNS. A test of federation turns it on (and adds s2s
	// listeners) with an Option.
	cfg.S2S.Enabled = false
	for _, o := range opts {
		o(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("xmpptest: config: %v", err)
	}
	switch {
	case log != nil:
	case os.Getenv("PARLEY_TEST_LOG") != "":
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	default:
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("xmpptest: open: %v", err)
	}
	if clock != nil {
		a.SetClock(clock.Now)
	}
	if adm != nil {
		a.EnableAdmin(*adm)
	}
	watch := newWatcher()
	if err := a.Start(ctx, append(modules.Default(cfg), watch)); err != nil {
		cancel()
		a.Close()
		t.Fatalf("xmpptest: start: %v", err)
	}
	s := &Server{App: a, Config: cfg, cancel: cancel, watch: watch}
	certFile, _ := cfg.SelfSignedFiles()
	if pem, err := os.ReadFile(certFile); err == nil {
		s.roots = x509.NewCertPool()
		s.roots.AppendCertsFromPEM(pem)
	}
	t.Cleanup(func() {
		stopCtx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		a.Stop(stopCtx)
		cancel()
		a.Close()
	})
	return s
}

// Domain returns the first served domain.
func (s *Server) Domain() string { return s.Config.Domains[0] }

// Addr returns the STARTTLS listener's address.
func (s *Server) Addr() string { return s.App.Addrs(config.ListenerC2S)[0].String() }

// TLSAddr returns the direct-TLS listener's address.
func (s *Server) TLSAddr() string { return s.App.Addrs(config.ListenerC2STLS)[0].String() }

// TLSConfig returns a client TLS configuration trusting the server's
// self-signed certificate.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.roots, ServerName: s.Domain(), MinVersion: tls.VersionTLS12}
}

// CertFile returns the path of the server's self-signed certificate.
func (s *Server) CertFile() string {
	f, _ := s.Config.SelfSignedFiles()
	return f
}

// AddUser creates an account; local may be a localpart or a bare JID.
func (s *Server) AddUser(t testing.TB, local, password string) jid.JID {
	t.Helper()
	j := s.JID(t, local)
	if err := s.App.Auth().Create(context.Background(), j, password); err != nil {
		t.Fatalf("xmpptest: creating %s: %v", j, err)
	}
	return j
}

// JID returns the bare JID of a localpart (or parses a full address).
func (s *Server) JID(t testing.TB, local string) jid.JID {
	t.Helper()
	addr := local
	if !strings.Contains(local, "@") {
		addr = local + "@" + s.Domain()
	}
	j, err := jid.Parse(addr)
	if err != nil {
		t.Fatalf("xmpptest: %q: %v", addr, err)
	}
	return j
}

// ClientConfig returns the configuration Client uses, for tests that dial
// themselves.
func (s *Server) ClientConfig(t testing.TB, local, password, resource string) client.Config {
	return client.Config{
		JID:      s.JID(t, local),
		Password: password,
		Address:  s.Addr(),
		TLS:      s.TLSConfig(),
		Resource: resource,
	}
}

// Client logs a session in over STARTTLS and closes it when the test ends.
func (s *Server) Client(t testing.TB, local, password, resource string) *client.Client {
	t.Helper()
	return s.Dial(t, s.ClientConfig(t, local, password, resource))
}

// Dial logs a session in with cfg and closes it when the test ends.
func (s *Server) Dial(t testing.TB, cfg client.Config) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("xmpptest: login %s: %v", cfg.JID, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Context returns a context that ends after d or with the test.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// FreePort returns a loopback TCP port free a moment ago (for a listener
// whose port another server must know before it starts, such as an s2s
// route's). It is taken below Linux's ephemeral range (32768 and up), so
// that the outgoing connections of tests running meanwhile, which the
// kernel gives ephemeral ports, cannot take it before the listener does.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		port := 20000 + mathrand.IntN(12000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // in use
		}
		ln.Close()
		return port
	}
	t.Fatal("xmpptest: no free port below the ephemeral range")
	return 0
}
