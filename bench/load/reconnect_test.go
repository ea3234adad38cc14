package load_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/bench/load"
	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/modules"
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpptest"
)

// stormUsers is the number of clients of the storm tests.
const stormUsers = 60

// stormServer is a Parley server on a data folder and a fixed address,
// which the storm's Restart stops and starts again.
type stormServer struct {
	t     *testing.T
	dir   string
	addr  string
	sasl2 bool
	app   *app.App
	stop  func()
}

func (s *stormServer) start() {
	s.t.Helper()
	cfg := config.Default()
	cfg.DataDir = s.dir
	cfg.S2S.Enabled = false
	cfg.Auth.MaxFailureDelay = 0
	cfg.Auth.SASL2 = s.sasl2
	cfg.Listeners = []config.Listener{{Type: config.ListenerC2S, Address: s.addr}}
	if err := cfg.Validate(); err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		s.t.Fatal(err)
	}
	if err := a.Start(ctx, modules.Default(cfg)); err != nil {
		cancel()
		a.Close()
		s.t.Fatal(err)
	}
	s.app = a
	s.stop = func() {
		a.Stop(xmpptest.Context(s.t, 10*time.Second))
		cancel()
		a.Close()
	}
}

func newStormServer(t *testing.T, sasl2 bool) *stormServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &stormServer{t: t, dir: t.TempDir(), addr: addr, sasl2: sasl2}
	s.start()
	t.Cleanup(func() { s.stop() })
	for i := range stormUsers {
		if err := s.app.Auth().Create(context.Background(), jid.MustParse(fmt.Sprintf("user%d@localhost", i)), "pw"); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// config returns a storm of every account against s; with restart, the
// server restarts between the passes.
func (s *stormServer) config(restart bool) load.Config {
	s.t.Helper()
	certFile, _ := s.app.Config().SelfSignedFiles()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		s.t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	cfg := load.Config{
		Dialer: load.Dialer{
			Addrs:     []string{s.addr},
			Domain:    "localhost",
			TLS:       &tls.Config{RootCAs: roots, ServerName: "localhost"},
			Mechanism: sasl.ScramSHA256,
			Keys:      load.NewKeyCache(),
			Resource:  "storm",
		},
		UserFormat:     "user%d",
		PasswordFormat: "pw",
		Count:          stormUsers,
		Concurrency:    8,
	}
	if restart {
		cfg.Restart = func(context.Context) error {
			s.stop()
			s.start()
			return nil
		}
	}
	return cfg
}

func runStorm(t *testing.T, cfg load.Config) *load.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := load.Run(ctx, cfg, "storm")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.Format(&out)
	t.Logf("report:\n%s", out.String())
	if rep.Errors != 0 || rep.LoginErrors != 0 {
		t.Errorf("%d errors, %d failed logins: %v", rep.Errors, rep.LoginErrors, rep.ErrorKinds)
	}
	if rep.Logins != int64(cfg.Count) || rep.LoginLatency.N != rep.Logins || rep.LoginsPerSec <= 0 || rep.WarmLoginsPerSec <= 0 {
		t.Errorf("logins %d (%.1f/s, first pass %.1f/s, %d latency samples), want %d", rep.Logins, rep.LoginsPerSec, rep.WarmLoginsPerSec, rep.LoginLatency.N, cfg.Count)
	}
	if rep.Tickets != cfg.Count {
		t.Errorf("%d clients kept a TLS session ticket after the first pass, want %d", rep.Tickets, cfg.Count)
	}
	if rep.Resumed != int64(cfg.Count) {
		t.Errorf("%d storm handshakes resumed, want all %d", rep.Resumed, cfg.Count)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("%d TLS sessions resumed", rep.Resumed)) {
		t.Error("the report does not give the resumed handshakes")
	}
	return rep
}

// TestStormAfterRestart: clients that logged in once reconnect all at
// once after the server restarted on the same data folder, every one
// resuming its TLS session and logging in with its FAST token.
func TestStormAfterRestart(t *testing.T) {
	s := newStormServer(t, true)
	rep := runStorm(t, s.config(true))
	if !rep.Restarted {
		t.Error("the report does not say the server restarted")
	}
	if rep.Tokens != stormUsers || rep.FastLogins != stormUsers {
		t.Errorf("%d FAST tokens kept, %d FAST logins; want %d of each", rep.Tokens, rep.FastLogins, stormUsers)
	}
}

// TestStormWithoutSASL2: against a server without SASL2 (as Prosody and
// ejabberd are here) the storm logs in with SCRAM and still resumes TLS.
func TestStormWithoutSASL2(t *testing.T) {
	s := newStormServer(t, false)
	rep := runStorm(t, s.config(false))
	if rep.Restarted || rep.Tokens != 0 || rep.FastLogins != 0 {
		t.Errorf("restarted %v, %d tokens, %d FAST logins; want none", rep.Restarted, rep.Tokens, rep.FastLogins)
	}
}

// TestRestartCommand: the storm's restart runs the command, then waits
// for the server's address; a failing command or an address that never
// listens is an error.
func TestRestartCommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close() // the kernel completes connections to it: no Accept needed
	var out strings.Builder
	ctx := xmpptest.Context(t, 10*time.Second)
	if err := load.RestartCommand("echo restarted", ln.Addr().String(), time.Second, &out)(ctx); err != nil {
		t.Fatal(err)
	}
	if out.String() != "restarted\n" {
		t.Errorf("the command's output: %q", out.String())
	}
	if err := load.RestartCommand("exit 3", ln.Addr().String(), time.Second, &out)(ctx); err == nil {
		t.Error("a failing restart command was not an error")
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	closed.Close()
	if err := load.WaitListening(ctx, addr, 200*time.Millisecond); err == nil {
		t.Error("an address nobody listens on was reported listening")
	}
}
