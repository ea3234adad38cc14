package app

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"slices"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/module"
	"github.com/parley-xmpp/parley/server/s2s"
	"github.com/parley-xmpp/parley/server/s2s/dialback"
	"github.com/parley-xmpp/parley/server/s2s/resolve"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// startFederation makes the pool of outgoing server-to-server links and
// registers it as the router's remote route, when s2s.enabled. It must
// run before anything is routed.
func (a *App) startFederation(ctx context.Context) error {
	s := a.cfg.S2S
	if !s.Enabled {
		return nil
	}
	roots, err := s2sRoots(s.CAFile)
	if err != nil {
		return err
	}
	// Dialback keys derive from the server's secret in the data folder,
	// so that keys stay valid across a restart and, for nodes sharing
	// the folder's secret, across a cluster.
	sum := sha256.Sum256(append([]byte("parley dialback\x00"), a.secret...))
	keyer, err := dialback.New(sum[:])
	if err != nil {
		return err
	}
	// Federation lives until stopFederation, not until ctx ends: ctx
	// ends first at shutdown, before the sessions have sent their
	// unavailable presence.
	a.s2sCtx, a.s2sCancel = context.WithCancel(context.WithoutCancel(ctx))
	// A reload leaves the certificates of outgoing links as they were.
	a.s2sPool = s2s.NewPool(a.s2sCtx, s2s.Options{
		Certificates: *a.certs.Load(),
		Roots:        roots,
		MinTLS:       a.cfg.TLS.MinVersion,
		Finder:       &resolve.Finder{Routes: s.Routes},
		Dialback:     keyer,
		Policy: func(domain string) s2s.Policy {
			p := s.Policy(domain)
			return s2s.Policy{Deny: p.Deny, RequireVerified: p.RequireVerified, NoDialback: !p.Dialback}
		},
		Bounce:         a.router.Route,
		QueueBytes:     s.QueueBytes,
		MaxLinks:       s.MaxLinks,
		ConnectTimeout: s.ConnectTimeout,
		IdleTimeout:    s.IdleTimeout,
		Log:            a.log.With("component", "s2s"),
	})
	if err := a.router.SetRemoteRoute(a.s2sPool); err != nil {
		a.cancelFederation()
		return fmt.Errorf("s2s: %w", err)
	}
	return nil
}

// s2sRoots are the system's trusted CAs, plus those of caFile.
func s2sRoots(caFile string) (*x509.CertPool, error) {
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if caFile == "" {
		return roots, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("s2s.ca_file: %w", err)
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("s2s.ca_file: %s holds no PEM certificate", caFile)
	}
	return roots, nil
}

// serveS2S accepts incoming server-to-server streams on ln.
func (a *App) serveS2S(ctx context.Context, ln net.Listener, l config.Listener) {
	sl := a.s2sPool.NewListener(s2s.InboundOptions{
		Router:     a.router,
		TLS:        a.tls,
		Limits:     stream.Limits{MaxStanzaBytes: a.cfg.Limits.MaxStanzaBytes, MaxDepth: a.cfg.Limits.MaxDepth},
		MaxStreams: a.cfg.S2S.MaxIncoming,
	})
	a.mu.Lock()
	a.s2sListeners = append(a.s2sListeners, sl)
	a.mu.Unlock()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := sl.Serve(ctx, ln, l.DirectTLS()); err != nil {
			a.log.Error("s2s listener failed", "address", ln.Addr().String(), "err", err)
			select {
			case a.failed <- fmt.Errorf("s2s listener %s failed: %w", ln.Addr(), err):
			default:
			}
		}
	}()
}

// shutdownDrain bounds how long stopFederation waits for the outgoing
// links still being made at shutdown.
const shutdownDrain = 5 * time.Second

// stopFederation lets the links being made carry what the ended sessions
// sent (the s2s listeners still accept, for the peers' dialback
// verifications), then stops accepting, closes the incoming streams and
// the outgoing links (bouncing what they still held).
func (a *App) stopFederation(ctx context.Context) {
	if a.s2sPool == nil {
		return
	}
	drainCtx, cancel := context.WithTimeout(ctx, shutdownDrain)
	if err := a.s2sPool.Drain(drainCtx); err != nil {
		a.log.Warn("s2s: links still connecting at shutdown", "err", err)
	}
	cancel()
	a.mu.Lock()
	listeners, lns := a.s2sListeners, a.s2sLns
	a.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	for _, sl := range listeners {
		if err := sl.Close(ctx); err != nil {
			a.log.Warn("s2s: closing incoming streams", "err", err)
		}
	}
	if err := a.s2sPool.Close(ctx); err != nil {
		a.log.Warn("s2s: closing outgoing links", "err", err)
	}
	a.cancelFederation()
}

// cancelFederation ends the outgoing links' context (a failed start,
// or the end of stopFederation).
func (a *App) cancelFederation() {
	if a.s2sCancel != nil {
		a.s2sCancel()
	}
}

// federationLinks is the module.FederationService modules see: the
// pool's outgoing links and the incoming streams' authenticated domains.
type federationLinks struct{ a *App }

// Links implements module.FederationService.
func (f federationLinks) Links() []module.FederationLink {
	f.a.mu.Lock()
	pool, listeners := f.a.s2sPool, f.a.s2sListeners
	f.a.mu.Unlock()
	if pool == nil {
		return nil
	}
	infos := pool.Links()
	for _, l := range listeners {
		infos = append(infos, l.Links()...)
	}
	out := make([]module.FederationLink, 0, len(infos))
	for _, i := range infos {
		out = append(out, module.FederationLink{Local: i.Local, Remote: i.Remote, Incoming: i.Incoming, State: i.State, Auth: i.Auth, TLS: i.TLS, Since: i.Since})
	}
	slices.SortStableFunc(out, func(x, y module.FederationLink) int {
		return cmp.Or(cmp.Compare(x.Remote, y.Remote), cmp.Compare(boolInt(x.Incoming), boolInt(y.Incoming)), cmp.Compare(x.Local, y.Local))
	})
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// S2S returns the pool of outgoing server-to-server links, nil when
// federation is off.
func (a *App) S2S() *s2s.Pool { return a.s2sPool }
