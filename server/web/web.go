// Package web is the server's HTTP side: one http.Handler for every HTTP
// and HTTPS listener, with the XMPP over WebSocket endpoint (RFC 7395) at
// /xmpp-websocket, BOSH (XEP-0124, XEP-0206) at /http-bind and their
// discovery (XEP-0156) at /.well-known/host-meta and
// /.well-known/host-meta.json. It knows the endpoints' handlers only
// as http.Handler values; one that answers requests on the connection
// itself hands the connection back for its next request (Handback).
package web

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/server/poller"
	"github.com/parley-xmpp/parley/server/tlsrec"
)

// Paths of the endpoints.
const (
	PathWebSocket = "/xmpp-websocket"
	PathBOSH      = "/http-bind"
	PathHostMeta  = "/.well-known/host-meta"
)

// Limits of every HTTP request; Options.HeaderTimeout overrides the
// first.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 16 << 10
)

// Options configure a Server.
type Options struct {
	// WebSocket serves XMPP over WebSocket; nil leaves the endpoint out.
	WebSocket http.Handler
	// BOSH serves XMPP over BOSH (POST, and OPTIONS for CORS); nil
	// leaves the endpoint out.
	BOSH http.Handler
	// Client serves the built-in web client at / and under /client/;
	// nil leaves it out.
	Client http.Handler
	// Handlers are further handlers by path prefix (ending in "/"), such
	// as the modules' (uploaded files).
	Handlers map[string]http.Handler
	// HeaderTimeout bounds reading a request's headers (slowloris);
	// 0 means 10 s.
	HeaderTimeout time.Duration
	// Log receives the server's log lines.
	Log *slog.Logger
}

// Server is the HTTP handler of the server's listeners.
type Server struct {
	mux   *http.ServeMux
	opts  Options
	poll  poller.Shared // connections handed back (Handback) wait in it
	parks atomic.Uint64 // waits of connections handed back for their next request
	// polled counts the waits in the poller (the others are on the
	// goroutine that answered, awaitFirst).
	polled atomic.Uint64
	// keepFor is how long a connection handed back waits for its next
	// request before it releases its TLS state (releaseAfter; tests
	// change it).
	keepFor time.Duration
	// direct serves the requests read on connections handed back that
	// the server takes without net/http (BOSH's, when its handler is a
	// ConnServer); directs counts them.
	direct  ConnServer
	directs atomic.Uint64
	// released counts connections handed back that released their TLS
	// state (Park) for waiting longer than releaseAfter.
	released atomic.Uint64
}

// Parks returns how many times a connection handed back (Handback) has
// waited for its next request: in the server's poller, or, for up to a
// second, on the goroutine that answered the previous one.
func (s *Server) Parks() uint64 { return s.parks.Load() }

// Direct returns how many requests on connections handed back (Handback)
// the server has read and served itself, without net/http (ConnServer).
func (s *Server) Direct() uint64 { return s.directs.Load() }

// Released returns how many times a connection handed back (Handback)
// with Parley's TLS layer released its TLS buffers and cipher states for
// waiting longer than a second for its next request.
func (s *Server) Released() uint64 { return s.released.Load() }

// New returns the handler.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	s := &Server{mux: http.NewServeMux(), opts: o, keepFor: releaseAfter}
	if o.WebSocket != nil {
		s.mux.Handle("GET "+PathWebSocket, o.WebSocket)
	}
	if o.BOSH != nil {
		s.direct, _ = o.BOSH.(ConnServer)
		s.mux.Handle("POST "+PathBOSH, o.BOSH)
		s.mux.Handle("OPTIONS "+PathBOSH, o.BOSH)
	}
	for prefix, h := range o.Handlers {
		s.mux.Handle(prefix, h)
	}
	if o.Client != nil {
		s.mux.Handle("GET /{$}", o.Client)
		s.mux.Handle("GET /client/", o.Client)
	}
	s.mux.HandleFunc("GET "+PathHostMeta, s.hostMeta)
	s.mux.HandleFunc("GET "+PathHostMeta+".json", s.hostMetaJSON)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Serve serves HTTP on ln until ctx ends, then shuts down gracefully
