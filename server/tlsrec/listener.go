package tlsrec

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ExporterLabel is the label of the tls-exporter channel binding (RFC
// 9266), the keying material a [ServerConn] keeps after its handshake.
const ExporterLabel = "EXPORTER-Channel-Binding"

// Listener accepts connections of a net.Listener as [ServerConn]s: TLS
// server connections whose handshake runs on their first Read or Write,
// on the goroutine that serves them (as tls.NewListener's), and whose
// TLS 1.3 records are this package's. A server that hands such a
// connection over (an HTTP connection upgraded to a WebSocket) can then
// park it like any other.
type Listener struct {
	net.Listener
	srv     *Server
	timeout time.Duration
}

// NewListener returns a Listener running s's handshakes on ln's
// connections, each bounded by timeout (and by the connection's
// deadlines).
func (s *Server) NewListener(ln net.Listener, timeout time.Duration) *Listener {
	return &Listener{Listener: ln, srv: s, timeout: timeout}
}

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) {
	raw, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &ServerConn{raw: raw, srv: l.srv, timeout: l.timeout}, nil
}

// ServerConn is a server-side TLS connection from a [Listener]. Until its
// handshake is done it is the raw connection; afterwards it reads and
// writes through a [Conn].
type ServerConn struct {
	raw     net.Conn
	srv     *Server
	timeout time.Duration

	once     sync.Once
	done     atomic.Bool // the handshake ended, one way or the other
	c        *Conn
	err      error
	version  uint16
	exporter []byte // tls-exporter channel binding, TLS 1.3 only
}

// Handshake runs the handshake unless it ran already, and returns its
// outcome.
func (s *ServerConn) Handshake() error {
	s.once.Do(func() {
		defer s.done.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		defer cancel()
		c, st, err := s.srv.Handshake(ctx, s.raw)
		if err != nil {
			s.err = fmt.Errorf("tlsrec: handshake with %s: %w", s.raw.RemoteAddr(), err)
			return
		}
		s.c, s.version = c, st.Version
		if st.Version == tls.VersionTLS13 {
			if ekm, err := st.ExportKeyingMaterial(ExporterLabel, []byte{}, 32); err == nil {
				s.exporter = ekm
			}
		}
	})
	return s.err
}

// Version is the negotiated TLS version; 0 before the handshake.
func (s *ServerConn) Version() uint16 {
	if s.Handshake() != nil {
		return 0
	}
	return s.version
}

// Exporter is the tls-exporter channel binding data (RFC 9266) of a TLS
// 1.3 connection; nil otherwise.
func (s *ServerConn) Exporter() []byte {
	if s.Handshake() != nil {
		return nil
	}
	return s.exporter
}

// Read implements net.Conn.
func (s *ServerConn) Read(p []byte) (int, error) {
	if err := s.Handshake(); err != nil {
		return 0, err
	}
	return s.c.Read(p)
}

// Write implements net.Conn.
func (s *ServerConn) Write(p []byte) (int, error) {
	if err := s.Handshake(); err != nil {
		return 0, err
	}
	return s.c.Write(p)
}

// Close implements net.Conn. A handshake in progress fails at once.
func (s *ServerConn) Close() error {
	if !s.done.Load() {
		err := s.raw.Close() // breaks a handshake in progress
		s.once.Do(func() { s.err = errors.New("tlsrec: connection closed before its handshake") })
		if s.c == nil {
			return err
		}
	}
	if s.c != nil {
		return s.c.Close()
	}
	return s.raw.Close()
}

// LocalAddr implements net.Conn.
func (s *ServerConn) LocalAddr() net.Addr { return s.raw.LocalAddr() }

// RemoteAddr implements net.Conn.
func (s *ServerConn) RemoteAddr() net.Addr { return s.raw.RemoteAddr() }

// SetDeadline implements net.Conn.
func (s *ServerConn) SetDeadline(t time.Time) error { return s.raw.SetDeadline(t) }

// SetReadDeadline implements net.Conn.
func (s *ServerConn) SetReadDeadline(t time.Time) error { return s.raw.SetReadDeadline(t) }

// SetWriteDeadline implements net.Conn.
func (s *ServerConn) SetWriteDeadline(t time.Time) error { return s.raw.SetWriteDeadline(t) }

// SyscallConn returns the socket under the TLS layer, for a poller to
// watch while the connection is parked.
func (s *ServerConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := s.raw.(syscall.Conn)
	if !ok {
		return nil, errors.New("tlsrec: not a socket")
	}
	return sc.SyscallConn()
}

// Idle reports whether the connection may park: its handshake is done,
// its records are this package's and nothing of its input is held (see
// [Conn.Idle]). Call it from the reading goroutine.
func (s *ServerConn) Idle() bool { return s.Handshake() == nil && s.c.Idle() }

// Discard ends the read side for good once the handshake is done (see
// [Conn.Discard]). Call it from the reading goroutine, after its last
// Read.
func (s *ServerConn) Discard() {
	if s.done.Load() && s.c != nil {
		s.c.Discard()
	}
}

// Park releases the buffers and cipher states of an idle connection (see
// [Conn.Park]).
func (s *ServerConn) Park() {
	if s.Handshake() == nil {
		s.c.Park()
	}
}
