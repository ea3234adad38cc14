package tlsrec

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// pair returns a server Conn reading what the returned client Conn
// writes, with fixed secrets: the record layer without a handshake.
func pair(t testing.TB, su *suite) (server, client *Conn, cleanup func()) {
	a, b := net.Pipe()
	cs := bytes.Repeat([]byte{1}, su.hashLen)
	ss := bytes.Repeat([]byte{2}, su.hashLen)
	server = &Conn{raw: a, suite: su}
	server.in.setSecret(cs)
	server.out.setSecret(ss)
	client = &Conn{raw: b, suite: su}
	client.in.setSecret(ss)
	client.out.setSecret(cs)
	return server, client, func() { a.Close(); b.Close() }
}

// drainAlerts reads (and drops) what the server sends back, so that its
// alert writes on the synchronous pipe do not block.
func drainAlerts(c net.Conn) { go func() { _, _ = io.Copy(io.Discard, c) }() }

// Arbitrary bytes after the handshake: the server returns data or an
// error, never panics, never loops.
func FuzzRead(f *testing.F) {
	f.Add([]byte{typeApplicationData, 3, 3, 0, 0})
	f.Add([]byte{typeApplicationData, 3, 3, 0xff, 0xff})
	f.Add(append([]byte{typeApplicationData, 3, 3, 0, 17}, make([]byte, 17)...))
	f.Add([]byte{typeChangeCipherSpec, 3, 3, 0, 1, 1})
	f.Add([]byte{typeAlert, 3, 3, 0, 2, 1, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		a, b := net.Pipe()
		defer a.Close()
		su := &suiteAES128
		s := &Conn{raw: a, suite: su}
		s.in.setSecret(bytes.Repeat([]byte{1}, su.hashLen))
		s.out.setSecret(bytes.Repeat([]byte{2}, su.hashLen))
		go func() {
			_, _ = b.Write(in)
			b.Close()
		}()
		_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 512)
		for range 1000 {
			if _, err := s.Read(buf); err != nil {
				return
			}
		}
		t.Fatal("no end of input after 1000 reads")
	})
}

// Whatever the client writes, in whatever pieces, with key updates in
// between, the server reads back exactly.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello"), uint8(0), uint8(1))
	f.Add(bytes.Repeat([]byte("x"), 40000), uint8(2), uint8(7))
	f.Add([]byte{}, uint8(1), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, suiteNo, updates uint8) {
		su := []*suite{&suiteAES128, &suiteAES256, &suiteChaCha}[int(suiteNo)%3]
		s, c, done := pair(t, su)
		defer done()
		drainAlerts(c.raw) // KeyUpdate answers
		werr := make(chan error, 1)
		go func() {
			rest := data
			for i := 0; len(rest) > 0; i++ {
				n := min(len(rest), 1+i*997%20000)
				if _, err := c.Write(rest[:n]); err != nil {
					werr <- err
					return
				}
				rest = rest[n:]
				if i < int(updates%4) {
					c.wmu.Lock()
					rec, err := c.out.seal(su, nil, typeHandshake, []byte{24, 0, 0, 1, 1})
					if err == nil {
						c.out.update(su)
						_, err = c.raw.Write(rec)
					}
					c.wmu.Unlock()
					if err != nil {
						werr <- err
						return
					}
				}
			}
			werr <- c.Close()
		}()
		_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes, wrote %d", len(got), len(data))
		}
		if err := <-werr; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Fatal(err)
		}
	})
}
