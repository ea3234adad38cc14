package tlsrec

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Alert descriptions (RFC 8446 §6).
const (
	alertCloseNotify       = 0
	alertUnexpectedMessage = 10
	alertBadRecordMAC      = 20
	alertRecordOverflow    = 22
	alertDecodeError       = 50
	alertIllegalParameter  = 47
	alertInternalError     = 80
)

// maxEmptyRecords bounds records in a row that carry no application data
// (empty records, KeyUpdates), as crypto/tls does.
const maxEmptyRecords = 16

// maxWriteRecords is how many full records one write system call carries.
const maxWriteRecords = 4

var (
	readBufs  = sync.Pool{New: func() any { b := make([]byte, maxRecord); return &b }}
	writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}
)

// AlertError is a fatal alert: sent to the peer (Sent) or received from it.
type AlertError struct {
	Description uint8
	Sent        bool
}

func (e *AlertError) Error() string {
	if e.Sent {
		return fmt.Sprintf("tlsrec: sent alert %d", e.Description)
	}
	return fmt.Sprintf("tlsrec: received alert %d", e.Description)
}

// Conn is a server-side TLS connection after its handshake. Read is for
// one goroutine at a time; Write and Close may be called from any
// goroutine, concurrently with Read.
type Conn struct {
	raw      net.Conn
	fallback *tls.Conn // everything goes through crypto/tls (TLS 1.2, RecordLayerGo)
	suite    *suite    // one of the package's, shared

	// Read side, owned by the reading goroutine.
	in      direction
	rbuf    *[]byte    // pooled; nil while nothing is buffered
	rs, re  int        // unread raw bytes: (*rbuf)[rs:re]
	plain   []byte     // decrypted application data not yet returned
	hs      []byte     // a partial post-handshake message
	rerr    error      // final read error
	empties int        // records in a row without application data
	rr      *rawReader // socket reads without allocation (rawread_unix.go)

	wmu        sync.Mutex // guards the write side
	out        direction
	werr       error
	sendUpdate bool // the peer asked for a KeyUpdate
	closed     bool

	onClose atomic.Pointer[func()] // SetCloseHook
}

// SetCloseHook makes Close call f (once, after closing the socket);
// nil removes it. A server that waits for a parked connection's socket
// outside of Read uses it to learn that the connection was closed.
func (c *Conn) SetCloseHook(f func()) {
	if f == nil {
		c.onClose.Store(nil)
		return
	}
	c.onClose.Store(&f)
}

// Lean reports whether the connection uses this package's record layer
// (TLS 1.3) rather than crypto/tls's.
func (c *Conn) Lean() bool { return c.fallback == nil }

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr implements net.Conn.
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error { return c.raw.SetDeadline(t) }

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.raw.SetReadDeadline(t) }

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

// Idle reports whether the read side holds nothing: no partial record, no
// undelivered plaintext. Only then may the reader stop reading and wait
// for the socket to become readable. Call it from the reading goroutine.
func (c *Conn) Idle() bool {
	return c.fallback == nil && c.rs == c.re && len(c.plain) == 0 && len(c.hs) == 0
}

// Park releases what an idle connection does not need: the read buffer,
// the read AEAD and, unless a write is in progress, the write AEAD. They
// are rebuilt on the next record. Call it from the reading goroutine.
func (c *Conn) Park() {
	if c.fallback != nil {
		return
	}
	if c.rs == c.re && len(c.plain) == 0 {
		c.releaseRead()
	}
	c.in.drop()
	if c.wmu.TryLock() {
		c.out.drop()
		c.wmu.Unlock()
	}
}

// Discard ends the read side for good: unread input (a close_notify
// after the peer's last record, say) is dropped and the read buffer and
// AEAD go back, so that a connection whose reader is done holds nothing
// until it is collected. Later Reads fail with net.ErrClosed. Call it
// from the reading goroutine, after its last Read.
func (c *Conn) Discard() {
	if c.fallback != nil {
		return
	}
	c.releaseRead()
	c.hs = nil
	c.in.drop()
	if c.rerr == nil {
		c.rerr = net.ErrClosed
	}
}

func (c *Conn) releaseRead() {
	if c.rbuf != nil {
		readBufs.Put(c.rbuf)
		c.rbuf = nil
	}
	c.rs, c.re = 0, 0
	c.plain = nil
}

