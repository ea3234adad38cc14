package turn

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the stream (TCP, TLS) connections.
const (
	DefaultMaxConnections = 1000
	DefaultIdleTimeout    = 15 * time.Minute // beyond TURN's 10-minute refresh interval
)

// limitedListener caps the stream connections open at once (those over
// the cap are closed as they come, with a log line) and closes a
// connection that reads nothing for the idle timeout; closeAll closes
// those still open when the listener stops.
type limitedListener struct {
	net.Listener
	s    *Server
	open *atomic.Int64

	mu    sync.Mutex
	conns map[*idleConn]struct{} // at most MaxConnections
}

// closeAll closes the connections still open.
func (l *limitedListener) closeAll() {
	l.mu.Lock()
	conns := make([]*idleConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// Accept returns the next connection within the cap.
func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if n := l.open.Add(1); n > int64(l.s.o.MaxConnections) {
			l.open.Add(-1)
			l.s.log.Warn("turn: too many connections: refused", "client", c.RemoteAddr(), "max", l.s.o.MaxConnections)
			c.Close()
			continue
		}
		ic := &idleConn{Conn: c, idle: l.s.o.IdleTimeout, ln: l}
		l.mu.Lock()
		if l.conns == nil {
			l.conns = map[*idleConn]struct{}{}
		}
		l.conns[ic] = struct{}{}
		l.mu.Unlock()
		return ic, nil
	}
}

// idleConn is a connection whose reads time out after the idle timeout
// and that leaves the count of open connections when closed.
type idleConn struct {
	net.Conn
	idle   time.Duration
	ln     *limitedListener
	closed sync.Once
}

// Read reads with a deadline of the idle timeout from now.
func (c *idleConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(p)
}

// Close closes the connection once.
func (c *idleConn) Close() error {
	err := net.ErrClosed
	c.closed.Do(func() {
		c.ln.mu.Lock()
		delete(c.ln.conns, c)
		c.ln.mu.Unlock()
		c.ln.open.Add(-1)
		err = c.Conn.Close()
	})
	return err
}
