package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/server/acmecert"
	"github.com/parley-xmpp/parley/server/admin"
	"github.com/parley-xmpp/parley/server/adminhttp"
	"github.com/parley-xmpp/parley/server/auth"
	"github.com/parley-xmpp/parley/server/certs"
	"github.com/parley-xmpp/parley/server/cluster"
	"github.com/parley-xmpp/parley/server/component"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/metrics"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/modules"
	"github.com/parley-xmpp/parley/server/router"
	"github.com/parley-xmpp/parley/server/s2s"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/stream"
	"github.com/parley-xmpp/parley/server/tlsrec"
	"github.com/parley-xmpp/parley/server/transport/bosh"
	"github.com/parley-xmpp/parley/server/transport/tcp"
	"github.com/parley-xmpp/parley/server/transport/websocket"
	"github.com/parley-xmpp/parley/server/web"
)

// App is a configured Parley server.
type App struct {
	cfg    *config.Config
	log    *slog.Logger
	stores storage.Stores
	auth   *auth.Authenticator
	router *router.Router
	tls    *tls.Config
	certs  *certs.Store // the certificates tls serves
	self   bool         // the certificate is self-signed
	// acme keeps ACME certificates; nil unless tls.acme is enabled.
	acme   *acmecert.Manager
	secret []byte
	now    func() time.Time // the server clock modules see; nil is time.Now

	closeStorage func() error // closes the storage backend

	mu        sync.Mutex
	listeners []net.Listener
	servers   []*tcp.Listener
	ws        *websocket.Handler // the HTTP listeners' WebSocket streams (web.go)
	bosh      *bosh.Handler      // the HTTP listeners' BOSH sessions (web.go)
	addrs     map[config.ListenerType][]net.Addr
	// s2sPool is federation's outgoing side, nil when it is off;
	// s2sListeners its incoming side.
	s2sPool      *s2s.Pool
	s2sListeners []*s2s.Listener
	// s2sCtx is federation's context, s2sCancel ends it: the links and
	// the s2s listeners outlive the run context so that what sessions
	// send as they end (unavailable presence) still goes out, over links
	// that may still need the peer's dialback verification to come in;
	// stopFederation ends it last. s2sLns are the s2s listeners' sockets.
	s2sCtx    context.Context
	s2sCancel context.CancelFunc
	s2sLns    []net.Listener
	// webEngine runs the WebSocket streams of every HTTP listener, web
	// serves them; nil without HTTP listeners.
	webEngine *stream.Server
	web       *web.Server
	// components serves the external components; nil without any.
	components *component.Listener
	// cluster is this server's cluster node; nil unless cluster.enabled.
	cluster *cluster.Node
	// metrics are the server's Prometheus metrics (adminhttp.go); admin
	// serves them, nil without an admin listener; up is set while every
	// listener is up (readiness).
	metrics *metrics.Metrics
	admin   *adminhttp.Server
	up      atomic.Bool
	wg      sync.WaitGroup
	// modules are the registered modules, in order (for their Stop hooks).
	modules []module.Module
	cancel  context.CancelFunc
	// failed receives the first error that ends the server (a listener
	// that stopped accepting); Run waits for it as for ctx.
	failed chan error

	// certCfg is the configuration the certificate store reads its
	// files from (tls.certificates, the data folder); a reload swaps it
	// (admin.go).
	certCfg atomic.Pointer[config.Config]
	// engines are the client stream engines of the TCP listeners, whose
	// limits a reload changes.
	engines []*stream.Server
	// adminOpts enable the live administration (EnableAdmin); ops are its
	// operations once started.
	adminOpts *AdminOptions
	ops       *admin.Ops
	// reloadMu serialises reloads; running is the configuration in force
	// after the last one (nil before: cfg).
	reloadMu sync.Mutex
	running  *config.Config
}