// (open WebSocket streams are the engine's to end).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.headerTimeout(),
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.opts.Log.Handler(), slog.LevelInfo),
		ConnContext:       withTLSConn,
	}
	l := newListener(ctx, s, ln)
	hs.BaseContext = func(net.Listener) context.Context { return l.base }
	context.AfterFunc(ctx, s.poll.Close) // parked connections wake and close
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	})
	defer stop()
	err := hs.Serve(l)
	switch {
	case err == nil, errors.Is(err, http.ErrServerClosed):
		return nil
	case errors.Is(err, net.ErrClosed):
		// The server closed the listener (it stops listening first
		// when it stops, before ctx ends): not a failure. The open
		// connections are shut down when ctx ends.
		return nil
	}
	return fmt.Errorf("web: %w", err)
}

// headerTimeout bounds reading a request's head.
func (s *Server) headerTimeout() time.Duration {
	if s.opts.HeaderTimeout > 0 {
		return s.opts.HeaderTimeout
	}
	return readHeaderTimeout
}

// webSocketURL is the endpoint's URL as the request reached this server.
func (s *Server) webSocketURL(r *http.Request) string {
	scheme := "ws"
	if OverTLS(r) {
		scheme = "wss"
	}
	return scheme + "://" + r.Host + PathWebSocket
}

// boshURL is the BOSH endpoint's URL as the request reached this server.
func (s *Server) boshURL(r *http.Request) string {
	scheme := "http"
	if OverTLS(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host + PathBOSH
}

// link is one XRD link of host-meta.
type link struct {
	XMLName xml.Name `xml:"Link" json:"-"`
	Rel     string   `xml:"rel,attr" json:"rel"`
	Href    string   `xml:"href,attr" json:"href"`
}

func (s *Server) links(r *http.Request) []link {
	var out []link
	if s.opts.WebSocket != nil {
		out = append(out, link{Rel: "urn:xmpp:alt-connections:websocket", Href: s.webSocketURL(r)})
	}
	if s.opts.BOSH != nil {
		out = append(out, link{Rel: "urn:xmpp:alt-connections:xbosh", Href: s.boshURL(r)})
	}
	return out
}

// hostMeta serves the XRD form of XEP-0156 §3.
func (s *Server) hostMeta(w http.ResponseWriter, r *http.Request) {
	doc := struct {
		XMLName xml.Name `xml:"http://docs.oasis-open.org/ns/xri/xrd-1.0 XRD"`
		Links   []link
	}{Links: s.links(r)}
	b, err := xml.Marshal(doc)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	discoveryHeaders(w, "application/xrd+xml")
	w.Write(append([]byte(xml.Header), b...))
}

// hostMetaJSON serves the JRD form of XEP-0156 §3.
func (s *Server) hostMetaJSON(w http.ResponseWriter, r *http.Request) {
	b, err := json.Marshal(struct {
		Links []link `json:"links"`
	}{s.links(r)})
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	discoveryHeaders(w, "application/json")
	w.Write(b)
}

// discoveryHeaders lets pages of any origin read the discovery document
// (XEP-0156 §3: web clients are served from elsewhere).
func discoveryHeaders(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("X-Content-Type-Options", "nosniff")
}

// tlsConnKey is the context key of a connection with Parley's TLS layer.
type tlsConnKey struct{}

// withTLSConn marks the context of a connection from a tlsrec.Listener:
// net/http sets Request.TLS only for crypto/tls connections.
func withTLSConn(ctx context.Context, c net.Conn) context.Context {
	if sc := tlsConn(c); sc != nil {
		return context.WithValue(ctx, tlsConnKey{}, sc)
	}
	return ctx
}

// tlsConn returns c's connection with Parley's TLS layer, or nil.
func tlsConn(c net.Conn) *tlsrec.ServerConn {
	if pc, ok := c.(*prefixConn); ok {
		c = pc.Conn
	}
	sc, _ := c.(*tlsrec.ServerConn)
	return sc
}

// OverTLS reports whether r reached this server over TLS: crypto/tls's
// (Request.TLS) or Parley's TLS layer (a tlsrec.Listener).
func OverTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	_, ok := r.Context().Value(tlsConnKey{}).(*tlsrec.ServerConn)
	return ok
}
