package stream

import (
	"bytes"
	"unicode/utf8"
)

// This file holds the lexical layer: names, character data, attribute
// values, references and CDATA sections (XML 1.0 §2 and §4.1).

// isChar reports whether r is an XML 1.0 Char (production [2]).
func isChar(r rune) bool {
	switch {
	case r < 0x20:
		return r == 0x9 || r == 0xA || r == 0xD
	case r <= 0xD7FF:
		return true
	case r < 0xE000:
		return false
	case r <= 0xFFFD:
		return true
	}
	return r >= 0x10000 && r <= 0x10FFFF
}

// isNameStart reports whether r is a NameStartChar (production [4]).
func isNameStart(r rune) bool {
	switch {
	case r < 0x80:
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || r == '_' || r == ':'
	case r < 0xC0:
		return false
	case r <= 0x2FF:
		return r != 0xD7 && r != 0xF7
	case r < 0x370:
		return false
	case r <= 0x1FFF:
		return r != 0x37E
	case r < 0x2070:
		return r == 0x200C || r == 0x200D
	case r <= 0x218F:
		return true
	case r < 0x2C00:
		return false
	case r <= 0x2FEF:
		return true
	case r < 0x3001:
		return false
	case r <= 0xD7FF:
		return true
	case r < 0xF900:
		return false
	case r <= 0xFDCF:
		return true
	case r < 0xFDF0:
		return false
	case r <= 0xFFFD:
		return true
	}
	return r >= 0x10000 && r <= 0xEFFFF
}

// isNameChar reports whether r is a NameChar (production [4a]).
func isNameChar(r rune) bool {
	switch {
	case r < 0x80:
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
			r == '_' || r == ':' || r == '-' || r == '.'
	case r == 0xB7, 0x300 <= r && r <= 0x36F, r == 0x203F, r == 0x2040:
		return true
	}
	return isNameStart(r)
}

// skipSpace consumes XML white space and reports whether there was any.
func (d *Decoder) skipSpace() (bool, error) {
	skipped := false
	for {
		for d.pos < d.end {
			if !isSpace(d.buf[d.pos]) {
				return skipped, nil
			}
			d.pos++
			skipped = true
		}
		if err := d.fill(); err != nil {
			return skipped, err
		}
	}
}

// expect consumes the byte c or fails with not-well-formed.
func (d *Decoder) expect(c byte, what string) error {
	if err := d.need(1); err != nil {
		return err
	}
	if d.buf[d.pos] != c {
		return errorf(NotWellFormed, "expected %s", what)
	}
	d.pos++
	return nil
}

// isASCIINameChar reports whether the ASCII byte c is a NameChar.
func isASCIINameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == ':' || c == '-' || c == '.'
}

// name scans an XML Name and returns its offsets relative to d.start and
// the offset of its first colon, or -1.
func (d *Decoder) name() (s, colon, e int, err error) {
	s, colon = d.pos-d.start, -1
	first := true
	for {
		if d.pos >= d.end {
			if err = d.fill(); err != nil {
				return
			}
		}
		// Fast path: a run of ASCII name characters.
		b := d.buf[d.pos:d.end]
		i := 0
		if first && b[0] < utf8.RuneSelf && isNameStart(rune(b[0])) {
			i = 1
		}
		if i > 0 || !first {
			for i < len(b) && isASCIINameChar(b[i]) {
				i++
			}
		}
		if i > 0 {
			if colon < 0 {
				if k := bytes.IndexByte(b[:i], ':'); k >= 0 {
					colon = d.pos + k - d.start
				}
			}
			d.pos += i
			first = false
			if i < len(b) && b[i] < utf8.RuneSelf {
				break
			}
			continue
		}
		if b[0] < utf8.RuneSelf {
			break
		}
		if !utf8.FullRune(b) {
			if err = d.fill(); err != nil {
				return
			}
			continue
		}
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			err = errorf(NotWellFormed, "invalid UTF-8")
			return
		}
		if !(first && isNameStart(r) || !first && isNameChar(r)) {
			break
		}
		d.pos += size
		first = false
	}
	e = d.pos - d.start
	if e == s {
		err = errorf(NotWellFormed, "expected a name")
	}
	return
}

