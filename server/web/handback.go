package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/parley-xmpp/parley/server/poller"
)

// A handler that answers its requests on the connection itself (BOSH,
// whose requests are held for up to a minute) hijacks the connection and,
// once it has written its response, hands it back (Handback). With a
// direct handler (ConnServer), the goroutine that answered waits for the
// next request for up to a second (awaitFirst) and serves it (serveNext):
// the requests of a login or of a chat follow each other closely. Else,
// and past that second, the connection waits for its next request in the
// server's poller, with no goroutine, no net/http buffers and, on
// Parley's TLS layer, no TLS buffers or cipher states, and it is served
// again when the request arrives. A connection hijacked for good (a
// WebSocket) is never handed back.

// listener is a Serve listener: the connections net/http serves are its
// listener's and those handed back.
type listener struct {
	net.Listener
	s        *Server
	ctx      context.Context
	base     context.Context // the requests' base context: ctx with the listener
	back     chan net.Conn
	accepted chan accepted
	done     chan struct{}
	once     sync.Once

	mu      sync.Mutex
	waiting map[net.Conn]struct{} // connections in awaitFirst
}

type accepted struct {
	c   net.Conn
	err error
}

func newListener(ctx context.Context, s *Server, ln net.Listener) *listener {
	l := &listener{Listener: ln, s: s, ctx: ctx, back: make(chan net.Conn), accepted: make(chan accepted), done: make(chan struct{}),
		waiting: make(map[net.Conn]struct{})}
	l.base = context.WithValue(ctx, listenerKey{}, l)
	context.AfterFunc(ctx, l.wakeWaiting)
	go l.acceptLoop()
	return l
}

// acceptLoop accepts the listener's connections for Accept until the
// listener is closed.
func (l *listener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		select {
		case l.accepted <- accepted{c, err}:
		case <-l.done:
			if c != nil {
				c.Close()
			}
			return
		}
	}
}

