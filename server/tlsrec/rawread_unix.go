//go:build unix

package tlsrec

import (
	"io"
	"syscall"
)

// readRaw reads from the socket into the read buffer, taking the buffer
// from the pool only once input is there: a connection waiting for its
// next record holds no buffer. Connections that are not sockets read the
// ordinary way.
func (c *Conn) readRaw() (int, error) {
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return c.readInto()
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c.readInto()
	}
	var n int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		if c.rbuf == nil {
			c.rbuf = readBufs.Get().(*[]byte)
			c.rs, c.re = 0, 0
		}
		for {
			n, rerr = syscall.Read(int(fd), (*c.rbuf)[c.re:])
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK {
			if c.rs == c.re {
				c.releaseRead() // nothing buffered: wait without a buffer
			}
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, rerr
	case n <= 0:
		return 0, io.EOF
	}
	c.re += n
	return n, nil
}
