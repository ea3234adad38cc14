// Package sdnotifytest plays the service manager's side of sd_notify for
// tests: a datagram socket to name in $NOTIFY_SOCKET and a reader of the
// messages sent to it.
package sdnotifytest

import (
	"net"
	"testing"
	"time"
)

// Socket is the service manager's notification socket.
type Socket struct {
	conn *net.UnixConn
}

// Listen binds a datagram socket at name (a path, or "\x00…" for the
// abstract namespace); it is closed when the test ends.
func Listen(tb testing.TB, name string) *Socket {
	tb.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return &Socket{conn: conn}
}

// Next returns the next message, failing the test when none comes within
// timeout.
func (s *Socket) Next(tb testing.TB, timeout time.Duration) string {
	tb.Helper()
	if err := s.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		tb.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := s.conn.Read(buf)
	if err != nil {
		tb.Fatalf("no sd_notify message: %v", err)
	}
	return string(buf[:n])
}