// Open prepares the data folder and storage. It does not listen; use Start
// or Run. OpenStorage is enough for administration commands.
func Open(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data folder %s: %w", cfg.DataDir, err)
	}
	a := &App{cfg: cfg, log: log, failed: make(chan error, 1)}
	a.metrics = metrics.New(a.metricsState())
	stores, closeStorage, err := openStorage(ctx, cfg, log, a.metrics)
	if err != nil {
		return nil, err
	}
	a.stores, a.closeStorage = stores, closeStorage
	a.auth = auth.New(stores.Accounts, auth.Options{
		Iterations: cfg.Auth.ScramIterations,
		Throttle:   throttle(cfg),
		Log:        log.With("component", "auth"),
		Status:     stores.Status,
	})
	if err := a.auth.LoadIterationCounts(ctx); err != nil {
		// Unknown users are then announced the configured count only.
		log.Warn("reading the iteration counts of stored accounts", "err", err)
	}
	return a, nil
}

// throttle maps the configuration of login throttling to the
// authenticator's: a zero max_failure_delay disables it; no wait exceeds
// half the time an unauthenticated connection may stay open, so that a
// slowed login still completes.
func throttle(cfg *config.Config) auth.Throttle {
	a := cfg.Auth
	t := auth.Throttle{
		FreePerAccount: a.FreeFailuresPerAccount,
		FreePerAddress: a.FreeFailuresPerAddress,
		Delay:          a.FailureDelay,
		MaxDelay:       a.MaxFailureDelay,
		Window:         a.FailureWindow,
	}
	if t.MaxDelay == 0 {
		return auth.Throttle{MaxDelay: -1}
	}
	if half := cfg.Limits.PreauthTimeout / 2; half > 0 && t.MaxDelay > half {
		t.MaxDelay = half
	}
	t.Delay = min(t.Delay, t.MaxDelay)
	return t
}

// SetClock replaces the clock modules read through module.Host.Now (for
// tests that step time instead of sleeping). Call it before Start.
func (a *App) SetClock(now func() time.Time) { a.now = now }

// Auth returns the account manager.
func (a *App) Auth() *auth.Authenticator { return a.auth }

// Stores returns the storage.
func (a *App) Stores() storage.Stores { return a.stores }

// Router returns the router (for tests).
func (a *App) Router() *router.Router { return a.router }

// Config returns the configuration in use.
func (a *App) Config() *config.Config { return a.cfg }

// Close releases storage. Call it after Run returned or instead of Start.
func (a *App) Close() error { return a.closeStorage() }

