package websocket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/parley-xmpp/parley/server/poller"
	"github.com/parley-xmpp/parley/server/stream"
	"github.com/parley-xmpp/parley/xmpp/stanza"
	xstream "github.com/parley-xmpp/parley/xmpp/stream"
)

// conn is one WebSocket client stream: a stream.Transport on the
// connection hijacked from net/http, with its own framing (RFC 6455). The
// engine's reader goroutine reads the frames itself, with the stream's
// time limits as read deadlines, so an idle session needs no goroutine
// of its own: it parks (stream.Parker) with the handler's poller, its
// read buffer back in a pool and, on an https listener with Parley's TLS
// layer, its TLS buffers and cipher states released.
type conn struct {
	h         *Handler
	raw       net.Conn
	remote    string
	secure    bool
	overTLS   bool // the client's connection is over TLS (for see-other-uri)
	cb        map[string][]byte
	limits    stream.Limits
	lim       xstream.Limits
	readLimit int // largest frame or message payload
	events    stream.Reader

	// Reader-owned.
	buf    *[]byte // input not yet handled, from readBufs; nil when none
	msg    []byte  // the fragments so far of a fragmented message
	inMsg  bool    // a fragmented message is arriving
	start  time.Time
	last   time.Time // the last read that returned data
	woke   time.Time // when the reader last resumed after parking
	pinged time.Time // when the pending idle ping went out, or zero
	bound  bool
	parked bool

	wmu       sync.Mutex
	deadline  time.Time
	closeSent bool

	// Writer-owned (the engine's write lock): where a stopping server
	// sends the client, once asked.
	redirect    string
	redirectSet bool

	onClose atomic.Pointer[func()] // the poller's, while parked
}

var (
	_ stream.Transport  = (*conn)(nil)
	_ stream.Parker     = (*conn)(nil)
	_ stream.InputEnder = (*conn)(nil)
)

func (c *conn) Open(ctx context.Context, r stream.Reader) error {
	c.events = r
	c.start = time.Now()
	c.last = c.start
	return nil
}

// take gives the reader a read buffer if it has none.
func (c *conn) take() {
	if c.buf == nil {
		c.buf = readBufs.Get().(*[]byte)
		*c.buf = (*c.buf)[:0]
	}
}

// release returns an empty read buffer to the pool.
func (c *conn) release() {
	if c.buf == nil || len(*c.buf) > 0 {
		return
	}
	if cap(*c.buf) == readChunk {
		readBufs.Put(c.buf)
	}
	c.buf = nil
}

// read returns the next complete message within the stream's time limits.
func (c *conn) read() ([]byte, error) {
	if c.parked {
		c.parked = false
		c.woke = time.Now() // the park timer counts from here
	}
	for {
		if c.buf != nil && len(*c.buf) > 0 {
			m, ok, err := c.parse()
			if err != nil || ok {
				return m, err
			}
		}
		if err := c.fill(); err != nil {
			return nil, err
		}
	}
}

// lost is the error of a connection that ended without <close/>: a
// connection lost, not a stream ended, so a stream-managed session stays
// resumable (XEP-0198).
func lost(err error) error {
	return fmt.Errorf("websocket: connection closed without <close/> (%v): %w", err, io.ErrUnexpectedEOF)
}

// parse handles the complete frames at the start of the buffer: control
// frames are answered, data frames make up messages. It returns the
// first complete message, if any.
func (c *conn) parse() ([]byte, bool, error) {
	for {
		f, n, err := parseFrame(*c.buf, c.readLimit)
		switch {
		case errors.Is(err, errTooBig):
			return nil, false, &xstream.Error{Condition: xstream.PolicyViolation, Text: "message too large"}
		case err != nil:
			c.sendClose(statusProtocolError)
			return nil, false, lost(err)
		case n == 0:
			return nil, false, nil // more input needed
		}
		var m []byte
		done := false
		switch f.op {
		case opPing:
			if err := c.writeFrame(opPong, f.payload); err != nil {
				return nil, false, lost(err)
			}
		case opPong:
		case opClose:
			status := uint16(statusNormal)
			if len(f.payload) >= 2 {
				status = uint16(f.payload[0])<<8 | uint16(f.payload[1])
			}
			c.sendClose(status)
			return nil, false, lost(fmt.Errorf("close frame, status %d", status))
		case opText, opBinary:
			if c.inMsg {
				c.sendClose(statusProtocolError)
				return nil, false, lost(fmt.Errorf("%w: new message within a fragmented one", errProtocol))
			}
			if f.fin {
				m, done = append([]byte(nil), f.payload...), true
			} else {
				c.msg, c.inMsg = append(c.msg[:0], f.payload...), true
			}
		case opContinuation:
			if !c.inMsg {
				c.sendClose(statusProtocolError)
				return nil, false, lost(fmt.Errorf("%w: continuation without a message", errProtocol))
			}
			if len(c.msg)+len(f.payload) > c.readLimit {
				return nil, false, &xstream.Error{Condition: xstream.PolicyViolation, Text: "message too large"}
			}
			c.msg = append(c.msg, f.payload...)
			if f.fin {
				m, done = c.msg, true
				c.msg, c.inMsg = nil, false
			}
		}
		b := *c.buf
		*c.buf = b[:copy(b, b[n:])]
		if len(*c.buf) == 0 {
			c.release()
		}
		if done {
			return m, true, nil
		}
		if c.buf == nil {
			return nil, false, nil
		}
	}
}

