package poller

import "syscall"

// Conn is a parked connection: its socket, and a hook the connection
// calls when it is closed from elsewhere (a replaced session, shutdown, a
// write error), since a closed socket leaves the epoll set silently.
type Conn interface {
	// SyscallConn returns the socket to watch.
	SyscallConn() (syscall.RawConn, error)
	// SetCloseHook sets (nil: clears) the function called when the
	// connection is closed.
	SetCloseHook(func())
}
