package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/modules"
	"github.com/parley-xmpp/parley/server/stream"
	"github.com/parley-xmpp/parley/server/transport/bosh"
	"github.com/parley-xmpp/parley/server/transport/websocket"
	"github.com/parley-xmpp/parley/server/web"
	"github.com/parley-xmpp/parley/server/web/client"
)

// serveHTTP serves the HTTP side (XMPP over WebSocket and over BOSH, their
// discovery) on ln; an https listener runs TLS with the XMPP certificates.
// All HTTP listeners share one engine for their WebSocket and BOSH streams.
func (a *App) serveHTTP(ctx context.Context, ln net.Listener, l config.Listener, modern stream.Config) {
	a.mu.Lock()
	if a.webEngine == nil {
		a.webEngine = a.engine(modern, "websocket", "http")
		var page http.Handler
		if h, err := client.New(client.Options{Domain: a.cfg.Domains[0], Domains: a.cfg.Domains, Version: modules.Version, WebSocketPath: web.PathWebSocket}); err != nil {
			a.log.Error("web client unavailable", "err", err)
		} else {
			page = h
		}
		a.web = web.New(web.Options{
			Client:    page,
			WebSocket: websocket.New(ctx, a.webEngine, websocket.Options{Secure: secureRequest, Log: a.log.With("component", "websocket")}),
			BOSH:      bosh.New(ctx, a.webEngine, bosh.Options{Secure: secureRequest, Inactivity: a.cfg.Limits.BOSHInactivity, Log: a.log.With("component", "bosh")}),
			Handlers:  a.router.HTTPHandlers(),
			Log:       a.log.With("component", "http"),
		})
	}
	srv := a.web
	a.mu.Unlock()
	if l.Type == config.ListenerHTTPS {
		cfg := a.tls.Clone()
		cfg.NextProtos = []string{"http/1.1"} // WebSocket needs HTTP/1.1's upgrade
		ln = tls.NewListener(ln, cfg)
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := srv.Serve(ctx, ln); err != nil {
			a.log.Error("HTTP listener failed", "address", ln.Addr().String(), "err", err)
			select {
			case a.failed <- fmt.Errorf("HTTP listener %s failed: %w", ln.Addr(), err):
			default:
			}
		}
	}()
}

// secureRequest reports whether a WebSocket or BOSH request is confidential: it
// came over TLS, or from this machine (the bytes never left it).
func secureRequest(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}