// qname scans a qualified name (Namespaces in XML §4): at most one colon,
// with a non-empty prefix and local part that are both NCNames.
func (d *Decoder) qname() (s, colon, e int, err error) {
	if s, colon, e, err = d.name(); err != nil || colon < 0 {
		return
	}
	local := d.rel(colon+1, e)
	r, _ := utf8.DecodeRune(local)
	if colon == s || len(local) == 0 || r == ':' || !isNameStart(r) || bytes.IndexByte(local, ':') >= 0 {
		err = errorf(NotWellFormed, "malformed qualified name %.40q", d.rel(s, e))
	}
	return
}

// charRun returns how many leading bytes of b are plain character data:
// valid UTF-8 XML characters other than the markup bytes the callers must
// look at (< & ] CR, and quote for attribute values).
func charRun(b []byte, quote byte) int {
	i := 0
	for i < len(b) {
		c := b[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '<' && c != '&' && c != ']' && c != quote || c == '\n' && quote == 0 || c == '\t' && quote == 0 {
				i++
				continue
			}
			return i
		}
		r, size := utf8.DecodeRune(b[i:])
		if size == 1 || r == 0xFFFE || r == 0xFFFF {
			return i
		}
		i += size
	}
	return i
}

// slowRune validates and copies one non-ASCII character, waiting for the
// rest of its encoding if needed.
func (d *Decoder) slowRune() error {
	for !utf8.FullRune(d.buf[d.pos:d.end]) {
		if err := d.fill(); err != nil {
			return err
		}
	}
	r, size := utf8.DecodeRune(d.buf[d.pos:d.end])
	if r == utf8.RuneError && size == 1 {
		return errorf(NotWellFormed, "invalid UTF-8")
	}
	if !isChar(r) {
		return errorf(NotWellFormed, "character U+%04X is not allowed", r)
	}
	d.text = append(d.text, d.buf[d.pos:d.pos+size]...)
	d.pos += size
	return nil
}

// newline handles a CR: CR LF and lone CR become repl (XML 1.0 §2.11).
func (d *Decoder) newline(repl byte) error {
	d.pos++
	d.text = append(d.text, repl)
	if err := d.need(1); err != nil {
		return err
	}
	if d.buf[d.pos] == '\n' {
		d.pos++
	}
	return nil
}

// charData appends decoded character data up to the next '<' to d.text.
func (d *Decoder) charData() error {
	for {
		if d.pos >= d.end {
			if err := d.fill(); err != nil {
				return err
			}
		}
		b := d.buf[d.pos:d.end]
		i := charRun(b, 0)
		d.text = append(d.text, b[:i]...)
		d.pos += i
		if i == len(b) {
			continue
		}
		var err error
		switch c := b[i]; {
		case c == '<':
			return nil
		case c == '&':
			err = d.reference()
		case c == ']':
			if err = d.need(3); err == nil {
				if d.buf[d.pos+1] == ']' && d.buf[d.pos+2] == '>' {
					return errorf(NotWellFormed, "']]>' in character data")
				}
				d.text = append(d.text, ']')
				d.pos++
			}
		case c == '\r':
			err = d.newline('\n')
		case c < 0x20:
			err = errorf(NotWellFormed, "control character U+%04X is not allowed", c)
		default:
			err = d.slowRune()
		}
		if err != nil {
			return err
		}
	}
}

// cdata appends the content of a CDATA section whose opening delimiter
// has been consumed.
func (d *Decoder) cdata() error {
	for {
		if d.pos >= d.end {
			if err := d.fill(); err != nil {
				return err
			}
		}
		b := d.buf[d.pos:d.end]
		i := 0
		for i < len(b) {
			if n := charRun(b[i:], 0); n > 0 {
				i += n
				continue
			}
			if c := b[i]; c == '<' || c == '&' {
				i++
				continue
			}
			break
		}
		d.text = append(d.text, b[:i]...)
		d.pos += i
		if i == len(b) {
			continue
		}
		var err error
		switch c := b[i]; {
		case c == ']':
			if err = d.need(3); err == nil {
				if d.buf[d.pos+1] == ']' && d.buf[d.pos+2] == '>' {
					d.pos += 3
					return nil
				}
				d.text = append(d.text, ']')
				d.pos++
			}
		case c == '\r':
			err = d.newline('\n')
		case c < 0x20:
			err = errorf(NotWellFormed, "control character U+%04X is not allowed", c)
		default:
			err = d.slowRune()
		}
		if err != nil {
			return err
		}
	}
}

