// Package bosh is the BOSH transport of client streams (XEP-0124, with
// XEP-0206 for XMPP): an http.Handler for POST /http-bind that keeps
// HTTP sessions, each a stream of the engine. The payloads of the
// client's <body/> wrappers are the stream's elements; what the engine
// writes becomes the payloads of the responses to the requests the
// server holds.
//
// Requests are processed in 'rid' order (a request ahead of a gap waits
// for it, within the window of 'requests'), the last responses are kept
// for retransmission, a session ends after 'inactivity' seconds without
// a request (a lost connection: a stream-managed session stays
// resumable), empty requests more frequent than 'polling' allows end it
// with policy-violation (§11, §12), and both the session count and the
// output waiting for a request are bounded.
package bosh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/server/stream"
	xbosh "github.com/parley-xmpp/parley/xmpp/bosh"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// Namespaces of BOSH and of its XMPP binding (xmpp/bosh's).
const (
	NSHTTPBind = xbosh.NSHTTPBind
	NSXBOSH    = xbosh.NSXBOSH
)

// Version is the protocol version this server implements (XEP-0124 'ver').
const Version = xbosh.Version

// Limits of the server (sent in the session creation response; a client
// asking for more gets these).
const (
	// MaxWait is the longest a request is held.
	MaxWait = 60 * time.Second
	// MaxHold is the most requests held at once.
	MaxHold = 1
	// DefaultPolling is the shortest interval between empty requests a
	// client must keep when none of its requests is held (§11, §12).
	DefaultPolling = 2 * time.Second
	// MaxPause is the longest a client may pause the session (§10).
	MaxPause = 120 * time.Second
	// DefaultInactivity is how long a session lives without a request.
	DefaultInactivity = 60 * time.Second
	// DefaultMaxSessions bounds the number of sessions.
	DefaultMaxSessions = 10000
	// DefaultBodyTimeout bounds reading a request's body.
	DefaultBodyTimeout = 30 * time.Second
	// framing is the room given to the <body/> wrapper beyond the
	// engine's largest element.
	framing = 4096
)

// Options configure a Handler.
type Options struct {
	// Secure reports whether a request reached the server confidentially
	// (TLS to this server, or to a trusted proxy); SASL is offered only
	// then. A session's confidentiality is that of its creation request.
	// Nil means: the request came over TLS to this server.
	Secure func(r *http.Request) bool
	// RemoteAddr returns the client's address of a request (behind a
	// trusted proxy, the forwarded one); nil means r.RemoteAddr.
	RemoteAddr func(r *http.Request) string
	// Inactivity is how long a session lives without a request; zero
	// means DefaultInactivity.
	Inactivity time.Duration
	// Polling is the shortest interval between empty requests (the
	// sessions' 'polling'); zero means DefaultPolling.
	Polling time.Duration
	// MaxSessions bounds the number of sessions; zero means
	// DefaultMaxSessions.
	MaxSessions int
	// BodyTimeout bounds reading a request's body; zero means
	// DefaultBodyTimeout.
	BodyTimeout time.Duration
	// OverTLS reports whether a request came over TLS (to this server,
	// or to a trusted proxy); nil means r.TLS != nil. A session's is that
	// of its creation request.
	OverTLS func(r *http.Request) bool
	// Redirect, when set, returns the URI of another server's BOSH
	// endpoint a session goes to when this server stops (XEP-0124 §17.2:
	// the terminal condition see-other-uri instead of system-shutdown),
	// given whether the session's requests come over TLS; "" when there
	// is none.
	Redirect func(overTLS bool) string
	// Log receives the handler's log lines; nil means slog.Default().
	Log *slog.Logger
}

// Handler serves BOSH for the engine.
type Handler struct {
	eng  *stream.Server
	opts Options
	ctx  context.Context
	max  int // the engine's bound on one element

	mu       sync.Mutex
	sessions map[string]*session
	parks    atomic.Uint64 // readers parked so far
}

// Parks returns how many times the reader of an idle session has parked
// (stream.Parker).
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
	if o.Inactivity <= 0 {
		o.Inactivity = DefaultInactivity
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = DefaultMaxSessions
	}
	if o.Polling <= 0 {
		o.Polling = DefaultPolling
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	h := &Handler{eng: eng, opts: o, ctx: ctx, sessions: make(map[string]*session), max: 256 << 10}
	if m := eng.Config().Limits.MaxStanzaBytes; m > 0 {
		h.max = m
	}
	context.AfterFunc(ctx, h.shutdown)
	return h
}

// shutdown answers every request held or waiting for a gap with
// system-shutdown: the server stops.
func (h *Handler) shutdown() {
	h.mu.Lock()
	ss := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		ss = append(ss, s)
	}
	h.mu.Unlock()
	for _, s := range ss {
		b := h.stopping(s.overTLS)
		s.mu.Lock()
		for _, p := range s.held {
			p.send(b)
		}
		for _, p := range s.ahead {
			p.send(b)
		}
		s.held, s.ahead = nil, map[uint64]*pending{}
		s.mu.Unlock()
	}
}