// Start sets up TLS, the router and modules, and starts listening. The
// listeners run until ctx ends or Stop is called.
func (a *App) Start(ctx context.Context, mods []module.Module) (err error) {
	if err := a.openCertificates(); err != nil {
		return err
	}
	a.tls = a.certs.TLSConfig(a.cfg.TLS.MinVersion)
	if err := a.openTicketKeys(); err != nil {
		return err
	}
	defer func() {
		if err != nil && a.cluster != nil {
			// Started or not, leave the cluster: nothing was bound.
			c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			a.cluster.Close(c)
			cancel()
		}
	}()
	if a.secret, err = loadSecret(a.cfg.DataDir); err != nil {
		return err
	}
	table := session.NewTable(a.cfg.Limits.SessionsPerAccount)
	var dir session.Directory = table
	if a.cfg.Cluster.Enabled {
		if a.cluster, err = a.newClusterNode(table); err != nil {
			return err
		}
		dir = a.cluster.Directory()
	}
	var (
		inv     router.Invalidator
		replies router.ReplyForwarder
		node    string
	)
	if a.cluster != nil {
		inv, replies, node = a.cluster, a.cluster, a.cluster.Name()
	}
	rt := router.New(router.Options{
		Invalidator: inv,
		Replies:     replies,
		Node:        node,
		Domains:     a.cfg.Domains,
		Stores:      a.stores,
		Table:       table,
		Directory:   dir,
		Log:         a.log.With("component", "router"),
		Limits: module.Limits{OfflineMessages: a.cfg.Limits.OfflineMessages, DirectedPresences: a.cfg.Limits.DirectedPresences,
			SharedPresences: a.cfg.Limits.SharedPresences},
		Accounts: a.Accounts(),
		// The pool and listeners come later (startFederation, Start's
		// listeners); the service reads them when asked.
		Federation: federationLinks{a},
		Now:        a.now,
		Metrics:    a.metrics,
	})
	a.mu.Lock()
	a.router = rt
	a.mu.Unlock()
	if mods == nil {
		mods = modules.Default(a.cfg)
	}
	if a.cluster != nil {
		if err := a.router.Register(clusterEvents{a.cluster}); err != nil {
			return err
		}
	}
	// Each module decodes its own section (modules.<name>), disabled
	// modules included, before any registers.
	if err := a.cfg.Modules.Configure(module.ConfigDecoders(mods)); err != nil {
		return fmt.Errorf("configuring modules: %w", err)
	}
	for _, m := range mods {
		if a.cfg.Modules.IsDisabled(m.Name()) {
			continue
		}
		if err := a.router.Register(m); err != nil {
			return err
		}
		a.modules = append(a.modules, m)
	}
	if a.cluster != nil {
		a.clusterRooms()
	}
	runCtx, cancel := context.WithCancel(ctx)
	a.cancel = cancel
	if a.cluster != nil {
		if err := a.cluster.Start(ctx, a.router); err != nil {
			cancel()
			return err
		}
		a.warnUnclustered()
	}
	if err := a.startFederation(runCtx); err != nil {
		cancel()
		return err
	}
	if err := a.startComponents(); err != nil {
		cancel()
		return err
	}
	for _, m := range mods {
		if st, ok := m.(module.Starter); ok && !a.cfg.Modules.IsDisabled(m.Name()) {
			if err := st.Start(runCtx); err != nil {
				cancel()
				a.cancelFederation()
				return fmt.Errorf("starting module %s: %w", m.Name(), err)
			}
		}
	}
	if err := a.startCertificates(runCtx); err != nil {
		cancel()
		a.cancelFederation()
		return err
	}
	a.addrs = make(map[config.ListenerType][]net.Addr)
	modern := a.loginConfig()
	preauth := new(tcp.AddrCounter) // one cap across the listeners
	listeners := a.cfg.Listeners
	if comps := a.componentListeners(); len(comps) > 0 && !hasType(listeners, config.ListenerComponent) {
		listeners = append(append([]config.Listener(nil), listeners...), comps...)
	}
	for _, l := range listeners {
		if l.ModuleServed() && a.listenerServer(l.Type) == nil {
			cancel()
			a.cancelFederation()
			a.closeListeners()
			return fmt.Errorf("listener %s on %s: no enabled module serves listeners of type %s", l.Type, l.Address, l.Type)
		}
		ln, err := net.Listen("tcp", l.Address)
		if err != nil {
			cancel()
			a.cancelFederation()
			a.closeListeners()
			return fmt.Errorf("listener %s on %s: %w", l.Type, l.Address, err)
		}
		if l.Type == config.ListenerACMEHTTP {
			a.serveACMEHTTP(runCtx, ln, l)
			continue
		}
		if l.Type == config.ListenerAdmin {
			a.serveAdmin(runCtx, ln)
			continue
		}
		if l.Type == config.ListenerComponent {
			a.mu.Lock()
			a.listeners = append(a.listeners, ln)
			a.addrs[l.Type] = append(a.addrs[l.Type], ln.Addr())
			a.mu.Unlock()
			a.serveComponents(runCtx, ln)
			continue
		}
		if l.ModuleServed() {
			if err := a.startModuleListener(runCtx, l, ln); err != nil {
				cancel()
				a.cancelFederation()
				a.closeListeners()
				return err
			}
			continue
		}
		if l.HTTP() {
			a.mu.Lock()
			a.listeners = append(a.listeners, ln)
			a.addrs[l.Type] = append(a.addrs[l.Type], ln.Addr())
			a.mu.Unlock()
			a.serveHTTP(runCtx, ln, l, modern)
			continue
		}
		if l.Server() {
			a.mu.Lock()
			a.s2sLns = append(a.s2sLns, ln)
			a.addrs[l.Type] = append(a.addrs[l.Type], ln.Addr())
			a.mu.Unlock()
			a.serveS2S(a.s2sCtx, ln, l)
			continue
		}
		eng := a.engine(modern, "c2s", l.Address)
		a.mu.Lock()
		a.engines = append(a.engines, eng)
		a.mu.Unlock()
		srv := tcp.New(tcp.Config{
			TLS:               a.tls,
			RecordLayer:       recordLayer(a.cfg.TLS.RecordLayer),
			DirectTLS:         l.DirectTLS(),
			PreauthPerAddress: a.cfg.Limits.PreauthConnectionsPerAddress,
			Preauth:           preauth,
		}, eng)
		a.mu.Lock()
		a.listeners = append(a.listeners, ln)
		a.servers = append(a.servers, srv)
		a.addrs[l.Type] = append(a.addrs[l.Type], ln.Addr())
		a.mu.Unlock()
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := srv.Serve(runCtx, ln); err != nil {
				a.log.Error("listener failed", "address", ln.Addr().String(), "err", err)
				select {
				case a.failed <- fmt.Errorf("listener %s failed: %w", ln.Addr(), err):
				default: // an earlier failure already ends the server
				}
			}
		}()
	}
	if a.adminOpts != nil {
		a.startAdmin(runCtx)
	}
	if a.cluster != nil {
		a.cluster.SetAdvertiseWeb(a.advertiseWeb())
		a.cluster.SetAdvertise(ctx, a.advertise())
	}
	a.wg.Go(func() { a.trimAfterWaves(runCtx, time.Second) })
	if floor := a.cfg.Runtime.GCMinHeap; floor > 0 && os.Getenv("GOGC") == "" {
		a.wg.Go(func() { tuneGC(runCtx, uint64(floor), 500*time.Millisecond, a.log) })
	}
	a.up.Store(true)
	return nil
}

