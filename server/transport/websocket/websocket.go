// Package websocket is the WebSocket transport of client streams (RFC
// 7395): an http.Handler that accepts connections with the "xmpp"
// subprotocol and hands each to the stream engine, one XML element per
// WebSocket message, <open/> and <close/> in place of the stream's
// opening and closing tags.
//
// The handler answers the upgrade itself and frames RFC 6455 on the
// hijacked connection (conn.go): no WebSocket library connection, no
// net/http buffers and no reader goroutine of its own are kept per
// stream, and an idle bound stream parks (stream.Parker) with the
// handler's poller as a TCP session does.
package websocket

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/server/poller"
	"github.com/parley-xmpp/parley/server/stream"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// NSFraming is the namespace of <open/> and <close/> (RFC 7395 §3.3).
const NSFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// Subprotocol is the WebSocket subprotocol of XMPP (RFC 7395 §3.1).
const Subprotocol = "xmpp"

// Options configure a Handler.
type Options struct {
	// Origins lists the Origin header patterns (path.Match syntax on the
	// host, e.g. "*.example.org", or "*") whose pages may connect; empty
	// means any origin (authentication is in-band: a page gains nothing
	// from the user's browser but the connection).
	Origins []string
	// Secure reports whether a request reached the server confidentially
	// (TLS to this server, or to a trusted proxy); SASL is offered only
	// then. Nil means: the request came over TLS to this server.
	Secure func(r *http.Request) bool
	// RemoteAddr returns the client's address of a request (behind a
	// trusted proxy, the forwarded one); nil means r.RemoteAddr.
	RemoteAddr func(r *http.Request) string
	// OverTLS reports whether the client's connection is over TLS (to
	// this server, or to a trusted proxy); nil means r.TLS != nil.
	OverTLS func(r *http.Request) bool
	// Redirect, when set, returns the URI of another server's WebSocket
	// endpoint the client goes to when this server stops (RFC 7395
	// §3.6.1: <close see-other-uri='...'/> instead of <system-shutdown/>),
	// given whether the client's connection is over TLS; "" when there
	// is none.
	Redirect func(overTLS bool) string
	// Log receives the handler's log lines; nil means slog.Default().
	Log *slog.Logger
}

// Handler accepts WebSocket connections for the engine.
type Handler struct {
	eng  *stream.Server
	opts Options
	ctx  context.Context

	poll  poller.Shared // parked streams' (conn.Park); started on first use
	parks atomic.Uint64 // readers parked so far
}

// Parks returns how many times the reader of an idle stream has parked
// (conn.Park).
func (h *Handler) Parks() uint64 { return h.parks.Load() }

// New returns a handler serving eng's streams; ctx bounds the streams'
// lives (the server's run context).
func New(ctx context.Context, eng *stream.Server, o Options) *Handler {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Secure == nil {
		o.Secure = func(r *http.Request) bool { return r.TLS != nil }
	}
	if o.RemoteAddr == nil {
		o.RemoteAddr = func(r *http.Request) string { return r.RemoteAddr }
	}
	if o.OverTLS == nil {
		o.OverTLS = func(r *http.Request) bool { return r.TLS != nil }
	}
	h := &Handler{eng: eng, opts: o, ctx: ctx}
	// When the handler's streams end, parked ones wake and find their
	// connections closed by the engine.
	context.AfterFunc(ctx, h.poll.Close)
	return h
}

// poller returns the handler's poller, started on first use.
func (h *Handler) poller() (*poller.Poller, error) {
	if h.ctx.Err() != nil {
		return nil, h.ctx.Err()
	}
	return h.poll.Get()
}

// ServeHTTP upgrades the request and starts the stream.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.originAllowed(r.Header.Get("Origin")) {
		h.opts.Log.Info("websocket: origin refused", "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	if !offers(r, Subprotocol) {
		http.Error(w, `the "xmpp" WebSocket subprotocol is required (RFC 7395)`, http.StatusBadRequest)
		return
	}
	if !headerHas(r.Header, "Connection", "upgrade") || !headerHas(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "a WebSocket upgrade is required (RFC 6455)", http.StatusUpgradeRequired)
		return
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "WebSocket version 13 is required (RFC 6455)", http.StatusBadRequest)
		return
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		http.Error(w, "bad Sec-WebSocket-Key", http.StatusBadRequest)
		return
	}
	raw, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		h.opts.Log.Info("websocket: upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	lim := h.eng.Config().Limits
	max := lim.MaxStanzaBytes
	if max <= 0 {
		max = 256 << 10
	}
	t := &conn{h: h, raw: raw, remote: h.opts.RemoteAddr(r), secure: h.opts.Secure(r), overTLS: h.opts.OverTLS(r), limits: lim,
		readLimit: max + 4096, // the element, and room for the framing namespace declarations
		lim:       xstream.Limits{MaxStanzaBytes: max}}
	// Input the client sent right after its request (net/http read it
	// ahead) is the start of the WebSocket stream; net/http's buffers are
	// dropped with brw.
	if n := brw.Reader.Buffered(); n > 0 {
		p, _ := brw.Reader.Peek(n)
		t.take()
		*t.buf = append(*t.buf, p...)
	}
	switch {
	case r.TLS != nil:
		if data, err := r.TLS.ExportKeyingMaterial(sasl.ExporterLabel, []byte{}, 32); err == nil && r.TLS.Version == tls.VersionTLS13 {
			t.cb = map[string][]byte{sasl.TLSExporter: data}
		}
	default:
		if x, ok := raw.(exporter); ok {
			if data := x.Exporter(); data != nil {
				t.cb = map[string][]byte{sasl.TLSExporter: data}
			}
		}
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + acceptKey(key) + "\r\nSec-WebSocket-Protocol: " + Subprotocol + "\r\n\r\n"
	_ = raw.SetWriteDeadline(time.Now().Add(upgradeWriteTimeout))
	if _, err := io.WriteString(raw, resp); err != nil {
		h.opts.Log.Info("websocket: upgrade failed", "remote", r.RemoteAddr, "err", err)
		raw.Close()
		return
	}
	_ = raw.SetWriteDeadline(time.Time{})
	h.opts.Log.Debug("websocket: connection accepted", "remote", t.remote, "origin", r.Header.Get("Origin"))
	h.eng.Accept(h.ctx, t)
}

// upgradeWriteTimeout bounds writing the upgrade's response.
const upgradeWriteTimeout = 10 * time.Second

// exporter is a hijacked connection with TLS of its own (Parley's TLS
// layer on an https listener): its tls-exporter channel binding.
type exporter interface{ Exporter() []byte }

// headerHas reports whether a comma-separated header lists token.
func headerHas(hd http.Header, name, token string) bool {
	for _, v := range hd.Values(name) {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), token) {
				return true
			}
		}
	}
	return false
}

// offers reports whether the request asks for the subprotocol.
func offers(r *http.Request, proto string) bool {
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if strings.TrimSpace(p) == proto {
				return true
			}
		}
	}
	return false
}

func (h *Handler) originAllowed(origin string) bool {
	if len(h.opts.Origins) == 0 || origin == "" {
		return true // no Origin: not a browser
	}
	host := origin
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	for _, p := range h.opts.Origins {
		if ok, _ := path.Match(p, host); ok || p == origin {
			return true
		}
	}
	return false
}
