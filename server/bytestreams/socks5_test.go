package bytestreams

import (
	"bytes"
	"testing"
)

// rw is a connection made of what the client sent and what the relay
// answers.
type rw struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *rw) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *rw) Write(p []byte) (int, error) { return c.out.Write(p) }

// request is a XEP-0065 greeting and CONNECT request for host:port.
func request(host string, port int) []byte {
	b := append([]byte{5, 1, 0, 5, 1, 0, 3, byte(len(host))}, host...)
	return append(b, byte(port>>8), byte(port))
}

func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    []byte
		want  string // the hash, or "" for a refusal
		reply []byte // what the relay writes
	}{
		{"xep-0065 request", request("abc123", 0), "abc123", []byte{5, 0}},
		{"several methods", append([]byte{5, 3, 2, 1, 0}, request("h", 0)[3:]...), "h", []byte{5, 0}},
		{"authentication only", []byte{5, 1, 2}, "", []byte{5, 0xff}},
		{"SOCKS4", []byte{4, 1, 0, 0}, "", nil},
		{"BIND", append([]byte{5, 1, 0, 5, 2, 0, 3, 1, 'h'}, 0, 0), "", []byte{5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"IPv4 address", []byte{5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 80}, "", []byte{5, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"port not 0", request("abc", 80), "", []byte{5, 0, 5, 2, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"empty host", request("", 0), "", []byte{5, 0, 5, 2, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"data before the reply", append(request("abc", 0), "early"...), "", []byte{5, 0, 5, 2, 0, 1, 0, 0, 0, 0, 0, 0}},
		{"truncated", request("abc", 0)[:9], "", []byte{5, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &rw{in: bytes.NewReader(tc.in)}
			got, err := negotiate(c)
			if got != tc.want || (err == nil) != (tc.want != "") {
				t.Errorf("negotiate = %q, %v; want %q", got, err, tc.want)
			}
			if !bytes.Equal(c.out.Bytes(), tc.reply) {
				t.Errorf("relay wrote % x, want % x", c.out.Bytes(), tc.reply)
			}
		})
	}
}

// FuzzNegotiate: any bytes give a hash or an error, never a panic, and
// the relay never writes more than its two replies.
func FuzzNegotiate(f *testing.F) {
	f.Add(request("4d7d1e7bf2cf7d4c1a0ea9fb7c8f1e4f1bb9e2a1", 0))
	f.Add([]byte{5, 1, 2})
	f.Add(append([]byte{5, 1, 0, 5, 1, 0, 3, 255}, bytes.Repeat([]byte{'a'}, 257)...))
	f.Fuzz(func(t *testing.T, in []byte) {
		c := &rw{in: bytes.NewReader(in)}
		hash, err := negotiate(c)
		if err == nil && (hash == "" || len(hash) > 255) {
			t.Fatalf("accepted destination %q", hash)
		}
		if c.out.Len() > 2+10 {
			t.Fatalf("wrote %d bytes", c.out.Len())
		}
	})
}