// ServeHTTP answers one request of the binding. Pages of any origin may
// use it (CORS): authentication is in-band, so a page gains nothing from
// the user's browser but the connection.
//
// Once the request's body is read, a request that came through
// web.Serve takes its connection from net/http: its response, at once or
// when the held request is answered, is written on the connection, which
// then goes back to the server for the next request (web.Handback). No
// goroutine waits while a request is held, and none while the
// connection waits for the next one.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		// A CORS preflight (rare: its answer is cached a day) stays with
		// net/http, which discards any body it has.
		(&httpResponder{w: w}).respond(http.StatusNoContent, nil)
		return
	}
	// The body is bounded in size and in time (a body that trickles in
	// must not hold a connection for ever); the deadline is lifted once
	// it is read, as the request may then be held for 'wait'.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(h.opts.BodyTimeout))
	r.Body = http.MaxBytesReader(w, r.Body, h.MaxBody())
	b, err := io.ReadAll(r.Body)
	rc.SetReadDeadline(time.Time{})
	if err != nil {
		// What is left of the body must not be read, nor taken for
		// the next request: net/http answers and closes.
		w.Header().Set("Connection", "close")
		h.opts.Log.Info("bosh: request body cut", "remote", h.remoteAddr(r), "err", err)
		(&httpResponder{w: w}).respond(http.StatusOK, terminate("bad-request"))
		return
	}
	h.serve(h.responder(w, r), r, b)
}

// ServeConn implements web.ConnServer: r's body, read from body, and its
// response go over c, which the server read r from itself (a connection
// handed back, web.Handback); once answered, c is handed back with back.
// The body is bounded in time as in ServeHTTP (its size, MaxBody, the
// server checks first).
func (h *Handler) ServeConn(r *http.Request, body io.Reader, c net.Conn, back func(net.Conn, []byte)) {
	rs := &connResponder{conn: c, back: back, close: r.Close}
	c.SetReadDeadline(time.Now().Add(h.opts.BodyTimeout))
	b := make([]byte, min(r.ContentLength, h.MaxBody()))
	_, err := io.ReadFull(body, b)
	c.SetReadDeadline(time.Time{})
	if err != nil {
		// What is left of the body must not be read, nor taken for the
		// next request: the connection closes after the answer.
		rs.close = true
		h.opts.Log.Info("bosh: request body cut", "remote", h.remoteAddr(r), "err", err)
		rs.respond(http.StatusOK, terminate("bad-request"))
		return
	}
	h.serve(rs, r, b)
}

// MaxBody implements web.ConnServer: the largest body of a request.
func (h *Handler) MaxBody() int64 { return int64(h.max + framing) }

// serve answers r, whose body b has been read, through rs.
func (h *Handler) serve(rs responder, r *http.Request, b []byte) {
	if h.ctx.Err() != nil {
		rs.respond(http.StatusOK, h.stopping(h.overTLS(r)))
		return
	}
	lim := xstream.DefaultLimits()
	lim.MaxStanzaBytes = h.max + framing
	lim.MaxDepth++
	body, err := xstream.ParseElement(b, lim)
	if err == nil && (body.Name.Space != NSHTTPBind || body.Name.Local != "body") {
		err = fmt.Errorf("<%s xmlns='%s'> is not a BOSH <body/>", body.Name.Local, body.Name.Space)
	}
	var rid uint64
	if err == nil {
		rid, err = strconv.ParseUint(body.Get("rid"), 10, 53)
	}
	if err != nil {
		h.opts.Log.Info("bosh: bad request", "remote", h.remoteAddr(r), "err", err)
		rs.respond(http.StatusOK, terminate("bad-request"))
		return
	}
	sid := body.Get("sid")
	if sid == "" {
		h.create(rs, r, body, rid)
		return
	}
	h.mu.Lock()
	s := h.sessions[sid]
	h.mu.Unlock()
	if s == nil {
		rs.respond(http.StatusOK, terminate("item-not-found"))
		return
	}
	if s.secure && !h.opts.Secure(r) {
		// The session's id went over a channel that is not confidential:
		// whoever saw it could take the session over.
		h.opts.Log.Info("bosh: a confidential session's request came in the clear", "remote", r.RemoteAddr)
		s.mu.Lock()
		status, resp := s.failLocked("policy-violation")
		s.mu.Unlock()
		rs.respond(status, resp)
		return
	}
	s.request(rs, body, rid)
}

// overTLS reports whether r came over TLS (Options.OverTLS).
func (h *Handler) overTLS(r *http.Request) bool {
	if h.opts.OverTLS == nil {
		return r.TLS != nil
	}
	return h.opts.OverTLS(r)
}

