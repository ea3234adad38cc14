package web

import (
	"context"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/parley-xmpp/parley/server/poller"
)

// A handler that answers its requests on the connection itself (BOSH,
// whose requests are held for up to a minute) hijacks the connection and,
// once it has written its response, hands it back (Handback): the
// connection waits for its next request in the server's poller, with no
// goroutine, no net/http buffers and, on Parley's TLS layer, no TLS
// buffers or cipher states, and net/http serves it again when the request
// arrives. A connection hijacked for good (a WebSocket) is never handed
// back.

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
}

type accepted struct {
	c   net.Conn
	err error
}

func newListener(ctx context.Context, s *Server, ln net.Listener) *listener {
	l := &listener{Listener: ln, s: s, ctx: ctx, back: make(chan net.Conn), accepted: make(chan accepted), done: make(chan struct{})}
	l.base = context.WithValue(ctx, listenerKey{}, l)
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
// connection past the request (pipelined input). The connection waits
// for input without a goroutine, and is closed after the idle timeout
// or when the server stops. Handback returns nil for a request that did
// not come through Serve: its handler must not hijack to hand back.
func Handback(r *http.Request) func(c net.Conn, buffered []byte) {
	l, _ := r.Context().Value(listenerKey{}).(*listener)
	if l == nil {
		return nil
	}
	return l.handback
}

func (l *listener) handback(c net.Conn, buffered []byte) {
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
		return
	}
	if l.ctx.Err() != nil {
		c.Close()
		return
	}
	if i, idle := c.(interface{ Idle() bool }); idle && !i.Idle() {
		l.requeue(c) // input is there already
		return
	}
	l.park(c, time.Now(), true)
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
// first, then releases it and waits on.
func (l *listener) park(c net.Conn, since time.Time, keep bool) {
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
		l.s.parks.Add(1)
		timeout = min(timeout, releaseAfter)
	case release:
		pk.Park() // Parley's TLS layer drops its buffers and cipher states
		l.s.released.Add(1)
	default:
		l.s.parks.Add(1)
	}
	parked := time.Now()
	p.Park(parkedConn{rc}, timeout, func() {
		switch {
		case l.ctx.Err() != nil, time.Since(since) >= idleTimeout:
			c.Close()
		case keep && time.Since(parked) >= releaseAfter:
			// No request within releaseAfter (or one just now: the
			// poller reports it again at once).
			l.park(c, since, false)
		default:
			l.serveNext(c)
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
