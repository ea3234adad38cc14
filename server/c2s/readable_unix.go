//go:build unix

package c2s

import "syscall"

// readable is a syscall.RawConn read callback: it reports whether a read
// would not block (input, end of input or an error is pending), without
// consuming anything.
func readable(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK && err != syscall.EINTR
}

// peekSupported: parking is possible on this platform.
const peekSupported = true