// fill reads more input into the buffer, acting on the time limits that
// fall due meanwhile.
func (c *conn) fill() error {
	c.take()
	if b := *c.buf; len(b) == cap(b) {
		nb := make([]byte, len(b), min(2*cap(b), c.readLimit+14)) // 14: the largest frame header
		copy(nb, b)
		*c.buf = b[:0]
		c.release()
		c.buf = &nb
	}
	b := *c.buf
	for {
		d, park := c.timers(c.Parkable())
		if err := c.raw.SetReadDeadline(d); err != nil {
			return lost(err)
		}
		n, err := c.raw.Read(b[len(b):cap(b)])
		if n > 0 {
			*c.buf = b[:len(b)+n]
			c.last = time.Now()
			c.pinged = time.Time{}
			return nil
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			c.release()
			return lost(err)
		}
		if park {
			c.release()
			return stream.ErrPark
		}
		if err := c.expired(); err != nil {
			return err
		}
	}
}

// timers returns when the next time limit falls due (zero: none): the
// authentication deadline before binding, then the idle ping's and the
// ping's answer's; and the park timer's, when withPark and it comes first.
func (c *conn) timers(withPark bool) (d time.Time, park bool) {
	switch {
	case !c.bound:
		if c.limits.PreauthTimeout > 0 {
			d = c.start.Add(c.limits.PreauthTimeout)
		}
	case !c.pinged.IsZero():
		d = c.pinged.Add(c.limits.PingTimeout)
	case c.limits.IdlePing > 0:
		d = c.last.Add(c.limits.IdlePing)
	}
	if withPark && c.bound && c.limits.ParkAfter > 0 {
		from := c.last
		if c.woke.After(from) {
			from = c.woke
		}
		if p := from.Add(c.limits.ParkAfter); d.IsZero() || p.Before(d) {
			return p, true
		}
	}
	return d, false
}

// expired acts on the time limits due now: an error that ends the
// stream, or nil after sending an idle ping.
func (c *conn) expired() error {
	now := time.Now()
	switch {
	case !c.bound:
		if c.limits.PreauthTimeout > 0 && !now.Before(c.start.Add(c.limits.PreauthTimeout)) {
			return stream.ErrAuthTimeout
		}
	case !c.pinged.IsZero():
		if !now.Before(c.pinged.Add(c.limits.PingTimeout)) {
			return stream.ErrIdle
		}
	case c.limits.IdlePing > 0 && !now.Before(c.last.Add(c.limits.IdlePing)):
		c.pinged = now
		c.events.IdlePing()
	}
	return nil
}

// parkable is a hijacked connection the poller can watch: a TCP socket,
// or Parley's TLS layer on one (which must then hold no input: Idle).
type parkable interface {
	SyscallConn() (syscall.RawConn, error)
}

// Parkable implements stream.Parker: a bound stream with nothing
// buffered, on a socket the handler's poller can watch.
func (c *conn) Parkable() bool {
	if !c.bound || c.inMsg || (c.buf != nil && len(*c.buf) > 0) {
		return false
	}
	if _, ok := c.raw.(parkable); !ok {
		return false
	}
	if i, ok := c.raw.(interface{ Idle() bool }); ok && !i.Idle() {
		return false
	}
	_, err := c.h.poller()
	return err == nil
}

// Park implements stream.Parker: the read buffer goes back to its pool,
// a TLS layer releases its buffers and cipher states, and the session
// waits for input, its next time limit or a close in the handler's
// poller, without a goroutine; then resume carries on as the reader.
func (c *conn) Park(resume func()) {
	c.release()
	c.msg = nil
	if p, ok := c.raw.(interface{ Park() }); ok {
		p.Park()
	}
	c.parked = true
	c.h.parks.Add(1)
	p, err := c.h.poller()
	if err != nil {
		go resume()
		return
	}
	var timeout time.Duration // 0: no timer
	if due, _ := c.timers(false); !due.IsZero() {
		if timeout = time.Until(due); timeout <= 0 {
			timeout = 1 // due already: wake at once
		}
	}
	p.Park(parkedConn{c}, timeout, resume)
}

// parkedConn is what the poller watches of a conn.
type parkedConn struct{ c *conn }

// SyscallConn returns the socket.
func (p parkedConn) SyscallConn() (syscall.RawConn, error) {
	return p.c.raw.(parkable).SyscallConn()
}

// SetCloseHook sets the function Close calls.
func (p parkedConn) SetCloseHook(f func()) {
	if f == nil {
		p.c.onClose.Store(nil)
		return
	}
	p.c.onClose.Store(&f)
}