// engine builds a stream engine for client streams with the server's
// configuration; component and address name it in the log.
func (a *App) engine(modern stream.Config, component, address string) *stream.Server {
	return stream.New(stream.Config{
		AllowPLAIN:   a.cfg.Auth.AllowPlain,
		FakeSecret:   a.secret,
		Iterations:   a.cfg.Auth.ScramIterations,
		Limits:       streamLimits(a.cfg.Limits),
		SM:           a.c2sStreamManagement(),
		CSI:          stream.ClientState{Disabled: !a.cfg.CSI.Enabled, MaxHeld: a.cfg.CSI.MaxHeld},
		Router:       a.router,
		Sessions:     a.router.Sessions(),
		Auth:         a.auth,
		Log:          a.log.With("component", component, "listener", address),
		DisableSASL2: modern.DisableSASL2,
		FAST:         modern.FAST,
		Registration: modern.Registration,
		Metrics:      a.metrics,
	})
}

// streamLimits maps the configured limits to a client stream engine's.
func streamLimits(l config.Limits) stream.Limits {
	return stream.Limits{
		MaxStanzaBytes:     l.MaxStanzaBytes,
		MaxDepth:           l.MaxDepth,
		PreauthStanzaBytes: l.PreauthStanzaBytes,
		PreauthElements:    l.PreauthElements,
		PreauthTimeout:     l.PreauthTimeout,
		OutboundQueue:      l.OutboundQueue,
		IdlePing:           disabledIfZero(l.IdlePing),
		PingTimeout:        l.PingTimeout,
		ParkAfter:          disabledIfZero(l.ParkAfter),
		OutboundQueueBytes: l.OutboundQueueBytes,
		Rate:               c2sRate(l.Rate),
		PreauthRate:        c2sRate(l.PreauthRate),
	}
}

