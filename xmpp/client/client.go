package client

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	"github.com/parley-xmpp/parley/xmpp/stream"
)

// Client is a negotiated client-to-server XMPP stream. Its methods are safe
// for concurrent use.
type Client struct {
	log       *slog.Logger
	jid       jid.JID
	features  *stanza.Element
	mechanism string
	fast      *FastToken // issued at login (sasl2.go)
	conn      net.Conn
	dec       *stream.Decoder
	idPrefix  string
	ids       atomic.Uint64

	wmu     sync.Mutex // serialises writes to conn
	closing bool       // guarded by wmu: our closing tag was sent

	mu       sync.Mutex
	pending  map[string]*pendingIQ
	handlers []handler
	err      error

	inbox *queue // reader → dispatcher
	recv  *queue // dispatcher → Recv
	done  chan struct{}

	cfg  Config     // for Resume
	smMu sync.Mutex // guards sm; taken inside wmu
	sm   smState    // XEP-0198 (sm.go)
}

// pendingIQ is a SendIQ call awaiting its reply.
type pendingIQ struct {
	to string
	ch chan *stanza.Element
}

// handler is one registered Handle callback.
type handler struct {
	kind stanza.Kind
	name xml.Name
	fn   func(*stanza.Element)
}

// Dial connects to the server of cfg.JID's domain and negotiates the stream:
// TLS (STARTTLS, RFC 6120 §5, unless cfg.DirectTLS), SASL (RFC 6120 §6) and
// resource binding (RFC 6120 §7). ctx bounds the whole negotiation; once
// Dial returns, ctx no longer affects the client.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.JID.IsZero() || cfg.JID.Local() == "" {
		return nil, fmt.Errorf("client: JID %q has no localpart", cfg.JID.String())
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("jid", cfg.JID.Bare().String())
	limits := cfg.Limits
	if limits == (stream.Limits{}) {
		limits = stream.DefaultLimits()
	}
	raw, secure, err := cfg.dial(ctx, log, limits)
	if err != nil {
		return nil, err
	}
	n := &negotiator{cfg: &cfg, log: log, conn: raw, limits: limits, secure: secure}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		raw.SetDeadline(time.Unix(1, 0))
		close(fired)
	})
	bound, err := negotiateSM(ctx, n, &cfg)
	if !stop() {
		<-fired
		if err == nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		if n.dec != nil { // a stream was opened: close it politely
			n.conn.SetWriteDeadline(time.Now().Add(time.Second))
			n.conn.Write([]byte(stream.Close))
		}
		n.conn.Close()
		return nil, err
	}
	raw.SetDeadline(time.Time{})

	c := &Client{
		log:       log.With("full", bound.String()),
		jid:       bound,
		features:  n.features,
		mechanism: n.mechanism,
		fast:      n.fastToken,
		conn:      n.conn,
		dec:       n.dec,
		idPrefix:  rand.Text()[:8],
		pending:   map[string]*pendingIQ{},
		inbox:     newQueue(),
		recv:      newQueue(),
		done:      make(chan struct{}),
		cfg:       cfg,
	}
	c.startSM(n)
	c.log.Debug("session established", "mechanism", n.mechanism)
	go c.readLoop()
	go c.dispatchLoop()
	return c, nil
}

// negotiate runs the negotiation steps in order.
func negotiate(ctx context.Context, n *negotiator, cfg *Config) (jid.JID, error) {
	if err := n.restart(); err != nil {
		return jid.JID{}, err
	}
	if !n.secure {
		if err := n.startTLS(ctx); err != nil {
			return jid.JID{}, err
		}
		if err := n.restart(); err != nil {
			return jid.JID{}, err
		}
	}
	resource := cfg.Resource
	if resource == "" {
		resource = cfg.JID.Resource()
	}
	if n.sasl2Offered() {
		// XEP-0388: no stream restart; Bind 2 may have bound already.
		if bound, err := n.authenticate2(resource); err != nil || !bound.IsZero() {
			return bound, err
		}
		return n.bind(resource)
	}
	if err := n.authenticate(); err != nil {
		return jid.JID{}, err
	}
	if err := n.restart(); err != nil {
		return jid.JID{}, err
	}
	return n.bind(resource)
}

