// Package bytestreamstest connects to a SOCKS5 bytestreams proxy the way
// a XEP-0065 client does, for tests.
package bytestreamstest

import (
	"io"
	"net"
	"testing"
	"time"
)

// Connect opens a connection to the proxy at addr and sends the SOCKS5
// greeting (no authentication) and a CONNECT request for hash, port 0
// (XEP-0065 §6.3.2). It returns the connection, closed when the test
// ends, and the reply code (0: accepted). An accepted reply must echo
// hash as its address, as the XEP requires.
func Connect(t testing.TB, addr, hash string) (net.Conn, byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte{5, 1, 0}); err != nil {
		t.Fatal(err)
	}
	var m [2]byte
	if _, err := io.ReadFull(c, m[:]); err != nil || m != [2]byte{5, 0} {
		t.Fatalf("method reply %v, %v", m, err)
	}
	req := append([]byte{5, 1, 0, 3, byte(len(hash))}, hash...)
	if _, err := c.Write(append(req, 0, 0)); err != nil {
		t.Fatal(err)
	}
	var head [4]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	if head[1] == 0 {
		rest := make([]byte, 1+len(hash)+2)
		if _, err := io.ReadFull(c, rest); err != nil || string(rest[1:1+len(hash)]) != hash {
			t.Fatalf("reply address %q, %v", rest, err)
		}
	}
	return c, head[1]
}