// trimAfterWaves returns to the operating system the memory that a wave
// of sessions parking (idle.go in server/transport/tcp) or ending (a mass
// disconnect) released, once the wave is over (trimPolicy). Without it
// the freed heap would stay resident until the runtime's next
// collection, which an idle server may not run for minutes, and the
// scavenger keeps up to the last heap goal.
func (a *App) trimAfterWaves(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	var p trimPolicy
	for {
		parks, sessions := a.Parks(), a.router.Sessions().Count()
		if p.observe(parks, sessions, time.Now()) {
			start := time.Now()
			debug.FreeOSMemory()
			a.log.Debug("returned memory to the OS after a wave of parking or session ends", "parks", parks, "sessions", sessions, "took", time.Since(start))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Parks returns how many times the reader of an idle client session
// parked since the server started (limits.park_after).
func (a *App) Parks() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var n uint64
	for _, s := range a.servers {
		n += s.Parks()
	}
	if a.ws != nil {
		n += a.ws.Parks()
	}
	if a.bosh != nil {
		n += a.bosh.Parks()
	}
	return n
}

func (a *App) closeListeners() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ln := range a.listeners {
		ln.Close()
	}
}

// Addrs returns the bound addresses of the listeners of a type.
func (a *App) Addrs(t config.ListenerType) []net.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addrs[t]
}

// Summary is the one line `parley serve` prints at start.
func (a *App) Summary() string {
	var ls []string
	for _, l := range a.cfg.Listeners {
		for _, addr := range a.Addrs(l.Type) {
			kind := "STARTTLS"
			if l.DirectTLS() {
				kind = "direct TLS"
			}
			if l.Server() {
				kind = "servers, " + kind
			}
			if l.HTTP() {
				kind = map[bool]string{true: "HTTPS", false: "HTTP"}[l.DirectTLS()]
			}
			if l.Type == config.ListenerComponent {
				kind = "components"
			}
			if l.Type == config.ListenerAdmin {
				kind = "admin HTTP: metrics, health, API, pages at /admin/"
			}
			if l.Type == config.ListenerProxy65 {
				kind = "file transfer proxy"
			}
			if l.Type == config.ListenerACMEHTTP {
				kind = "ACME HTTP-01"
			}
			if l.Type == config.ListenerTURN || l.Type == config.ListenerTURNS {
				kind = map[bool]string{true: "TURN over TLS", false: "STUN/TURN, UDP and TCP"}[l.DirectTLS()]
			}
			ls = append(ls, fmt.Sprintf("%s (%s)", addr, kind))
		}
	}
	cert := "configured certificates"
	if a.self {
		cert = "a self-signed certificate"
	}
	if a.acme != nil {
		cert = "ACME certificates from " + a.cfg.TLS.ACME.Directory + " (" + cert + " until issued)"
	}
	return fmt.Sprintf("parley: serving %s on %s with %s, data in %s (%s)",
		strings.Join(a.cfg.Domains, ", "), strings.Join(uniq(ls), ", "), cert, a.cfg.DataDir, a.cfg.Storage.String())
}

