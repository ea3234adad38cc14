package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/server/cluster"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/modules"
	"github.com/parley-xmpp/parley/server/stream"
	"github.com/parley-xmpp/parley/server/tlsrec"
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
		a.ws = websocket.New(ctx, a.webEngine, websocket.Options{
			Origins:    a.cfg.HTTP.WebSocketOrigins,
			Secure:     a.secureRequest,
			RemoteAddr: a.clientAddr,
			OverTLS:    a.overTLS,
			Redirect:   a.webRedirect(cluster.WebSocket),
			Log:        a.log.With("component", "websocket"),
		})
		a.bosh = bosh.New(ctx, a.webEngine, bosh.Options{Secure: a.secureRequest, RemoteAddr: a.clientAddr, OverTLS: a.overTLS, Redirect: a.webRedirect(cluster.BOSH),
			Inactivity: a.cfg.Limits.BOSHInactivity, Polling: a.cfg.Limits.BOSHPolling, Log: a.log.With("component", "bosh")})
		a.web = web.New(web.Options{
			Client:    page,
			WebSocket: a.ws,
			BOSH:      a.bosh,
			Handlers:  a.router.HTTPHandlers(),
			Log:       a.log.With("component", "http"),
		})
	}
	srv := a.web
	a.mu.Unlock()
	if l.Type == config.ListenerHTTPS {
		cfg := a.tls.Clone()
		cfg.NextProtos = []string{"http/1.1"} // WebSocket needs HTTP/1.1's upgrade
		// Parley's record layer rather than crypto/tls's: a connection
		// upgraded to a WebSocket then parks when idle as a TCP
		// session does (no reader goroutine, no buffers, no cipher
		// states).
		ln = tlsrec.NewServer(cfg, recordLayer(a.cfg.TLS.RecordLayer)).NewListener(ln, handshakeTimeout)
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

// secureRequest reports whether a web request (WebSocket, BOSH) is
// confidential: it came over TLS, from this machine (the bytes never left
// it), or from a trusted proxy that says its client used HTTPS.
func (a *App) secureRequest(r *http.Request) bool {
	if web.OverTLS(r) {
		return true
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	if a.cfg.HTTP.Trusted(ap.Addr()) {
		return strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
	}
	return ap.Addr().Unmap().IsLoopback()
}

// overTLS reports whether a web request came over TLS: to this server,
// or to a trusted proxy that says so.
func (a *App) overTLS(r *http.Request) bool {
	if web.OverTLS(r) {
		return true
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && a.cfg.HTTP.Trusted(ap.Addr()) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// clientAddr is the client's address of a web request: the peer's, or,
// behind a trusted proxy, the last address of X-Forwarded-For that is
// not itself a trusted proxy. Login throttling and limits count it.
func (a *App) clientAddr(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !a.cfg.HTTP.Trusted(ap.Addr()) {
		return r.RemoteAddr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		addr, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !a.cfg.HTTP.Trusted(addr) {
			return netip.AddrPortFrom(addr.Unmap(), 0).String()
		}
	}
	return r.RemoteAddr
}

// handshakeTimeout bounds the TLS handshake of an https connection.
const handshakeTimeout = 10 * time.Second
