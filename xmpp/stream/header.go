package stream

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Close is the closing tag of a stream.
const Close = "</stream:stream>"

// Header is the opening <stream:stream> tag (RFC 6120 §4.7).
type Header struct {
	To, From, ID, Version, Lang string
	// ContentNS is the default namespace of the stream: jabber:client,
	// jabber:server or jabber:component:accept.
	ContentNS string
	// Attr holds the other attributes. Namespace declarations other than
	// the default one and the stream prefix are included with Name.Space
	// "xmlns" and the prefix as Name.Local, as encoding/xml does, so that
	// for instance xmlns:db='jabber:server:dialback' (XEP-0220) is visible.
	Attr []stanza.Attr
}

// ReadHeader reads the optional XML declaration and the stream header. It
// fails with <invalid-namespace/> if the root element is not <stream> in
// the http://etherx.jabber.org/streams namespace or the default namespace
// is not a content namespace, and with <unsupported-encoding/> for input
// that is not UTF-8. Checking the version (RFC 6120 §4.7.5) and addresses
// is left to the caller. It may be called again to read the header of a
// restarted stream on the same reader (after SASL success, RFC 6120
// §6.4.6); buffered data is kept. Use Reset for a new transport.
func (d *Decoder) ReadHeader() (Header, error) {
	if d.err != nil {
		return Header{}, d.err
	}
	d.start = d.pos
	d.ensureScratch()
	h, err := d.readHeader()
	if err != nil {
		return Header{}, d.fail(err)
	}
	return h, nil
}

func (d *Decoder) readHeader() (Header, error) {
	d.reset()
	d.headerDone, d.closed = false, false
	d.contentNS, d.streamQName, d.streamNS = "", "", nil
	if err := d.need(2); err != nil {
		return Header{}, err
	}
	switch b := d.buf[d.pos:]; {
	case b[0] == 0xEF:
		if err := d.need(3); err != nil {
			return Header{}, err
		}
		if d.buf[d.pos+1] == 0xBB && d.buf[d.pos+2] == 0xBF {
			d.pos += 3 // UTF-8 byte order mark
		}
	case b[0] == 0xFE || b[0] == 0xFF || b[0] == 0 || b[0] == '<' && b[1] == 0:
		return Header{}, errorf(UnsupportedEncoding, "only UTF-8 is supported")
	}
	if err := d.need(2); err != nil {
		return Header{}, err
	}
	if string(d.buf[d.pos:d.pos+2]) == "<?" {
		if err := d.need(6); err != nil {
			return Header{}, err
		}
		if string(d.buf[d.pos:d.pos+5]) == "<?xml" && isSpace(d.buf[d.pos+5]) {
			if err := d.xmlDecl(); err != nil {
				return Header{}, err
			}
		}
	}
	if _, err := d.skipSpace(); err != nil {
		return Header{}, err
	}
	if err := d.need(2); err != nil {
		return Header{}, err
	}
	if d.buf[d.pos] != '<' {
		return Header{}, errorf(NotWellFormed, "expected the stream header")
	}
	switch d.buf[d.pos+1] {
	case '!', '?':
		return Header{}, d.markupDecl()
	case '/':
		return Header{}, errorf(NotWellFormed, "unexpected end tag")
	}
	d.start = d.pos
	qs, qe, empty, err := d.startTag(true)
	if err != nil {
		return Header{}, err
	}
	all := string(d.text)
	root := d.elems[0]
	if root.space.get(all) != stanza.NSStream || root.local.get(all) != "stream" {
		return Header{}, errorf(InvalidNamespace, "root element is not <stream> in %s", stanza.NSStream)
	}
	var h Header
	for _, b := range d.ns {
		if b.def {
			h.ContentNS = own(b.uri.get(all))
		}
	}
	if !stanza.IsContentNS(h.ContentNS) {
		return Header{}, errorf(InvalidNamespace, "missing or unsupported content namespace")
	}
	for _, a := range d.attrs {
		v := own(all[a.vs:a.ve])
		name := xml.Name{Space: own(a.space.get(all)), Local: own(a.local.get(all))}
		switch {
		case name == xml.Name{Local: "to"}:
			h.To = v
		case name == xml.Name{Local: "from"}:
			h.From = v
		case name == xml.Name{Local: "id"}:
			h.ID = v
		case name == xml.Name{Local: "version"}:
			h.Version = v
		case name == xml.Name{Space: stanza.NSXML, Local: "lang"}:
			h.Lang = v
		default:
			h.Attr = append(h.Attr, stanza.Attr{Name: name, Value: v})
		}
	}
	for _, b := range d.ns {
		if b.def {
			continue
		}
		p, uri := own(string(d.rel(b.ps, b.pe))), own(b.uri.get(all))
		d.streamNS = append(d.streamNS, streamBinding{prefix: p, uri: uri})
		if uri != stanza.NSStream {
			h.Attr = append(h.Attr, stanza.Attr{Name: xml.Name{Space: "xmlns", Local: p}, Value: uri})
		}
	}
	d.contentNS = h.ContentNS
	d.streamQName = own(string(d.rel(qs, qe)))
	d.headerDone = true
	d.closed = empty
	d.reset()
	return h, nil
}