func uniq(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// Stop closes listeners, ends every session with <system-shutdown/> (in
// a cluster, TCP clients get <see-other-host/> naming another live node
// when there is one: the node drains) and waits for them, at most until
// ctx ends. Federation stops after the
// sessions: the unavailable presence they broadcast as they end still
// reaches remote contacts over the open links, which write what they
// hold before their closing tag.
func (a *App) Stop(ctx context.Context) {
	a.up.Store(false)
	if a.cancel != nil {
		a.cancel()
	}
	a.closeListeners()
	a.mu.Lock()
	servers := append([]*tcp.Listener(nil), a.servers...)
	a.mu.Unlock()
	for _, s := range servers {
		s.ShutdownWith(ctx, a.drainError)
	}
	a.mu.Lock()
	webEngine := a.webEngine
	a.mu.Unlock()
	if webEngine != nil {
		webEngine.Shutdown(ctx)
	}
	a.stopFederation(ctx)
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	a.stopModules(ctx)
	if a.cluster != nil {
		a.cluster.Close(ctx)
	}
}

// stopModules runs the modules' Stop hooks, last registered first, then
// ends their background work (module.Host.Go) and waits for it, so that
// nothing a module started still runs when storage closes.
func (a *App) stopModules(ctx context.Context) {
	if a.router == nil {
		return
	}
	for i := len(a.modules) - 1; i >= 0; i-- {
		if st, ok := a.modules[i].(module.Stopper); ok {
			if err := st.Stop(ctx); err != nil {
				a.log.Error("stopping a module", "module", a.modules[i].Name(), "err", err)
			}
		}
	}
	a.modules = nil
	if err := a.router.Background().Stop(ctx); err != nil {
		a.log.Error("background work of modules still running at shutdown", "err", err)
	}
}

// Run starts the server and serves until ctx ends, then stops gracefully.
func (a *App) Run(ctx context.Context, mods []module.Module, ready func(*App)) error {
	if err := a.Start(ctx, mods); err != nil {
		return err
	}
	started := time.Now()
	a.log.Info("server started", "domains", a.cfg.Domains)
	if ready != nil {
		ready(a)
	}
	var failure error
	select {
	case <-ctx.Done():
	case failure = <-a.failed:
	}
	// Why the server stops: the signal (signal.NotifyContext's cause), the
	// caller's cancellation or deadline, or a failure of its own.
	reason := failure
	if reason == nil {
		reason = context.Cause(ctx)
	}
	uptime := time.Since(started).Round(time.Millisecond)
	level := slog.LevelInfo
	if failure != nil {
		level = slog.LevelError
	}
	a.log.Log(context.Background(), level, "server stopping", "reason", reason.Error(), "uptime", uptime.String())
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.Stop(stopCtx)
	a.log.Log(context.Background(), level, "server stopped", "reason", reason.Error(), "uptime", time.Since(started).Round(time.Millisecond).String(),
		"clean", stopCtx.Err() == nil)
	if failure != nil {
		return failure
	}
	if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// c2sStreamManagement maps the stream_management section to the stream
// engine's settings (XEP-0198).
func c2sStreamManagement(s config.StreamManagement) stream.StreamManagement {
	timeout := s.ResumeTimeout
	if timeout == 0 {
		timeout = -1 // resumption disabled
	}
	return stream.StreamManagement{Disabled: !s.Enabled, ResumeTimeout: timeout, MaxUnacked: s.MaxUnacked, AckEvery: s.AckEvery, AckInterval: s.AckInterval}
}

// disabledIfZero maps a configured duration where 0 means "off" to the
// c2s convention, where 0 means "the default" and a negative value "off".
func disabledIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// recordLayer maps tls.record_layer to the transport's setting.
func recordLayer(l config.RecordLayer) tlsrec.RecordLayer {
	if l == config.RecordLayerGo {
		return tlsrec.RecordLayerGo
	}
	return tlsrec.RecordLayerParley
}

// c2sRate converts a configured rate limit.
func c2sRate(r config.Rate) stream.Rate {
	return stream.Rate{BytesPerSecond: r.BytesPerSecond, StanzasPerSecond: r.StanzasPerSecond, Burst: r.Burst}
}

// hasType reports whether a listener of type t is among ls.
func hasType(ls []config.Listener, t config.ListenerType) bool {
	for _, l := range ls {
		if l.Type == t {
			return true
		}
	}
	return false
}
