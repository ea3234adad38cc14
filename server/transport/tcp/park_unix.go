//go:build unix && !linux

package tcp

import "syscall"

// parkSupported: readers of idle sessions park.
const parkSupported = true

// suspend waits for the parked session's socket with a new goroutine:
// its stack stays at the initial 2 KiB while it waits, where the old
// reader's had grown through the handshake and SASL.
func (c *conn) suspend(resume func()) { go c.waitReadable(resume) }

func (c *conn) waitReadable(resume func()) {
	due, _ := c.rd.timers(false)
	_ = c.raw.SetReadDeadline(due)
	if sc, ok := c.raw.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			// The check runs after the poller was armed: input that
			// arrived before is seen here, input after wakes the wait.
			_ = rc.Read(readable)
		}
	}
	resume()
}

// readable is a syscall.RawConn read callback: it reports whether a read
// would not block (input, end of input or an error is pending), without
// consuming anything.
func readable(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR
}
