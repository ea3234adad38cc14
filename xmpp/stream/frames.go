package stream

import (
	"bytes"
	"errors"
)

// ErrIncomplete is returned by ElementEnd when b holds no complete
// element.
var ErrIncomplete = errors.New("stream: incomplete element")

// ElementEnd returns the length of the first top-level element of b, as
// this module's writer serialises elements (no comments or processing
// instructions; '<' and '>' escaped in text and attribute values). Framed
// transports (XMPP over WebSocket, BOSH) use it to send each element on
// its own.
func ElementEnd(b []byte) (int, error) {
	depth := 0
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 {
			break
		}
		i += j
		k := bytes.IndexByte(b[i:], '>')
		if k < 0 {
			break
		}
		tag := b[i : i+k+1]
		i += k + 1
		switch {
		case bytes.HasPrefix(tag, []byte("</")):
			depth--
		case bytes.HasSuffix(tag, []byte("/>")):
		default:
			depth++
		}
		if depth == 0 {
			return i, nil
		}
	}
	return 0, ErrIncomplete
}

// WithDefaultNS returns el, one serialised element, with a default
// namespace declaration of ns added to its start tag when the tag has
// neither a prefix nor a default namespace declaration: what an element
// needs to stand alone outside the stream that gave it its namespace.
func WithDefaultNS(el []byte, ns string) []byte {
	end := bytes.IndexAny(el, " />")
	if end < 1 || el[0] != '<' || bytes.IndexByte(el[1:end], ':') >= 0 {
		return el
	}
	tagEnd := bytes.IndexByte(el, '>')
	if tagEnd < 0 || bytes.Contains(el[:tagEnd], []byte(` xmlns="`)) || bytes.Contains(el[:tagEnd], []byte(` xmlns='`)) {
		return el
	}
	out := make([]byte, 0, len(el)+len(ns)+10)
	out = append(out, el[:end]...)
	out = append(out, ` xmlns="`...)
	out = append(out, ns...)
	out = append(out, '"')
	return append(out, el[end:]...)
}