// xmlDecl reads an XML declaration (XML 1.0 production [23]) whose first
// five bytes "<?xml" are buffered. The encoding, if given, must be UTF-8.
func (d *Decoder) xmlDecl() error {
	d.pos += 5
	s := d.pos - d.start
	for {
		if err := d.need(2); err != nil {
			return err
		}
		if d.buf[d.pos] == '?' && d.buf[d.pos+1] == '>' {
			break
		}
		d.pos++
	}
	body := d.rel(s, d.pos-d.start)
	d.pos += 2
	return parseXMLDecl(body)
}

// parseXMLDecl checks the pseudo-attributes of an XML declaration.
func parseXMLDecl(b []byte) error {
	order := []string{"version", "encoding", "standalone"}
	next := 0
	for {
		j := 0
		for j < len(b) && isSpace(b[j]) {
			j++
		}
		if j == len(b) {
			break
		}
		if j == 0 {
			return errorf(NotWellFormed, "malformed XML declaration")
		}
		b = b[j:]
		k := 0
		for k < len(b) && 'a' <= b[k] && b[k] <= 'z' {
			k++
		}
		name := string(b[:k])
		b = bytes.TrimLeft(b[k:], " \t\r\n")
		if len(b) == 0 || b[0] != '=' {
			return errorf(NotWellFormed, "malformed XML declaration")
		}
		b = bytes.TrimLeft(b[1:], " \t\r\n")
		if len(b) == 0 || b[0] != '"' && b[0] != '\'' {
			return errorf(NotWellFormed, "malformed XML declaration")
		}
		end := bytes.IndexByte(b[1:], b[0])
		if end < 0 {
			return errorf(NotWellFormed, "malformed XML declaration")
		}
		val := string(b[1 : 1+end])
		b = b[2+end:]
		idx := next
		for idx < len(order) && order[idx] != name {
			idx++
		}
		if idx == len(order) || next == 0 && idx != 0 {
			return errorf(NotWellFormed, "malformed XML declaration")
		}
		next = idx + 1
		switch name {
		case "version":
			// XMPP is XML 1.0 (RFC 6120 §11); XML 1.1 changes what is
			// well-formed (control characters, line ends, names), so a
			// 1.1 document is refused rather than parsed as 1.0.
			if val != "1.0" {
				return errorf(NotWellFormed, "unsupported XML version %q: only XML 1.0 is supported", val)
			}
		case "encoding":
			if !strings.EqualFold(val, "UTF-8") {
				return errorf(UnsupportedEncoding, "only UTF-8 is supported")
			}
		case "standalone":
			if val != "yes" && val != "no" {
				return errorf(NotWellFormed, "malformed XML declaration")
			}
		}
	}
	if next == 0 {
		return errorf(NotWellFormed, "XML declaration without version")
	}
	return nil
}