// JID returns the full JID bound to this session.
func (c *Client) JID() jid.JID { return c.jid }

// Features returns the stream features received after the last stream
// restart (the ones that offered resource binding). Do not modify it.
func (c *Client) Features() *stanza.Element { return c.features }

// Mechanism returns the SASL mechanism used to authenticate.
func (c *Client) Mechanism() string { return c.mechanism }

// TLSConnectionState returns the state of the TLS connection; ok is false
// if the connection is not TLS.
func (c *Client) TLSConnectionState() (state tls.ConnectionState, ok bool) {
	if tc, ok := c.conn.(*tls.Conn); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// Done is closed when the stream has ended; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the stream ended: a *stream.Error sent by the server, an
// I/O error, or ErrClosed after an orderly close. It is nil while the
// stream is up.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// setErr records the first reason the stream ended.
func (c *Client) setErr(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

// Send writes one stanza (or any element) in the jabber:client namespace.
// A failed or interrupted write ends the stream, as it may have left a
// partial element behind.
func (c *Client) Send(ctx context.Context, st *stanza.Element) error {
	return c.write(ctx, st.AppendXML(nil, stanza.NSClient), st)
}

// SendRaw writes b unchanged, for testing how a server handles bad input.
func (c *Client) SendRaw(ctx context.Context, b []byte) error {
	return c.write(ctx, b, nil)
}

// write writes b to the connection, bounded by ctx.
func (c *Client) write(ctx context.Context, b []byte, st *stanza.Element) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closing {
		if err := c.Err(); err != nil && !errors.Is(err, ErrClosed) {
			return fmt.Errorf("client: stream ended: %w", err)
		}
		return ErrClosed
	}
	select {
	case <-c.done:
		return fmt.Errorf("client: stream ended: %w", c.Err())
	default:
	}
	b = c.smTrack(st, b) // XEP-0198: kept until acknowledged
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.conn.SetWriteDeadline(time.Unix(1, 0))
		close(fired)
	})
	_, err := c.conn.Write(b)
	if !stop() {
		<-fired
	}
	c.conn.SetWriteDeadline(time.Time{})
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		err = fmt.Errorf("client: write: %w", err)
		c.setErr(err)
		c.conn.Close() // the reader notices and finishes
		return err
	}
	return nil
}

// newID returns a stanza id unique within this client.
func (c *Client) newID() string {
	return c.idPrefix + "-" + strconv.FormatUint(c.ids.Add(1), 10)
}

// SendIQ sends an IQ get or set and waits for the result or error with the
// same id from the entity it was addressed to (or from the server/account
// when it has no 'to'). An empty id is set to a unique one on iq itself.
// An error reply is returned together with a *stanza.Error. If ctx ends
// first, SendIQ returns ctx.Err().
func (c *Client) SendIQ(ctx context.Context, iq *stanza.Element) (*stanza.Element, error) {
	if !iq.IsRequest() {
		return nil, fmt.Errorf("client: SendIQ needs an iq of type get or set, got <%s type='%s'>", iq.Name.Local, iq.Type())
	}
	if iq.ID() == "" {
		iq.Set("id", c.newID())
	}
	id := iq.ID()
	p := &pendingIQ{to: iq.To(), ch: make(chan *stanza.Element, 1)}
	c.mu.Lock()
	if _, dup := c.pending[id]; dup {
		c.mu.Unlock()
		return nil, fmt.Errorf("client: an IQ with id %q is already pending", id)
	}
	c.pending[id] = p
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	if err := c.Send(ctx, iq); err != nil {
		return nil, err
	}
	var reply *stanza.Element
	select {
	case reply = <-p.ch:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		select {
		case reply = <-p.ch:
		default:
			return nil, fmt.Errorf("client: stream ended awaiting reply to IQ %s: %w", id, c.Err())
		}
	}
	if reply.Type() == stanza.TypeError {
		return reply, replyError(reply)
	}
	return reply, nil
}

