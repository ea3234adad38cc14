package stanza

import (
	"strconv"
	"unicode/utf8"
)

// AppendXML appends the serialisation of e to buf and returns the extended
// buffer. scope is the default namespace in force where e is written: for a
// top-level stanza it is the stream's content namespace. Elements in a
// content namespace (see IsContentNS) written inside a content-namespace
// scope take that scope, which is how a stanza crosses from jabber:client to
// jabber:server. Text and attribute values are escaped so that the output is
// always well-formed, whatever the tree holds.
func (e *Element) AppendXML(buf []byte, scope string) []byte {
	buf = append(buf, '<')
	buf = append(buf, e.Name.Local...)
	inner := scope
	switch {
	case e.Name.Space == scope:
	case IsContentNS(e.Name.Space) && IsContentNS(scope):
	default:
		buf = append(buf, ` xmlns="`...)
		buf = appendEscaped(buf, e.Name.Space, true)
		buf = append(buf, '"')
		inner = e.Name.Space
	}
	prefixes := 0
	for _, a := range e.Attr {
		buf = append(buf, ' ')
		switch a.Name.Space {
		case "":
		case NSXML:
			buf = append(buf, "xml:"...)
		default:
			prefixes++
			p := "ns" + strconv.Itoa(prefixes)
			buf = append(buf, "xmlns:"...)
			buf = append(buf, p...)
			buf = append(buf, `="`...)
			buf = appendEscaped(buf, a.Name.Space, true)
			buf = append(buf, `" `...)
			buf = append(buf, p...)
			buf = append(buf, ':')
		}
		buf = append(buf, a.Name.Local...)
		buf = append(buf, `="`...)
		buf = appendEscaped(buf, a.Value, true)
		buf = append(buf, '"')
	}
	if len(e.Children) == 0 {
		return append(buf, "/>"...)
	}
	buf = append(buf, '>')
	for _, n := range e.Children {
		if n.Elem != nil {
			buf = n.Elem.AppendXML(buf, inner)
		} else {
			buf = appendEscaped(buf, n.Text, false)
		}
	}
	buf = append(buf, "</"...)
	buf = append(buf, e.Name.Local...)
	return append(buf, '>')
}

// appendEscaped writes s escaped for text or attribute content. Characters
// that XML 1.0 forbids are replaced with U+FFFD so that the output stays
// well-formed even for a tree built by code from untrusted strings.
func appendEscaped(buf []byte, s string, attr bool) []byte {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			var esc string
			switch c {
			case '&':
				esc = "&amp;"
			case '<':
				esc = "&lt;"
			case '>':
				esc = "&gt;"
			case '"':
				if attr {
					esc = "&quot;"
				}
			case '\'':
				if attr {
					esc = "&apos;"
				}
			case '\r':
				esc = "&#xD;"
			case '\n':
				if attr {
					esc = "&#xA;"
				}
			case '\t':
				if attr {
					esc = "&#x9;"
				}
			default:
				if c < 0x20 {
					esc = "\uFFFD"
				}
			}
			if esc != "" {
				buf = append(buf, s[last:i]...)
				buf = append(buf, esc...)
				last = i + 1
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == 0xFFFE || r == 0xFFFF || (r >= 0xD800 && r <= 0xDFFF) {
			buf = append(buf, s[last:i]...)
			buf = append(buf, "\uFFFD"...)
			last = i + size
		}
		i += size
	}
	return append(buf, s[last:]...)
}