// AppendHeader appends an XML declaration and the stream header h to buf.
// The stream prefix is always "stream"; an empty ContentNS means
// jabber:client. Attribute values are escaped; attributes with invalid
// names are skipped.
func AppendHeader(buf []byte, h Header) []byte {
	ns := h.ContentNS
	if ns == "" {
		ns = stanza.NSClient
	}
	buf = append(buf, "<?xml version='1.0'?><stream:stream xmlns='"...)
	buf = appendAttrValue(buf, ns)
	buf = append(buf, "' xmlns:stream='"+stanza.NSStream+"'"...)
	for _, a := range [...][2]string{{"version", h.Version}, {"from", h.From}, {"to", h.To}, {"id", h.ID}, {"xml:lang", h.Lang}} {
		if a[1] != "" {
			buf = appendAttr(buf, "", a[0], a[1])
		}
	}
	prefixes := 0
	for _, a := range h.Attr {
		l := a.Name.Local
		if !isNCName(l) {
			continue
		}
		switch a.Name.Space {
		case "xmlns":
			if l != "stream" && l != "xml" && l != "xmlns" && a.Value != "" {
				buf = appendAttr(buf, "xmlns:", l, a.Value)
			}
		case "":
			switch l {
			case "version", "from", "to", "id", "xmlns":
			default:
				buf = appendAttr(buf, "", l, a.Value)
			}
		case stanza.NSXML:
			if l != "lang" || h.Lang == "" {
				buf = appendAttr(buf, "xml:", l, a.Value)
			}
		default:
			prefixes++
			p := "ns" + strconv.Itoa(prefixes)
			buf = appendAttr(buf, "xmlns:", p, a.Name.Space)
			buf = appendAttr(buf, p+":", l, a.Value)
		}
	}
	return append(buf, '>')
}

// appendAttr appends " prefix+local='value'" with the value escaped.
func appendAttr(buf []byte, prefix, local, value string) []byte {
	buf = append(buf, ' ')
	buf = append(buf, prefix...)
	buf = append(buf, local...)
	buf = append(buf, "='"...)
	buf = appendAttrValue(buf, value)
	return append(buf, '\'')
}

// appendAttrValue escapes s for an attribute value in either kind of
// quotes. White space other than the space is written as character
// references so that attribute-value normalisation keeps it, and
// characters XML forbids become U+FFFD.
func appendAttrValue(buf []byte, s string) []byte {
	for _, r := range s {
		switch {
		case r == '&':
			buf = append(buf, "&amp;"...)
		case r == '<':
			buf = append(buf, "&lt;"...)
		case r == '>':
			buf = append(buf, "&gt;"...)
		case r == '\'':
			buf = append(buf, "&apos;"...)
		case r == '"':
			buf = append(buf, "&quot;"...)
		case r == '\t' || r == '\n' || r == '\r':
			buf = append(buf, "&#x"...)
			buf = strconv.AppendInt(buf, int64(r), 16)
			buf = append(buf, ';')
		case !isChar(r) || r == utf8.RuneError:
			buf = utf8.AppendRune(buf, utf8.RuneError)
		default:
			buf = utf8.AppendRune(buf, r)
		}
	}
	return buf
}

// isNCName reports whether s is a name without a colon.
func isNCName(s string) bool {
	for i, r := range s {
		if r == ':' || i == 0 && !isNameStart(r) || !isNameChar(r) {
			return false
		}
	}
	return s != ""
}

// own returns s as a string of its own: the constant for the values
// every stream header has, else a copy. The header's values are slices
// of the whole header's text, and a stream keeps some of them (its
// content namespace, its language) for its whole life: without a copy
// each idle session kept the whole header.
func own(s string) string {
	switch s {
	case stanza.NSClient:
		return stanza.NSClient
	case stanza.NSServer:
		return stanza.NSServer
	case stanza.NSStream:
		return stanza.NSStream
	case "stream":
		return "stream"
	case "stream:stream":
		return "stream:stream"
	case "1.0":
		return "1.0"
	case "en":
		return "en"
	}
	return strings.Clone(s)
}