// Handle registers h for incoming stanzas of the given kind whose payload
// has the given name: for IQ get/set the first child element, for other
// kinds any child element. A zero name matches every stanza of the kind.
// Handlers for a specific name take precedence over catch-all ones, then
// registration order decides; only one handler runs per stanza. Handlers
// run one at a time on a dispatch goroutine (not the reader), so they may
// call SendIQ. An IQ get/set no handler matches is answered with
// service-unavailable; unhandled other stanzas are queued for Recv.
// IQ results and errors are not dispatched: SendIQ receives them.
func (c *Client) Handle(kind stanza.Kind, name xml.Name, h func(*stanza.Element)) {
	c.mu.Lock()
	c.handlers = append(c.handlers, handler{kind: kind, name: name, fn: h})
	c.mu.Unlock()
}

// Recv returns the next incoming stanza that no handler took (messages,
// presences and any other top-level element but IQs), in arrival order.
// Once the stream has ended and the queue is drained it returns Err().
func (c *Client) Recv(ctx context.Context) (*stanza.Element, error) {
	el, ok, err := c.recv.pop(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		if err := c.Err(); err != nil {
			return nil, err
		}
		return nil, ErrClosed
	}
	return el, nil
}

// Close ends the stream (RFC 6120 §4.4): it sends the closing tag, waits a
// bounded time for the server's closing tag, which means the server has
// processed everything sent before, and closes the connection. It returns
// nil if the server closed its side cleanly, and otherwise the reason the
// stream ended.
func (c *Client) Close() error {
	c.wmu.Lock()
	var werr error
	if !c.closing {
		c.closing = true
		c.conn.SetWriteDeadline(time.Now().Add(closeWait))
		_, werr = c.conn.Write([]byte(stream.Close))
		c.conn.SetWriteDeadline(time.Time{})
	}
	c.wmu.Unlock()
	if werr != nil {
		c.setErr(fmt.Errorf("client: sending closing tag: %w", werr))
		c.conn.Close()
	}
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.setErr(fmt.Errorf("client: server did not close the stream within %v", closeWait))
		c.conn.Close()
		<-c.done
	}
	if err := c.Err(); !errors.Is(err, ErrClosed) {
		return err
	}
	return nil
}

// readLoop reads elements until the stream ends.
func (c *Client) readLoop() {
	var err error
	var localErr *stream.Error // a fault the decoder found in the server's XML
read:
	for {
		el, rerr := c.dec.Next()
		if rerr != nil {
			c.wmu.Lock()
			closing := c.closing
			c.wmu.Unlock()
			switch {
			case errors.Is(rerr, io.EOF):
				err = ErrClosed
			case closing:
				err = ErrClosed
			default:
				err = fmt.Errorf("client: reading stream: %w", rerr)
				errors.As(rerr, &localErr)
			}
			break read
		}
		if el.Name.Space == stanza.NSStream && el.Name.Local == "error" {
			se := stream.ParseStreamError(el)
			c.log.Debug("stream error", "condition", se.Condition, "text", se.Text)
			err = se
			break read
		}
		if c.smInbound(el) { // XEP-0198 counts and elements
			continue
		}
		c.route(el)
	}
	c.setErr(err)
	c.wmu.Lock()
	if !c.closing { // answer the server's closing tag or error (RFC 6120 §4.4)
		c.closing = true
		c.conn.SetWriteDeadline(time.Now().Add(time.Second))
		var out []byte
		if localErr != nil {
			// The decoder rejected the server's XML: say why (§4.9).
			out = localErr.Element().AppendXML(out, stanza.NSClient)
		}
		c.conn.Write(append(out, stream.Close...))
	}
	c.wmu.Unlock()
	c.conn.Close()
	c.inbox.close()
	close(c.done)
}