// Read implements net.Conn.
func (c *Conn) Read(p []byte) (int, error) {
	if c.fallback != nil {
		return c.fallback.Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	for len(c.plain) == 0 {
		if c.rerr != nil {
			return 0, c.rerr
		}
		if err := c.readRecord(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.plain)
	c.plain = c.plain[n:]
	if len(c.plain) == 0 && c.rs == c.re {
		c.releaseRead()
	}
	return n, nil
}

// fill makes n raw bytes available at (*c.rbuf)[c.rs:].
func (c *Conn) fill(n int) error {
	if c.rbuf != nil && c.rs+n > len(*c.rbuf) {
		buf := *c.rbuf
		copy(buf, buf[c.rs:c.re])
		c.re -= c.rs
		c.rs = 0
	}
	for c.rbuf == nil || c.re-c.rs < n {
		_, err := c.readRaw()
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			if c.rs == c.re {
				// The peer closed without close_notify: a truncation
				// attack cannot hide in XMPP (the stream has its own
				// end), so report a plain end of input.
				c.rerr = io.EOF
			} else {
				c.rerr = io.ErrUnexpectedEOF
			}
			return c.rerr
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			c.rerr = err
		}
		return err
	}
	return nil
}

// readInto is readRaw for connections that are not sockets: the buffer
// is taken before the read blocks.
func (c *Conn) readInto() (int, error) {
	if c.rbuf == nil {
		c.rbuf = readBufs.Get().(*[]byte)
		c.rs, c.re = 0, 0
	}
	n, err := c.raw.Read((*c.rbuf)[c.re:])
	c.re += n
	if n > 0 {
		return n, nil
	}
	if c.rs == c.re {
		c.releaseRead() // as readCallback: hold no buffer for nothing
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return 0, err
}

// readRecord reads and processes one record.
func (c *Conn) readRecord() error {
	if err := c.fill(headerLen); err != nil {
		return err
	}
	buf := *c.rbuf
	hdr := buf[c.rs : c.rs+headerLen]
	n := int(hdr[3])<<8 | int(hdr[4])
	if hdr[0] != typeApplicationData {
		// After the handshake every record is protected (RFC 8446 §5).
		return c.fail(alertUnexpectedMessage)
	}
	if n > maxCiphertext {
		return c.fail(alertRecordOverflow)
	}
	if err := c.fill(headerLen + n); err != nil {
		return err
	}
	buf = *c.rbuf
	rec := buf[c.rs : c.rs+headerLen+n]
	c.rs += headerLen + n
	inner, err := c.in.open(c.suite, rec)
	if err != nil {
		if errors.Is(err, errSeqExhausted) {
			return c.fail(alertInternalError)
		}
		return c.fail(alertBadRecordMAC)
	}
	i := len(inner) - 1
	for i >= 0 && inner[i] == 0 {
		i--
	}
	if i < 0 {
		return c.fail(alertUnexpectedMessage) // all padding, no type
	}
	typ, content := inner[i], inner[:i]
	if len(content) > maxPlaintext {
		return c.fail(alertRecordOverflow)
	}
	if typ != typeHandshake && len(c.hs) > 0 {
		return c.fail(alertUnexpectedMessage) // a handshake message was cut off
	}
	switch typ {
	case typeApplicationData:
		if len(content) == 0 {
			return c.noData()
		}
		c.empties = 0
		c.plain = content
		return nil
	case typeAlert:
		if len(content) != 2 {
			return c.fail(alertDecodeError)
		}
		if content[1] == alertCloseNotify {
			c.rerr = io.EOF
			return io.EOF
		}
		c.rerr = &AlertError{Description: content[1]}
		return c.rerr
	case typeHandshake:
		if len(content) == 0 {
			return c.fail(alertUnexpectedMessage)
		}
		if err := c.handshakeMessages(content); err != nil {
			return err
		}
		return c.noData()
	default:
		return c.fail(alertUnexpectedMessage)
	}
}

// noData counts a record that carried no application data.
func (c *Conn) noData() error {
	c.empties++
	if c.empties > maxEmptyRecords {
		return c.fail(alertUnexpectedMessage)
	}
	return nil
}

// handshakeMessages processes post-handshake messages. From a client only
// KeyUpdate is legal (RFC 8446 §4.6.3); one must end its record.
func (c *Conn) handshakeMessages(b []byte) error {
	if len(c.hs)+len(b) > 64 {
		return c.fail(alertUnexpectedMessage)
	}
	c.hs = append(c.hs, b...)
	for len(c.hs) >= 4 {
		typ := c.hs[0]
		n := int(c.hs[1])<<16 | int(c.hs[2])<<8 | int(c.hs[3])
		if typ != 24 { // key_update
			return c.fail(alertUnexpectedMessage)
		}
		if n != 1 {
			return c.fail(alertDecodeError)
		}
		if len(c.hs) < 5 {
			return nil
		}
		req := c.hs[4]
		if req > 1 {
			return c.fail(alertIllegalParameter)
		}
		if len(c.hs) > 5 {
			// Handshake messages must not span a key change (§5.1).
			return c.fail(alertUnexpectedMessage)
		}
		c.hs = nil
		c.in.update(c.suite)
		if req == 1 {
			c.wmu.Lock()
			c.sendUpdate = true
			err := c.flushUpdateLocked()
			c.wmu.Unlock()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// flushUpdateLocked answers a KeyUpdate request: a KeyUpdate of our own
// under the old key, then the new key (RFC 8446 §4.6.3).
func (c *Conn) flushUpdateLocked() error {
	if !c.sendUpdate || c.werr != nil {
		return c.werr
	}
	c.sendUpdate = false
	rec, err := c.out.seal(c.suite, nil, typeHandshake, []byte{24, 0, 0, 1, 0})
	if err != nil {
		c.werr = err
		return err
	}
	c.out.update(c.suite)
	if _, err := c.raw.Write(rec); err != nil {
		c.werr = err
		return err
	}
	return nil
}

// fail sends a fatal alert and makes reading fail from now on.
func (c *Conn) fail(desc uint8) error {
	c.rerr = &AlertError{Description: desc, Sent: true}
	c.wmu.Lock()
	if c.werr == nil && !c.closed {
		if rec, err := c.out.seal(c.suite, nil, typeAlert, []byte{2, desc}); err == nil {
			_ = c.raw.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.raw.Write(rec)
		}
		c.werr = c.rerr
	}
	c.wmu.Unlock()
	return c.rerr
}

// Write implements net.Conn. A write that fails leaves the connection
// unusable for writing, as the peer may have received part of a record.
func (c *Conn) Write(p []byte) (int, error) {
	if c.fallback != nil {
		return c.fallback.Write(p)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	if c.werr != nil {
		return 0, c.werr
	}
	if err := c.flushUpdateLocked(); err != nil {
		return 0, err
	}
	bp := writeBufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxWriteRecords*maxRecord {
			writeBufs.Put(bp)
		}
	}()
	written := 0
	for written < len(p) {
		buf := (*bp)[:0]
		chunk := p[written:]
		if len(chunk) > maxWriteRecords*maxPlaintext {
			chunk = chunk[:maxWriteRecords*maxPlaintext]
		}
		var err error
		for rest := chunk; len(rest) > 0; {
			m := min(len(rest), maxPlaintext)
			if buf, err = c.out.seal(c.suite, buf, typeApplicationData, rest[:m]); err != nil {
				c.werr = err
				return written, err
			}
			rest = rest[m:]
		}
		*bp = buf
		if _, err := c.raw.Write(buf); err != nil {
			c.werr = err
			return written, err
		}
		written += len(chunk)
	}
	return written, nil
}

// Close sends close_notify, unless a write is in progress (Close is then
// breaking that write), and closes the connection.
func (c *Conn) Close() error {
	if f := c.onClose.Swap(nil); f != nil {
		defer (*f)()
	}
	if c.fallback != nil {
		return c.fallback.Close()
	}
	if c.wmu.TryLock() {
		if !c.closed && c.werr == nil {
			if rec, err := c.out.seal(c.suite, nil, typeAlert, []byte{1, alertCloseNotify}); err == nil {
				_ = c.raw.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = c.raw.Write(rec)
			}
		}
		c.closed = true
		c.wmu.Unlock()
	}
	return c.raw.Close()
}