var _ poller.Conn = parkedConn{}

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
// the stream prefix declared in the message itself. The <system-shutdown/>
// of a stopping server that sends the client elsewhere is left out: the
// <close/> that follows says where (RFC 7395 §3.6.1).
func (c *conn) AppendStreamElement(buf []byte, el *stanza.Element) []byte {
	if el.Name.Local == "error" && el.Child(xstream.NSStreamErrors, string(xstream.SystemShutdown)) != nil && c.redirectURI() != "" {
		return buf
	}
	return stream.AppendStandalone(buf, el)
}

// AppendClose writes <close/>; when the server stops and another server
// takes its clients, with its URI in 'see-other-uri' (RFC 7395 §3.6.1).
func (c *conn) AppendClose(buf []byte) []byte {
	if uri := c.redirectURI(); uri != "" {
		el := stanza.New(NSFraming, "close", "see-other-uri", uri)
		return el.AppendXML(buf, "")
	}
	return append(buf, `<close xmlns="`+NSFraming+`"/>`...)
}

// redirectURI returns where the stopping server sends the client
// (Options.Redirect), "" when it does not stop or has nowhere to send it;
// asked once per stream.
func (c *conn) redirectURI() string {
	if c.h.ctx.Err() == nil || c.h.opts.Redirect == nil {
		return ""
	}
	if !c.redirectSet {
		c.redirect, c.redirectSet = c.h.opts.Redirect(c.overTLS), true
		if c.redirect != "" {
			c.h.opts.Log.Debug("websocket: client sent to another server", "remote", c.remote, "uri", c.redirect)
		}
	}
	return c.redirect
}

func (c *conn) Restart()                   {}
func (c *conn) SetLimits(l xstream.Limits) { c.lim = l }
func (c *conn) Buffered() bool             { return c.buf != nil && len(*c.buf) > 0 }
func (c *conn) Authenticated()             { c.cb = nil } // no SASL exchange follows; an idle session keeps nothing of it
func (c *conn) Bound()                     { c.bound = true }

// End releases the read buffer and closes the connection.
func (c *conn) End() {
	c.EndInput()
	c.Close()
}

// EndInput implements stream.InputEnder: the read buffer goes back, with
// unread input dropped, and so does the TLS layer's (tlsrec), before the
// session's teardown.
func (c *conn) EndInput() {
	if c.buf != nil {
		(*c.buf) = (*c.buf)[:0]
		c.release()
	}
	c.msg, c.inMsg = nil, false
	if d, ok := c.raw.(interface{ Discard() }); ok {
		d.Discard()
	}
}

// Write sends b, serialised top-level elements, one WebSocket message
// each; a stanza without a namespace declaration gets jabber:client's
// (RFC 7395 §3.3.3: every message stands alone).
func (c *conn) Write(b []byte) error {
	var out []byte
	for len(b) > 0 {
		n, err := xstream.ElementEnd(b)
		if err != nil {
			return fmt.Errorf("websocket: write: %w", err)
		}
		out = appendFrame(out, opText, xstream.WithDefaultNS(b[:n], stanza.NSClient))
		b = b[n:]
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return fmt.Errorf("websocket: write: %w", net.ErrClosed)
	}
	return c.writeLocked(out)
}

// writeFrame sends one frame.
func (c *conn) writeFrame(op byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return nil
	}
	return c.writeLocked(appendFrame(nil, op, payload))
}

func (c *conn) writeLocked(b []byte) error {
	if err := c.raw.SetWriteDeadline(c.deadline); err != nil {
		return fmt.Errorf("websocket: write: %w", err)
	}
	if _, err := c.raw.Write(b); err != nil {
		return fmt.Errorf("websocket: write: %w", err)
	}
	return nil
}

// sendClose sends a close frame with status, once, within a second;
// not while a write is in progress (a stuck one is what Close breaks).
func (c *conn) sendClose(status uint16) {
	if !c.wmu.TryLock() {
		return
	}
	defer c.wmu.Unlock()
	if c.closeSent {
		return
	}
	c.closeSent = true
	if c.deadline.IsZero() || time.Until(c.deadline) > closeWriteTimeout {
		c.deadline = time.Now().Add(closeWriteTimeout)
	}
	_ = c.writeLocked(appendFrame(nil, opClose, closePayload(status)))
}

// closeWriteTimeout bounds writing a close frame.
const closeWriteTimeout = time.Second

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.wmu.Lock()
	c.deadline = t
	c.wmu.Unlock()
	return nil
}

// Close closes the WebSocket (status 1000, unless a close frame went out
// already or a write is in progress) and the connection.
func (c *conn) Close() error {
	c.sendClose(statusNormal)
	err := c.raw.Close()
	if f := c.onClose.Swap(nil); f != nil {
		(*f)()
	}
	return err
}

func (c *conn) Secure() bool                       { return c.secure }
func (c *conn) ChannelBindings() map[string][]byte { return c.cb }
func (c *conn) RemoteAddr() string                 { return c.remote }

// TransportName implements stream.Named.
func (c *conn) TransportName() string { return "websocket" }
