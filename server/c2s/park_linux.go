//go:build linux

package c2s

import (
	"errors"
	"syscall"
	"time"

	"github.com/parley-xmpp/parley/server/poller"
)

// parkSupported: readers of idle sessions park.
const parkSupported = true

// suspend parks c with the server's poller (server/poller): the session
// then has no goroutine until input, its next time limit, or a close
// wakes it.
func (c *conn) suspend() {
	p, err := c.srv.poller()
	if err != nil {
		c.log.Warn("c2s: cannot park idle sessions", "err", err)
		go c.resume()
		return
	}
	var timeout time.Duration // 0: no timer
	if due, _ := c.rd.timers(false); !due.IsZero() {
		if timeout = due.Sub(c.cfg.Now()); timeout <= 0 {
			timeout = 1 // due already: wake at once
		}
	}
	p.Park(parkedConn{c}, timeout, c.resume)
}

// parkedConn is what the poller watches of a conn: the TCP socket, and
// the TLS layer's close hook.
type parkedConn struct{ c *conn }

// SyscallConn returns the TCP socket.
func (p parkedConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := p.c.raw.(syscall.Conn)
	if !ok {
		return nil, errors.New("c2s: not a socket")
	}
	return sc.SyscallConn()
}

// SetCloseHook sets the TLS layer's close hook.
func (p parkedConn) SetCloseHook(f func()) { p.c.tls.SetCloseHook(f) }

// poller returns the server's poller, started on first use.
func (s *Server) poller() (*poller.Poller, error) {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	if s.poll == nil && s.pollErr == nil {
		s.poll, s.pollErr = poller.New()
	}
	return s.poll, s.pollErr
}

// stopPoller ends the poller once every connection has ended.
func (s *Server) stopPoller() {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	if s.poll != nil {
		s.poll.Close()
		s.poll = nil
	}
}
