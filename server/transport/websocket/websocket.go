// Package websocket is the WebSocket transport of client streams (RFC
// 7395): an http.Handler that accepts connections with the "xmpp"
// subprotocol and hands each to the stream engine, one XML element per
// WebSocket message, <open/> and <close/> in place of the stream's
// opening and closing tags.
package websocket

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	ws "github.com/coder/websocket"

	"github.com/parley-xmpp/parley/server/stream"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
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
	// Log receives the handler's log lines; nil means slog.Default().
	Log *slog.Logger
}

// Handler accepts WebSocket connections for the engine.
type Handler struct {
	eng  *stream.Server
	opts Options
	ctx  context.Context
}

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
	return &Handler{eng: eng, opts: o, ctx: ctx}
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
	lim := h.eng.Config().Limits
	c, err := ws.Accept(w, r, &ws.AcceptOptions{Subprotocols: []string{Subprotocol}, InsecureSkipVerify: true})
	if err != nil {
		h.opts.Log.Info("websocket: upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	max := lim.MaxStanzaBytes
	if max <= 0 {
		max = 256 << 10
	}
	c.SetReadLimit(int64(max) + 4096) // the element, and room for the framing namespace declarations
	t := &conn{h: h, ws: c, remote: h.opts.RemoteAddr(r), secure: h.opts.Secure(r), limits: lim,
		msgs: make(chan message, 1), done: make(chan struct{}), lim: xstream.Limits{MaxStanzaBytes: max}}
	if r.TLS != nil {
		if data, err := r.TLS.ExportKeyingMaterial(sasl.ExporterLabel, []byte{}, 32); err == nil && r.TLS.Version == tls.VersionTLS13 {
			t.cb = map[string][]byte{sasl.TLSExporter: data}
		}
	}
	h.opts.Log.Debug("websocket: connection accepted", "remote", t.remote, "origin", r.Header.Get("Origin"))
	h.eng.Accept(h.ctx, t)
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

// message is one WebSocket message read, or why reading stopped.
type message struct {
	b   []byte
	err error
}

// conn is one WebSocket client stream: a stream.Transport.
type conn struct {
	h      *Handler
	ws     *ws.Conn
	remote string
	secure bool
	cb     map[string][]byte
	limits stream.Limits
	lim    xstream.Limits
	events stream.Reader

	// A reader goroutine hands messages over, so that the engine's reader
	// can wait for one with its time limits (a timed-out WebSocket read
	// would end the connection).
	msgs      chan message
	done      chan struct{}
	closeOnce sync.Once
	start     time.Time
	bound     bool

	wmu      sync.Mutex
	deadline time.Time
}

var _ stream.Transport = (*conn)(nil)

func (c *conn) Open(ctx context.Context, r stream.Reader) error {
	c.events = r
	c.start = time.Now()
	go c.readLoop(ctx)
	return nil
}

func (c *conn) readLoop(ctx context.Context) {
	for {
		_, b, err := c.ws.Read(ctx)
		select {
		case c.msgs <- message{b: b, err: err}:
		case <-c.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// read waits for the next message within the stream's time limits.
func (c *conn) read() ([]byte, error) {
	pinged := false
	for {
		b, err, expired := c.wait(pinged)
		if !expired {
			return b, err
		}
		switch {
		case !c.bound:
			return nil, stream.ErrAuthTimeout
		case pinged:
			return nil, stream.ErrIdle
		}
		pinged = true
		c.events.IdlePing()
	}
}

// wait waits for one message, or for the current time limit: the
// authentication deadline before binding, then the idle ping's and the
// ping's answer's.
func (c *conn) wait(pinged bool) (b []byte, err error, expired bool) {
	var timeout time.Duration
	switch {
	case !c.bound:
		timeout = max(time.Until(c.start.Add(c.limits.PreauthTimeout)), time.Millisecond)
	case pinged:
		timeout = c.limits.PingTimeout
	case c.limits.IdlePing > 0:
		timeout = c.limits.IdlePing
	}
	var expire <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expire = t.C
	}
	select {
	case m := <-c.msgs:
		if m.err != nil {
			if ws.CloseStatus(m.err) == ws.StatusMessageTooBig {
				return nil, &xstream.Error{Condition: xstream.PolicyViolation, Text: "message too large"}, false
			}
			// A WebSocket that closes without <close/> is a connection
			// lost, not a stream ended: a stream-managed session stays
			// resumable (XEP-0198).
			return nil, fmt.Errorf("websocket: connection closed without <close/> (%v): %w", m.err, io.ErrUnexpectedEOF), false
		}
		return m.b, nil, false
	case <-expire:
		return nil, nil, true
	case <-c.done:
		return nil, io.ErrClosedPipe, false
	}
}

// ReadHeader reads the client's <open/> (RFC 7395 §3.4).
func (c *conn) ReadHeader() (xstream.Header, error) {
	b, err := c.read()
	if err != nil {
		return xstream.Header{}, err
	}
	el, err := xstream.ParseElement(b, c.lim)
	if err != nil {
		return xstream.Header{}, err
	}
	if el.Name.Space != NSFraming || el.Name.Local != "open" {
		return xstream.Header{}, &xstream.Error{Condition: xstream.InvalidNamespace, Text: "an <open/> in " + NSFraming + " was expected"}
	}
	h := xstream.Header{To: el.Get("to"), From: el.Get("from"), Version: el.Get("version"), ContentNS: stanza.NSClient}
	for _, a := range el.Attr {
		if a.Name.Space == stanza.NSXML && a.Name.Local == "lang" {
			h.Lang = a.Value
		}
	}
	return h, nil
}

// Next reads one element; <close/> is the end of the stream.
func (c *conn) Next() (*stanza.Element, error) {
	b, err := c.read()
	if err != nil {
		return nil, err
	}
	el, err := xstream.ParseElement(b, c.lim)
	if err != nil {
		return nil, err
	}
	if el.Name.Space == NSFraming {
		if el.Name.Local == "close" {
			return nil, io.EOF
		}
		return nil, &xstream.Error{Condition: xstream.BadFormat, Text: "<" + el.Name.Local + "/> within the stream"}
	}
	return el, nil
}

func (c *conn) Restart()                   {}
func (c *conn) SetLimits(l xstream.Limits) { c.lim = l }
func (c *conn) Buffered() bool             { return len(c.msgs) > 0 }
func (c *conn) Authenticated()             {}
func (c *conn) Bound()                     { c.bound = true }

func (c *conn) End() { c.Close() }

// AppendOpen writes <open/> for the stream header h.
func (c *conn) AppendOpen(buf []byte, h xstream.Header) []byte {
	el := stanza.New(NSFraming, "open", "version", "1.0")
	for _, a := range [...][2]string{{"from", h.From}, {"to", h.To}, {"id", h.ID}} {
		if a[1] != "" {
			el.Set(a[0], a[1])
		}
	}
	if h.Lang != "" {
		el.SetNS(stanza.NSXML, "lang", h.Lang)
	}
	return el.AppendXML(buf, "")
}

// AppendStreamElement writes <stream:features/> or <stream:error/>, with
// the stream prefix declared in the message itself.
func (c *conn) AppendStreamElement(buf []byte, el *stanza.Element) []byte {
	return stream.AppendStandalone(buf, el)
}

// AppendClose writes <close/>.
func (c *conn) AppendClose(buf []byte) []byte {
	return append(buf, `<close xmlns="`+NSFraming+`"/>`...)
}

// Write sends b, serialised top-level elements, one WebSocket message
// each; a stanza without a namespace declaration gets jabber:client's
// (RFC 7395 §3.3.3: every message stands alone).
func (c *conn) Write(b []byte) error {
	c.wmu.Lock()
	deadline := c.deadline
	c.wmu.Unlock()
	ctx := c.h.ctx
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	for len(b) > 0 {
		n, err := xstream.ElementEnd(b)
		if err != nil {
			return fmt.Errorf("websocket: write: %w", err)
		}
		el := xstream.WithDefaultNS(b[:n], stanza.NSClient)
		b = b[n:]
		if err := c.ws.Write(ctx, ws.MessageText, el); err != nil {
			return fmt.Errorf("websocket: write: %w", err)
		}
	}
	return nil
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.wmu.Lock()
	c.deadline = t
	c.wmu.Unlock()
	return nil
}

func (c *conn) Close() error {
	c.closeOnce.Do(func() { close(c.done) })
	return c.ws.CloseNow()
}

func (c *conn) Secure() bool                       { return c.secure }
func (c *conn) ChannelBindings() map[string][]byte { return c.cb }
func (c *conn) RemoteAddr() string                 { return c.remote }

// TransportName implements stream.Named.
func (c *conn) TransportName() string { return "websocket" }