// stopping is the terminal binding condition of a stopping server:
// see-other-uri with the URI of another server's endpoint (XEP-0124
// §17.2) when Options.Redirect gives one, else system-shutdown.
func (h *Handler) stopping(overTLS bool) []byte {
	if h.opts.Redirect != nil {
		if uri := h.opts.Redirect(overTLS); uri != "" {
			body := stanza.New(NSHTTPBind, "body", "type", "terminate", "condition", "see-other-uri")
			body.Append(stanza.New(NSHTTPBind, "uri").SetText(uri))
			return body.AppendXML(nil, "")
		}
	}
	return terminate("system-shutdown")
}

// terminate is a terminal binding condition (XEP-0124 §17.2).
func terminate(condition string) []byte {
	return []byte(`<body xmlns="` + NSHTTPBind + `" type="terminate" condition="` + condition + `"/>`)
}

// create starts a session (XEP-0124 §7.1, XEP-0206 §3).
func (h *Handler) create(rs responder, r *http.Request, body *stanza.Element, rid uint64) {
	to := body.Get("to")
	if to == "" {
		rs.respond(http.StatusOK, terminate("improper-addressing"))
		return
	}
	wait := MaxWait
	if v, err := strconv.Atoi(body.Get("wait")); err == nil && v >= 0 && time.Duration(v)*time.Second < wait {
		wait = time.Duration(v) * time.Second
	}
	hold := MaxHold
	if v, err := strconv.Atoi(body.Get("hold")); err == nil && v >= 0 && v < hold {
		hold = v
	}
	s := newSession(h, rid, wait, hold)
	s.legacy, s.acks = body.Get("ver") == "", body.Get("ack") == "1"
	s.ver = Version
	if v := body.Get("ver"); v != "" && lowerVersion(v, Version) {
		s.ver = v // §7.1: the highest version both support
	}
	s.secure, s.overTLS, s.remote = h.opts.Secure(r), h.overTLS(r), h.remoteAddr(r)
	s.header = xstream.Header{To: to, Version: attrNS(body, NSXBOSH, "version"), Lang: attrNS(body, stanza.NSXML, "lang"), ContentNS: stanza.NSClient}
	if s.header.Version == "" {
		s.header.Version = "1.0" // XEP-0206 §4: an older client; XMPP 1.0 is what the engine speaks
	}
	h.mu.Lock()
	if len(h.sessions) >= h.opts.MaxSessions {
		h.mu.Unlock()
		h.opts.Log.Warn("bosh: too many sessions", "remote", r.RemoteAddr)
		rs.respond(http.StatusOK, terminate("remote-connection-failed"))
		return
	}
	h.sessions[s.sid] = s
	h.mu.Unlock()
	h.opts.Log.Debug("bosh: session created", "remote", s.remote, "origin", r.Header.Get("Origin"), "wait", wait, "hold", hold, "ver", s.ver)
	s.in = append(s.in, input{header: true})
	p := &pending{rid: rid, create: true, rs: rs}
	s.mu.Lock()
	s.held = append(s.held, p)
	s.arm(p)
	s.mu.Unlock()
	h.eng.Accept(h.ctx, s)
	rs.wait()
}

// newSession returns a session of h with a new random id, its first
// request rid.
func newSession(h *Handler, rid uint64, wait time.Duration, hold int) *session {
	var sidb [16]byte
	rand.Read(sidb[:])
	return &session{
		h: h, sid: hex.EncodeToString(sidb[:]), wait: wait, hold: hold, requests: hold + 1,
		lastRid: rid, inactivity: h.opts.Inactivity,
		responses: make(map[uint64][]byte), ahead: make(map[uint64]*pending),
		inReady: make(chan struct{}, 1), done: make(chan struct{}), drained: make(chan struct{}),
		lim: xstream.Limits{MaxStanzaBytes: h.max},
	}
}

// remove forgets s.
func (h *Handler) remove(s *session) {
	h.mu.Lock()
	if h.sessions[s.sid] == s {
		delete(h.sessions, s.sid)
	}
	h.mu.Unlock()
}

// Sessions is the number of sessions.
func (h *Handler) Sessions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

// errTimeout is Write's error when its deadline passes.
var errTimeout = fmt.Errorf("bosh: write: %w", errDeadline)

var errDeadline = errors.New("the client did not fetch the output in time")

// attrNS returns the value of el's attribute {space}local, or "".
func attrNS(el *stanza.Element, space, local string) string {
	for _, a := range el.Attr {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// lowerVersion reports whether the BOSH version a ("major.minor") is
// lower than b; an unreadable a is not.
func lowerVersion(a, b string) bool {
	parse := func(v string) (int, int, bool) {
		maj, min, ok := strings.Cut(v, ".")
		x, err1 := strconv.Atoi(maj)
		y, err2 := strconv.Atoi(min)
		return x, y, ok && err1 == nil && err2 == nil
	}
	am, an, ok := parse(a)
	bm, bn, _ := parse(b)
	return ok && (am < bm || am == bm && an < bn)
}

// remoteAddr is the client's address of r (Options.RemoteAddr).
func (h *Handler) remoteAddr(r *http.Request) string {
	if h.opts.RemoteAddr != nil {
		return h.opts.RemoteAddr(r)
	}
	return r.RemoteAddr
}