// attrValue reads a quoted attribute value, normalised as XML 1.0 §3.3.3
// requires for CDATA attributes, and returns its range in d.text.
func (d *Decoder) attrValue() (vs, ve int, err error) {
	if err = d.need(1); err != nil {
		return
	}
	q := d.buf[d.pos]
	if q != '"' && q != '\'' {
		err = errorf(NotWellFormed, "attribute value is not quoted")
		return
	}
	d.pos++
	vs = len(d.text)
	for {
		if d.pos >= d.end {
			if err = d.fill(); err != nil {
				return
			}
		}
		b := d.buf[d.pos:d.end]
		i := 0
		for i < len(b) {
			if n := charRun(b[i:], q); n > 0 {
				i += n
				continue
			}
			if b[i] == ']' {
				i++
				continue
			}
			break
		}
		d.text = append(d.text, b[:i]...)
		d.pos += i
		if i == len(b) {
			continue
		}
		switch c := b[i]; {
		case c == q:
			d.pos++
			return vs, len(d.text), nil
		case c == '<':
			err = errorf(NotWellFormed, "'<' in attribute value")
		case c == '&':
			err = d.reference()
		case c == '\t' || c == '\n':
			d.text = append(d.text, ' ')
			d.pos++
		case c == '\r':
			err = d.newline(' ')
		case c < 0x20:
			err = errorf(NotWellFormed, "control character U+%04X is not allowed", c)
		default:
			err = d.slowRune()
		}
		if err != nil {
			return
		}
	}
}

// reference decodes a character or entity reference starting at '&'.
// Only the five predefined entities are allowed (RFC 6120 §11.1).
func (d *Decoder) reference() error {
	d.pos++
	if err := d.need(1); err != nil {
		return err
	}
	if d.buf[d.pos] != '#' {
		s, _, e, err := d.name()
		if err != nil {
			return err
		}
		if err := d.expect(';', "';' after entity name"); err != nil {
			return err
		}
		var c byte
		switch string(d.rel(s, e)) {
		case "lt":
			c = '<'
		case "gt":
			c = '>'
		case "amp":
			c = '&'
		case "quot":
			c = '"'
		case "apos":
			c = '\''
		default:
			return errorf(RestrictedXML, "entity reference &%.40s; is not allowed", d.rel(s, e))
		}
		d.text = append(d.text, c)
		return nil
	}
	d.pos++
	if err := d.need(1); err != nil {
		return err
	}
	base := rune(10)
	if d.buf[d.pos] == 'x' {
		base = 16
		d.pos++
	}
	var v rune
	digits := 0
	for {
		if err := d.need(1); err != nil {
			return err
		}
		c := rune(d.buf[d.pos])
		d.pos++
		if c == ';' {
			break
		}
		var dv rune
		switch {
		case '0' <= c && c <= '9':
			dv = c - '0'
		case base == 16 && 'a' <= c && c <= 'f':
			dv = c - 'a' + 10
		case base == 16 && 'A' <= c && c <= 'F':
			dv = c - 'A' + 10
		default:
			return errorf(NotWellFormed, "malformed character reference")
		}
		if v <= 0x10FFFF {
			v = v*base + dv
		}
		digits++
	}
	if digits == 0 || !isChar(v) {
		return errorf(NotWellFormed, "character reference to a character that is not allowed")
	}
	d.text = utf8.AppendRune(d.text, v)
	return nil
}

// markupDecl reports the error for "<!" or "<?" where an element was
// expected: comments, DTD declarations and processing instructions are
// restricted XML; anything else is not well-formed.
func (d *Decoder) markupDecl() error {
	if err := d.need(3); err != nil {
		return err
	}
	if d.buf[d.pos+1] == '?' {
		return errorf(RestrictedXML, "processing instructions are not allowed")
	}
	switch c := d.buf[d.pos+2]; {
	case c == '-':
		return errorf(RestrictedXML, "comments are not allowed")
	case 'A' <= c && c <= 'Z':
		return errorf(RestrictedXML, "document type declarations are not allowed")
	}
	return errorf(NotWellFormed, "unexpected markup")
}
