package app

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/parley-xmpp/parley/server/adminapi"
	"github.com/parley-xmpp/parley/server/adminhttp"
	"github.com/parley-xmpp/parley/server/admintoken"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/logring"
	"github.com/parley-xmpp/parley/server/metrics"
	"github.com/parley-xmpp/parley/server/modules"
	"github.com/parley-xmpp/parley/server/session"
	"github.com/parley-xmpp/parley/server/webadmin"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Metrics returns the server's metrics.
func (a *App) Metrics() *metrics.Metrics { return a.metrics }

// AdminHTTP returns the admin HTTP server (listener type admin), where
// the admin API mounts its endpoints (HandleAPI); nil before Start or
// without an admin listener.
func (a *App) AdminHTTP() *adminhttp.Server {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.admin
}

// metricsState is what the metrics read from the server when scraped.
func (a *App) metricsState() metrics.State {
	return metrics.State{
		Sessions: func(add func(transport, domain string)) {
			a.eachSession(func(s *session.Session) {
				transport := "other"
				if n, ok := s.Conn().(interface{ TransportName() string }); ok {
					transport = n.TransportName()
				}
				add(transport, s.JID().Domain())
			})
		},
		Queues: func() (stanzas, bytes int) {
			a.eachSession(func(s *session.Session) {
				if h, ok := s.Conn().(interface{ Held() (int, int) }); ok {
					n, b := h.Held()
					stanzas, bytes = stanzas+n, bytes+b
				}
			})
			return stanzas, bytes
		},
		Links: func() (in, out int) {
			for _, l := range (federationLinks{a}).Links() {
				if l.Incoming {
					in++
				} else {
					out++
				}
			}
			return in, out
		},
		Components: func() int {
			a.mu.Lock()
			comps := a.components
			a.mu.Unlock()
			n := 0
			if comps != nil {
				for _, rt := range comps.Routes() {
					if rt.Connected() {
						n++
					}
				}
			}
			return n
		},
	}
}

// eachSession calls fn for each session bound on this node, none before
// Start.
func (a *App) eachSession(fn func(*session.Session)) {
	a.mu.Lock()
	r := a.router
	a.mu.Unlock()
	if r != nil {
		r.Sessions().Each(fn)
	}
}

// serveAdmin serves the admin HTTP server on ln. The probes (/metrics,
// /healthz, /readyz) need no token when ln is bound to a loopback
// address.
func (a *App) serveAdmin(ctx context.Context, ln net.Listener) {
	open := false
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
		open = tcp.IP.IsLoopback()
	}
	if !open {
		a.log.Info("admin listener not on a loopback address: /metrics, /healthz and /readyz need a token too", "address", ln.Addr().String())
	}
	tokens := admintoken.New(a.cfg.DataDir)
	pages := webadmin.New(webadmin.Options{Ops: a.Admin, Tokens: tokens, Recent: a.recentLog(), Log: a.log.With("component", "webadmin")})
	srv := adminhttp.New(adminhttp.Options{
		Metrics:    a.metrics.Handler(),
		Ready:      a.ready,
		Pages:      pages,
		Tokens:     tokens,
		Version:    modules.Version,
		OpenProbes: open,
		Log:        a.log.With("component", "admin"),
	})
	// The operations start after the listeners: the API finds them per
	// request (503 until then, and without EnableAdmin).
	adminapi.Mount(srv, adminapi.Options{Ops: a.Admin, Log: a.log.With("component", "admin")})
	a.mu.Lock()
	a.listeners = append(a.listeners, ln)
	a.addrs[config.ListenerAdmin] = append(a.addrs[config.ListenerAdmin], ln.Addr())
	if a.admin == nil {
		a.admin = srv
	}
	a.mu.Unlock()
	a.wg.Go(func() {
		if err := srv.Serve(ctx, ln); err != nil {
			a.log.Error("admin listener failed", "address", ln.Addr().String(), "err", err)
			select {
			case a.failed <- fmt.Errorf("admin listener %s failed: %w", ln.Addr(), err):
			default:
			}
		}
	})
}

// recentLog is the ring of recent warnings and errors the web admin
// pages show (AdminOptions.Recent), nil if none is kept.
func (a *App) recentLog() *logring.Ring {
	if a.adminOpts == nil {
		return nil
	}
	return a.adminOpts.Recent
}

// ready is the readiness check of /readyz: every listener is up and the
// storage answers a read.
func (a *App) ready(ctx context.Context) error {
	if !a.up.Load() {
		return errors.New("the server is starting or stopping")
	}
	probe, err := jid.New("readyz", a.cfg.Domains[0], "")
	if err != nil {
		return fmt.Errorf("storage probe: %w", err)
	}
	if _, err := a.stores.Accounts.AccountExists(ctx, probe); err != nil {
		return fmt.Errorf("storage does not answer: %w", err)
	}
	return nil
}
