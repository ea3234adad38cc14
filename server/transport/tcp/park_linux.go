//go:build linux

package tcp

import (
	"errors"
	"syscall"
	"time"

	"github.com/parley-xmpp/parley/server/poller"
)

// parkSupported: readers of idle sessions park.
const parkSupported = true

// suspend parks c with the listener's poller (server/poller): the
// session then has no goroutine until input, its next time limit, or a
// close wakes it; then resume runs.
func (c *conn) suspend(resume func()) {
	p, err := c.l.poller()
	if err != nil {
		c.l.log.Warn("c2s: cannot park idle sessions", "remote", c.RemoteAddr(), "err", err)
		go resume()
		return
	}
	var timeout time.Duration // 0: no timer
	if due, _ := c.rd.timers(false); !due.IsZero() {
		if timeout = due.Sub(c.l.clk.now()); timeout <= 0 {
			timeout = 1 // due already: wake at once
		}
	}
	p.Park(parkedConn{c}, timeout, resume)
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
func (p parkedConn) SetCloseHook(f func()) { p.c.tls.Load().SetCloseHook(f) }

// poller returns the server's poller, started on first use.
func (l *Listener) poller() (*poller.Poller, error) { return l.poll.Get() }
