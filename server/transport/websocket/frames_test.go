package websocket_test

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawWS is a WebSocket client written by hand, to send frames a library
// would not: fragments, pings between them, unmasked frames.
type rawWS struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawWS {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET /xmpp-websocket HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 6455 §1.3's example key and answer.
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" || resp.Header.Get("Sec-WebSocket-Protocol") != "xmpp" {
		t.Fatalf("upgrade: %d %v", resp.StatusCode, resp.Header)
	}
	return &rawWS{t: t, c: c, br: br}
}

// frame sends one frame, masked unless unmasked.
func (w *rawWS) frame(fin bool, op byte, payload string, unmasked bool) {
	w.t.Helper()
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	mask := byte(0x80)
	if unmasked {
		mask = 0
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, mask|byte(n))
	default:
		b = append(b, mask|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	}
	p := []byte(payload)
	if !unmasked {
		key := []byte{1, 2, 3, 4}
		b = append(b, key...)
		for i := range p {
			p[i] ^= key[i&3]
		}
	}
	if _, err := w.c.Write(append(b, p...)); err != nil {
		w.t.Fatal(err)
	}
}

// next reads one server frame: its opcode and payload.
func (w *rawWS) next() (byte, string) {
	w.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(w.br, h[:]); err != nil {
		w.t.Fatalf("read: %v", err)
	}
	if h[1]&0x80 != 0 {
		w.t.Fatal("masked server frame")
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		io.ReadFull(w.br, l[:])
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		io.ReadFull(w.br, l[:])
		n = int(binary.BigEndian.Uint64(l[:]))
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(w.br, p); err != nil {
		w.t.Fatalf("read: %v", err)
	}
	return h[0] & 0x0f, string(p)
}

// A message in fragments, with a ping between them, is one element; the
// ping gets its pong first.
func TestFragmentsAndPing(t *testing.T) {
	_, addr := server(t)
	w := dialRaw(t, addr)
	open := `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0"/>`
	w.frame(false, 0x1, open[:10], false)
	w.frame(true, 0x9, "hi", false)
	w.frame(false, 0x0, open[10:30], false)
	w.frame(true, 0x0, open[30:], false)
	if op, p := w.next(); op != 0xA || p != "hi" {
		t.Fatalf("answer to ping: opcode %#x %q", op, p)
	}
	if op, p := w.next(); op != 0x1 || !strings.Contains(p, "<open ") {
		t.Fatalf("answer to <open/>: opcode %#x %q", op, p)
	}
	if _, p := w.next(); !strings.Contains(p, "features") {
		t.Fatalf("features: %q", p)
	}
	// A large message (over the 512-byte read buffer) in one frame.
	big := `<iq xmlns="jabber:client" type="get" id="` + strings.Repeat("x", 3000) + `"><ping xmlns="urn:xmpp:ping"/></iq>`
	w.frame(true, 0x1, big, false)
	if _, p := w.next(); !strings.Contains(p, "not-authorized") && !strings.Contains(p, "error") {
		t.Fatalf("answer to an iq before authentication: %q", p)
	}
}

// An unmasked client frame fails the WebSocket: close status 1002.
func TestUnmaskedFrame(t *testing.T) {
	_, addr := server(t)
	w := dialRaw(t, addr)
	w.frame(true, 0x1, `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0"/>`, true)
	op, p := w.next()
	if op != 0x8 || len(p) < 2 || binary.BigEndian.Uint16([]byte(p)) != 1002 {
		t.Fatalf("frame %#x %q, want close 1002", op, p)
	}
}

// A frame over the stanza limit is a <policy-violation/> stream error,
// as soon as its header shows its length.
func TestMessageTooLarge(t *testing.T) {
	_, addr := server(t)
	w := dialRaw(t, addr)
	w.frame(true, 0x1, `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="localhost" version="1.0"/>`, false)
	w.next()
	w.next()
	hdr := binary.BigEndian.AppendUint64([]byte{0x81, 0x80 | 127}, 600<<10)
	if _, err := w.c.Write(append(hdr, 1, 2, 3, 4)); err != nil {
		t.Fatal(err)
	}
	if _, p := w.next(); !strings.Contains(p, "policy-violation") {
		t.Fatalf("answer to a frame of 600 KiB: %q", p)
	}
	if _, p := w.next(); !strings.Contains(p, "<close ") {
		t.Fatalf("%q after the stream error, want <close/>", p)
	}
	if op, p := w.next(); op != 0x8 || binary.BigEndian.Uint16([]byte(p)) != 1000 {
		t.Fatalf("frame %#x %q after <close/>, want close 1000", op, p)
	}
}