// route hands an IQ reply to its waiting SendIQ and queues everything else
// for dispatch.
func (c *Client) route(el *stanza.Element) {
	if stanza.KindOf(el) == stanza.KindIQ && (el.Type() == stanza.TypeResult || el.Type() == stanza.TypeError) {
		c.mu.Lock()
		p := c.pending[el.ID()]
		if p != nil && c.replyFromOK(p.to, el.From()) {
			delete(c.pending, el.ID())
			p.ch <- el
			p = nil
		} else {
			p = &pendingIQ{} // marks "dropped"
		}
		c.mu.Unlock()
		if p != nil {
			c.log.Debug("dropping unexpected IQ reply", "id", el.ID(), "from", el.From())
		}
		return
	}
	c.inbox.push(el)
}

// replyFromOK reports whether a reply from 'from' may answer a request sent
// to 'to'. Stanzas without 'from' come from the server itself (RFC 6120
// §8.1.2.1) and are accepted for requests to the account or the domain.
func (c *Client) replyFromOK(to, from string) bool {
	bare, domain := c.jid.Bare().String(), c.jid.Domain()
	if to == "" || sameJID(to, bare) || sameJID(to, c.jid.String()) {
		return from == "" || sameJID(from, bare) || sameJID(from, c.jid.String()) || sameJID(from, domain)
	}
	if from == "" {
		return sameJID(to, domain)
	}
	return sameJID(from, to)
}

// sameJID compares two JIDs after normalization.
func sameJID(a, b string) bool {
	if a == b {
		return true
	}
	ja, err1 := jid.Parse(a)
	jb, err2 := jid.Parse(b)
	return err1 == nil && err2 == nil && ja == jb
}

// dispatchLoop runs handlers for queued stanzas until the stream ends.
func (c *Client) dispatchLoop() {
	for {
		el, ok, _ := c.inbox.pop(context.Background())
		if !ok {
			c.recv.close()
			return
		}
		c.dispatch(el)
	}
}

// dispatch delivers one stanza to its handler, Recv or an error reply.
func (c *Client) dispatch(el *stanza.Element) {
	kind := stanza.KindOf(el)
	if h := c.findHandler(kind, el); h != nil {
		h(el)
		return
	}
	switch {
	case kind == stanza.KindIQ && el.IsRequest():
		// RFC 6120 §8.4: an unhandled request gets service-unavailable.
		reply := stanza.ErrorReply(el, stanza.Err(stanza.ServiceUnavailable))
		ctx, cancel := context.WithTimeout(context.Background(), closeWait)
		defer cancel()
		if err := c.Send(ctx, reply); err != nil {
			c.log.Debug("cannot answer unhandled IQ", "id", el.ID(), "err", err)
		}
	case kind == stanza.KindIQ:
		// an IQ of unknown type: nothing to do
	default:
		c.recv.push(el)
	}
}

// findHandler returns the handler for el, or nil.
func (c *Client) findHandler(kind stanza.Kind, el *stanza.Element) func(*stanza.Element) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var catchAll func(*stanza.Element)
	for _, h := range c.handlers {
		if h.kind != kind {
			continue
		}
		if h.name == (xml.Name{}) {
			if catchAll == nil {
				catchAll = h.fn
			}
			continue
		}
		if matchName(kind, el, h.name) {
			return h.fn
		}
	}
	return catchAll
}

// matchName reports whether el carries a payload named name.
func matchName(kind stanza.Kind, el *stanza.Element, name xml.Name) bool {
	if kind == stanza.KindIQ {
		p := el.Payload()
		return p != nil && p.Name == name
	}
	for _, ch := range el.Elements() {
		if ch.Name == name {
			return true
		}
	}
	return false
}
