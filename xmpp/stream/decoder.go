package stream

import (
	"errors"
	"fmt"
	"io"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Limits bounds what one stanza may make the decoder hold.
type Limits struct {
	// MaxStanzaBytes is the size of one top-level element, children
	// included. Zero or less means the default (256 KiB).
	MaxStanzaBytes int
	// MaxDepth is the element nesting depth inside a stanza, the stanza
	// itself being at depth 1. Zero or less means the default (64).
	MaxDepth int
	// MaxElements is the number of elements in one stanza; 0 means
	// unlimited. The server uses a small value before authentication.
	MaxElements int
}

// DefaultLimits returns the limits used when a field of Limits is zero.
func DefaultLimits() Limits {
	return Limits{MaxStanzaBytes: 256 << 10, MaxDepth: 64}
}

// norm fills in defaults.
func (l Limits) norm() Limits {
	def := DefaultLimits()
	if l.MaxStanzaBytes <= 0 {
		l.MaxStanzaBytes = def.MaxStanzaBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = def.MaxDepth
	}
	if l.MaxElements < 0 {
		l.MaxElements = 0
	}
	return l
}

const (
	// minBuf is the read buffer an idle connection holds.
	minBuf = 512
	// shrinkAbove is the buffer capacity above which buffers are released
	// once the stanza that needed them has been returned.
	shrinkAbove = 16 << 10
	// maxBindings bounds the namespace declarations in scope at once, so
	// that prefix lookups stay cheap whatever a peer sends.
	maxBindings = 256
	// maxEmptyReads is how many (0, nil) reads are tolerated in a row.
	maxEmptyReads = 100
)

// str is a string that is either held directly (off < 0) or a range of
// the stanza's decoded text, materialised when the tree is built.
type str struct {
	s        string
	off, end int
}

func lit(s string) str { return str{s: s, off: -1} }

func (x str) get(all string) string {
	if x.off < 0 {
		return x.s
	}
	return all[x.off:x.end]
}

// Per-stanza records. Offsets named q* are relative to Decoder.start, the
// first byte of the stanza in the read buffer; v*/t* index Decoder.text.
type (
	elemRec struct {
		space, local str
		a0, na       int // attributes d.attrs[a0:a0+na]
		k0, nk       int // children d.nodes[k0:k0+nk]
	}
	attrRec struct {
		space, local str
		vs, ve       int
	}
	nodeRec struct {
		elem   int // index in d.elems, or -1 for text
		ts, te int
	}
	openRec struct {
		elem, qs, qe, nsMark, kidMark int
	}
	nsRec struct {
		def    bool // default namespace declaration
		ps, pe int  // prefix (relative to start) when !def
		uri    str
	}
	rawAttr struct {
		qs, qc, qe, vs, ve int // qc is the colon offset or -1
	}
	streamBinding struct {
		prefix, uri string
	}
)

// Decoder reads an XMPP stream: a header, then stanzas. It is not safe for
// concurrent use. A protocol error (*Error) or the end of the input is
// final until Reset; any other read error (a deadline, say) is returned
// as is and the partially received stanza is parsed again on the next call.
type Decoder struct {
	r          io.Reader
	lim        Limits
	buf        []byte
	pos, end   int   // buf[pos:end] is unread
	start      int   // first byte of the element being parsed
	rerr       error // error returned along with data by r
	err        error // sticky error
	standalone bool  // ParseElement: no reader, the input is complete
	headerDone bool
	closed     bool

	contentNS   string
	streamQName string
	streamNS    []streamBinding

	// The per-stanza scratch space, allocated by the first read and
	// dropped (nil) by Release and Discard: a parked connection's decoder
	// keeps one pointer instead of eight slice headers (192 bytes).
	*scratch
	count int
}

// scratch is the decoder's per-stanza working space: the decoded text
// and the records of the element being built.
type scratch struct {
	text  []byte
	elems []elemRec
	attrs []attrRec
	nodes []nodeRec
	kids  []nodeRec
	stack []openRec
	ns    []nsRec
	raw   []rawAttr
}

// ensureScratch allocates the scratch space if Release or Discard
// dropped it, or nothing was read yet.
func (d *Decoder) ensureScratch() {
	if d.scratch == nil {
		d.scratch = new(scratch)
	}
}

// NewDecoder returns a decoder reading from r with the given limits.
func NewDecoder(r io.Reader, lim Limits) *Decoder {
	return &Decoder{r: r, lim: lim.norm()}
}

// SetLimits changes the limits for the following stanzas.
func (d *Decoder) SetLimits(lim Limits) { d.lim = lim.norm() }

// Reset makes d read a new stream from r, as after STARTTLS or SASL
// success. Buffered bytes and any error are dropped; the limits are kept.
func (d *Decoder) Reset(r io.Reader) {
	d.r = r
	if cap(d.buf) > shrinkAbove {
		d.buf = nil
	}
	d.pos, d.end, d.start = 0, 0, 0
	d.rerr, d.err = nil, nil
	d.headerDone, d.closed = false, false
	d.contentNS, d.streamQName, d.streamNS = "", "", nil
}

// Buffered returns the number of bytes read from the underlying reader but
// not yet consumed. A non-zero value after <starttls/> means the peer
// pipelined data that must not be processed as if it were protected by TLS.
func (d *Decoder) Buffered() int { return d.end - d.pos }

// AtBoundary reports whether the decoder holds no part of an unfinished
// element: it is waiting for input between stanzas. A reader may use it,
// when the decoder asks for more input, to tell a connection that is idle
// from one in the middle of a stanza.
func (d *Decoder) AtBoundary() bool { return d.start == d.end && d.pos == d.end }

// Release drops the read buffer and the per-stanza scratch space, so that
// an idle stream holds only the decoder itself; they are allocated again
// when input arrives. It does nothing unless [Decoder.AtBoundary].
func (d *Decoder) Release() {
	if !d.AtBoundary() || d.standalone {
		return
	}
	d.buf = nil
	d.pos, d.end, d.start = 0, 0, 0
	d.scratch = nil
}

// Discard drops the read buffer and the per-stanza scratch space for
// good, whatever the decoder holds: the stream is over. Later calls
// return the error the decoder had, or io.EOF.
func (d *Decoder) Discard() {
	if d.standalone {
		return
	}
	if d.err == nil && !d.closed {
		d.err = io.EOF
	}
	d.r = nil
	d.buf = nil
	d.pos, d.end, d.start = 0, 0, 0
	d.scratch = nil
}

// Next returns the next top-level element of the stream. Whitespace between
// stanzas is skipped. It returns io.EOF once the closing </stream:stream>
// tag has been read, and an error wrapping io.ErrUnexpectedEOF if the input
// ends before that.
func (d *Decoder) Next() (*stanza.Element, error) {
	if d.err != nil {
		return nil, d.err
	}
	if !d.headerDone {
		return nil, errors.New("stream: Next called before ReadHeader")
	}
	if d.closed {
		return nil, io.EOF
	}
	d.ensureScratch()
	if err := d.skipKeepalives(); err != nil {
		return nil, d.fail(err)
	}
	d.start = d.pos
	if d.buf[d.pos] != '<' {
		return nil, d.fail(errorf(NotWellFormed, "character data at the top level of the stream"))
	}
	if err := d.need(2); err != nil {
		return nil, d.fail(err)
	}
	switch d.buf[d.pos+1] {
	case '/':
		if err := d.closeTag(); err != nil {
			return nil, d.fail(err)
		}
		d.closed = true
		return nil, io.EOF
	case '!', '?':
		return nil, d.fail(d.markupDecl())
	}
	if err := d.element(); err != nil {
		return nil, d.fail(err)
	}
	el := d.build()
	d.release()
	return el, nil
}

// skipKeepalives consumes whitespace at the top level of the stream and
// returns once an unread byte that is not whitespace is available. While
// the connection is idle only a small buffer is held.
func (d *Decoder) skipKeepalives() error {
	for {
		for d.pos < d.end {
			switch d.buf[d.pos] {
			case ' ', '\t', '\r', '\n':
				d.pos++
			default:
				d.shrink()
				return nil
			}
		}
		d.pos, d.end, d.start = 0, 0, 0
		if cap(d.buf) > shrinkAbove {
			d.buf = nil
		}
		if err := d.fill(); err != nil {
			return err
		}
	}
}

// shrink replaces a large read buffer by a small one when little of it is
// still unread.
func (d *Decoder) shrink() {
	n := d.end - d.pos
	if cap(d.buf) <= shrinkAbove || n > minBuf || d.standalone {
		return
	}
	nb := make([]byte, minBuf)
	copy(nb, d.buf[d.pos:d.end])
	d.buf, d.pos, d.end, d.start = nb, 0, n, 0
}

// release drops per-stanza scratch space a large stanza made grow, so
// that an idle connection holds little memory.
func (d *Decoder) release() {
	if d.scratch == nil {
		return
	}
	if cap(d.text) > 4<<10 {
		d.text = nil
	}
	if cap(d.elems) > 32 || cap(d.attrs) > 64 || cap(d.nodes) > 64 || cap(d.kids) > 64 || cap(d.stack) > 16 || cap(d.raw) > 32 {
		d.elems, d.attrs, d.nodes, d.kids, d.stack, d.raw = nil, nil, nil, nil, nil, nil
	}
	if cap(d.ns) > 16 {
		d.ns = nil
	}
}

// fail records a final error, or rewinds to the start of the element for
// an error of the underlying reader that may be transient.
func (d *Decoder) fail(err error) error {
	var se *Error
	switch {
	case errors.As(err, &se):
		d.err = se
	case errors.Is(err, io.EOF):
		if d.standalone {
			d.err = errorf(NotWellFormed, "unexpected end of input")
		} else {
			d.err = fmt.Errorf("stream: connection closed mid-stream: %w", io.ErrUnexpectedEOF)
		}
	default:
		d.pos = d.start
		return fmt.Errorf("stream: read: %w", err)
	}
	return d.err
}

// fill reads more input into the buffer. Bytes from d.start on are kept;
// the buffer grows only as far as the stanza limit allows.
func (d *Decoder) fill() error {
	if d.r == nil {
		return io.EOF
	}
	if d.rerr != nil {
		err := d.rerr
		if !errors.Is(err, io.EOF) {
			d.rerr = nil
		}
		return err
	}
	if d.end-d.start >= d.lim.MaxStanzaBytes {
		return errorf(PolicyViolation, "stanza larger than %d bytes", d.lim.MaxStanzaBytes)
	}
	if d.end == len(d.buf) {
		if d.start > 0 {
			copy(d.buf, d.buf[d.start:d.end])
			d.end -= d.start
			d.pos -= d.start
			d.start = 0
		}
		if d.end == len(d.buf) {
			d.grow()
		}
	}
	for range maxEmptyReads {
		n, err := d.r.Read(d.buf[d.end:])
		if n < 0 || n > len(d.buf)-d.end {
			return fmt.Errorf("stream: reader returned invalid count %d", n)
		}
		d.end += n
		if n > 0 {
			d.rerr = err
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// grow enlarges the buffer, keeping its contents at the same offsets.
func (d *Decoder) grow() {
	n := 2 * len(d.buf)
	if n < minBuf {
		n = minBuf
	}
	if lim := d.start + d.lim.MaxStanzaBytes + minBuf; n > lim {
		n = lim
	}
	if n <= d.end {
		n = d.end + minBuf
	}
	nb := make([]byte, n)
	copy(nb, d.buf[:d.end])
	d.buf = nb
}

// need makes at least n unread bytes available.
func (d *Decoder) need(n int) error {
	for d.end-d.pos < n {
		if err := d.fill(); err != nil {
			return err
		}
	}
	return nil
}

// rel returns the buffered bytes between two offsets relative to d.start.
func (d *Decoder) rel(s, e int) []byte { return d.buf[d.start+s : d.start+e] }

// ParseElement parses one standalone element, such as a stanza read back
// from storage. Namespaces must be declared in b itself; surrounding
// whitespace is allowed. b is not retained.
func ParseElement(b []byte, lim Limits) (*stanza.Element, error) {
	lim = lim.norm()
	// The decoder and its initial scratch space are one allocation.
	p := &struct {
		d     Decoder
		sc    scratch
		elems [6]elemRec
		attrs [8]attrRec
		nodes [8]nodeRec
		kids  [8]nodeRec
		stack [6]openRec
		ns    [2]nsRec
		raw   [8]rawAttr
	}{}
	d := &p.d
	p.sc = scratch{text: make([]byte, 0, len(b)), elems: p.elems[:0], attrs: p.attrs[:0], nodes: p.nodes[:0],
		kids: p.kids[:0], stack: p.stack[:0], ns: p.ns[:0], raw: p.raw[:0]}
	*d = Decoder{buf: b, end: len(b), lim: lim, standalone: true, scratch: &p.sc}
	for d.pos < d.end && isSpace(d.buf[d.pos]) {
		d.pos++
	}
	for d.end > d.pos && isSpace(d.buf[d.end-1]) {
		d.end--
	}
	if d.end-d.pos > lim.MaxStanzaBytes {
		return nil, errorf(PolicyViolation, "element larger than %d bytes", lim.MaxStanzaBytes)
	}
	d.start = d.pos
	if err := d.need(2); err != nil {
		return nil, d.fail(err)
	}
	if d.buf[d.pos] != '<' {
		return nil, errorf(NotWellFormed, "expected an element")
	}
	switch d.buf[d.pos+1] {
	case '/':
		return nil, errorf(NotWellFormed, "unexpected end tag")
	case '!', '?':
		return nil, d.fail(d.markupDecl())
	}
	if err := d.element(); err != nil {
		return nil, d.fail(err)
	}
	if d.pos != d.end {
		return nil, errorf(NotWellFormed, "data after the element")
	}
	return d.build(), nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
