//go:build unix

package tlsrec

import (
	"io"
	"syscall"
)

// rawReader reads a socket through syscall.RawConn, set up once per
// connection so that a read allocates nothing.
type rawReader struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool // c.readCallback, bound once
	n   int
	err error
}

// readRaw reads from the socket into the read buffer, taking the buffer
// from the pool only once input is there: a connection waiting for its
// next record holds no buffer. Connections that are not sockets read the
// ordinary way.
func (c *Conn) readRaw() (int, error) {
	if c.rr == nil {
		sc, ok := c.raw.(syscall.Conn)
		if !ok {
			return c.readInto()
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return c.readInto()
		}
		c.rr = &rawReader{rc: rc}
		c.rr.fn = c.readCallback
	}
	r := c.rr
	r.n, r.err = 0, nil
	if err := r.rc.Read(r.fn); err != nil {
		return 0, err
	}
	switch {
	case r.err != nil:
		return 0, r.err
	case r.n <= 0:
		return 0, io.EOF
	}
	c.re += r.n
	return r.n, nil
}

// readCallback is the syscall.RawConn read function of readRaw.
func (c *Conn) readCallback(fd uintptr) bool {
	r := c.rr
	if c.rbuf == nil {
		c.rbuf = readBufs.Get().(*[]byte)
		c.rs, c.re = 0, 0
	}
	for {
		r.n, r.err = syscall.Read(int(fd), (*c.rbuf)[c.re:])
		if r.err != syscall.EINTR {
			break
		}
	}
	if r.err == syscall.EAGAIN || r.err == syscall.EWOULDBLOCK {
		if c.rs == c.re {
			c.releaseRead() // nothing buffered: wait without a buffer
		}
		return false
	}
	if (r.n <= 0 || r.err != nil) && c.rs == c.re {
		// The end of the input or an error, nothing buffered: no more
		// records come, so the buffer goes back to the pool now. When
		// thousands of parked connections see their peers go at once,
		// each would otherwise keep a full record buffer of its own
		// until it is collected.
		c.releaseRead()
	}
	return true
}