// Accept implements net.Listener: a new connection, or one handed back.
func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.back:
		return c, nil
	case a := <-l.accepted:
		return a.c, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (l *listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// requeue gives c to net/http for its next request.
func (l *listener) requeue(c net.Conn) {
	select {
	case l.back <- c:
	case <-l.done:
		c.Close()
	}
}

// listenerKey is the context key of a request's Serve listener.
type listenerKey struct{}

// Handback returns, for a request served by Serve, the function that
// hands the request's connection, hijacked and answered, back to the
// server for its next request; buffered is what was read of the
// connection past the request (pipelined input). With a handler that
// serves requests itself (ConnServer), the function may wait up to a
// second for the next request and serve it before it returns, so call
// it last, holding no lock; the connection then waits for input without
// a goroutine, and is closed after the idle timeout or when the server
// stops. Handback returns nil for a request that did
// not come through Serve: its handler must not hijack to hand back.
func Handback(r *http.Request) func(c net.Conn, buffered []byte) {
	l, _ := r.Context().Value(listenerKey{}).(*listener)
	if l == nil {
		return nil
	}
	return l.handback
}

func (l *listener) handback(c net.Conn, buffered []byte) {
	if c = l.next(c, buffered); c != nil {
		l.serveNext(c, true)
	}
}

// next disposes of c, handed back with buffered read past its last
// request: it returns c when the calling goroutine is to wait for c's
// next request itself and serve it (serveNext), else nil once c went to
// net/http, to the poller or was closed.
func (l *listener) next(c net.Conn, buffered []byte) net.Conn {
	if len(buffered) > 0 {
		if pc, ok := c.(*prefixConn); ok {
			// What pc still holds comes after what was read of it.
			pc.mu.Lock()
			pc.prefix = append(buffered, pc.prefix...)
			pc.mu.Unlock()
		} else {
			c = &prefixConn{Conn: c, prefix: buffered}
		}
		l.requeue(c)
		return nil
	}
	if l.ctx.Err() != nil {
		c.Close()
		return nil
	}
	if l.s.direct != nil {
		// The next request, if it comes within releaseAfter, is read by
		// the goroutine that answered (serveNext), with the Go runtime's
		// poller: no registration with the server's poller and no new
		// goroutine per request during a login or a chat.
		return c
	}
	if i, idle := c.(interface{ Idle() bool }); idle && !i.Idle() {
		l.requeue(c) // input is there already
		return nil
	}
	l.park(c, time.Now(), true, false)
	return nil
}

// awaitFirst waits up to releaseAfter (from since) for the first bytes
// of c's next request, read into buf, on the calling goroutine. With
// none by then, c releases its TLS state and waits in the poller (park);
// it is closed when its client closes it, on an error, or when the
// server stops. ok reports whether the caller is to read the request
// on: n bytes of it are in buf (none when part of a TLS record came
// in).
func (l *listener) awaitFirst(c net.Conn, buf []byte, since time.Time) (n int, ok bool) {
	l.s.parks.Add(1)
	// The deadline is set before c is listed, so that the server's end
	// (wakeWaiting) has the last word on it.
	c.SetReadDeadline(since.Add(l.s.keepFor))
	if !l.wait(c, true) {
		c.Close()
		return 0, false
	}
	n, err := c.Read(buf)
	l.wait(c, false)
	if n > 0 {
		return n, true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && l.ctx.Err() == nil {
		if i, ok := c.(interface{ Idle() bool }); ok && !i.Idle() {
			return 0, true // part of a TLS record is in: the rest follows
		}
		c.SetReadDeadline(time.Time{})
		l.park(c, since, false, true)
		return 0, false
	}
	// As net/http does: an idle connection closed by its client, or by
	// the server's end, gets no response.
	c.Close()
	return 0, false
}

// wait lists c (in) as waiting for its next request on a goroutine of
// its own (awaitFirst), or takes it off the list; listing fails once the
// server is stopping.
func (l *listener) wait(c net.Conn, in bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !in {
		delete(l.waiting, c)
		return true
	}
	if l.ctx.Err() != nil {
		return false
	}
	l.waiting[c] = struct{}{}
	return true
}

// wakeWaiting ends the waits of awaitFirst when the server stops: their
// connections close.
func (l *listener) wakeWaiting() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.waiting {
		c.SetReadDeadline(time.Now())
	}
}

// releaseAfter is how long a connection handed back keeps its TLS
// buffers and cipher states while it waits for its next request: the
// requests of a login, or of a chatting session, follow each other within
// milliseconds, and each would otherwise rebuild them (derive the keys
// again, set up AES-GCM, take a read buffer). A connection still waiting
// after it releases them (Park), as an idle TCP session's connection does
// after its ParkAfter.
const releaseAfter = time.Second

// park waits for c's next request in the poller, up to the idle timeout
// counted from since; with keep, c keeps its TLS state for releaseAfter
// first, then releases it and waits on. counted: the wait goes on from
// an earlier one (Parks counts it once).
func (l *listener) park(c net.Conn, since time.Time, keep, counted bool) {
	rc, ok := c.(syscallConn)
	if !ok {
		l.requeue(c) // not parkable
		return
	}
	p, err := l.s.poll.Get()
	if err != nil {
		l.requeue(c)
		return
	}
	pk, release := parker(c)
	keep = keep && release
	timeout := idleTimeout - time.Since(since)
	switch {
	case keep:
		timeout = min(timeout, l.s.keepFor)
	case release:
		pk.Park() // Parley's TLS layer drops its buffers and cipher states
		l.s.released.Add(1)
	}
	if !counted {
		l.s.parks.Add(1)
	}
	l.s.polled.Add(1)
	parked := time.Now()
	p.Park(parkedConn{rc}, timeout, func() {
		switch {
		case l.ctx.Err() != nil, time.Since(since) >= idleTimeout:
			c.Close()
		case keep && time.Since(parked) >= l.s.keepFor:
			// No request within releaseAfter (or one just now: the
			// poller reports it again at once).
			l.park(c, since, false, true)
		default:
			l.serveNext(c, false)
		}
	})
}

// parker returns c's Park, when c has Parley's TLS layer (directly or
// under a prefixConn).
func parker(c net.Conn) (interface{ Park() }, bool) {
	inner := c
	if pc, ok := c.(*prefixConn); ok {
		inner = pc.Conn
	}
	if _, ok := inner.(interface{ Park() }); !ok {
		return nil, false
	}
	pk, ok := c.(interface{ Park() })
	return pk, ok
}

// syscallConn is a connection whose socket the poller can watch.
type syscallConn interface {
	SyscallConn() (syscall.RawConn, error)
}

// parkedConn is what the poller watches of a handed-back connection:
// nothing else closes it while it waits, so it needs no close hook.
type parkedConn struct{ syscallConn }

// SetCloseHook implements poller.Conn.
func (parkedConn) SetCloseHook(func()) {}

var _ poller.Conn = parkedConn{}

// prefixConn is a handed-back connection with input read ahead of the
// next request: it reads that input first.
type prefixConn struct {
	net.Conn
	mu     sync.Mutex
	prefix []byte
}

// Read implements net.Conn.
func (c *prefixConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	return c.Conn.Read(p)
}

// Unwrap returns the connection.
func (c *prefixConn) Unwrap() net.Conn { return c.Conn }

// Idle reports whether nothing is read ahead, here or in the connection.
func (c *prefixConn) Idle() bool {
	c.mu.Lock()
	empty := len(c.prefix) == 0
	c.mu.Unlock()
	if i, ok := c.Conn.(interface{ Idle() bool }); ok {
		return empty && i.Idle()
	}
	return empty
}

// SyscallConn returns the connection's socket, when it has one.
func (c *prefixConn) SyscallConn() (syscall.RawConn, error) {
	if s, ok := c.Conn.(syscallConn); ok {
		return s.SyscallConn()
	}
	return nil, syscall.EINVAL
}

// Park lets the connection release its buffers (Parley's TLS layer).
func (c *prefixConn) Park() {
	if p, ok := c.Conn.(interface{ Park() }); ok {
		p.Park()
	}
}

// Exporter is the connection's tls-exporter channel binding, if any.
func (c *prefixConn) Exporter() []byte {
	if x, ok := c.Conn.(interface{ Exporter() []byte }); ok {
		return x.Exporter()
	}
	return nil
}
