package stream

import (
	"bytes"
	"errors"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// ElementEnd returns the length of the first top-level element of b, as
// the engine serialises elements for Transport.Write (no comments, '<'
// and '>' escaped in text and attribute values). Transports that carry
// one element per message (WebSocket) or qualify each element (BOSH) use
// it to split what Write receives.
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
	return 0, errors.New("stream: an incomplete element was written")
}

// WithClientNS returns el, one top-level element split with ElementEnd,
// with xmlns="jabber:client" inserted after its name when its start tag
// has neither a prefix nor a default namespace declaration: written on
// its own, or inside a foreign wrapper, the element keeps its namespace.
func WithClientNS(el []byte) []byte {
	end := bytes.IndexAny(el, " />")
	if end < 0 || bytes.IndexByte(el[1:end], ':') >= 0 {
		return el
	}
	tagEnd := bytes.IndexByte(el, '>')
	if bytes.Contains(el[:tagEnd], []byte(` xmlns="`)) {
		return el
	}
	out := make([]byte, 0, len(el)+24)
	out = append(out, el[:end]...)
	out = append(out, ` xmlns="jabber:client"`...)
	return append(out, el[end:]...)
}

// AppendStandalone appends el as it stands on its own, outside a
// <stream:stream> element: an element of the streams namespace
// (<stream:features/>, <stream:error/>) with the stream prefix declared
// on itself and its children in jabber:client's scope, any other element
// with its namespace. For Transport.AppendStreamElement of transports
// without a stream element (WebSocket messages, BOSH bodies).
func AppendStandalone(buf []byte, el *stanza.Element) []byte {
	if el.Name.Space != stanza.NSStream {
		return el.AppendXML(buf, "")
	}
	buf = append(buf, "<stream:"...)
	buf = append(buf, el.Name.Local...)
	buf = append(buf, ` xmlns:stream="`+stanza.NSStream+`">`...)
	for _, ch := range el.Elements() {
		buf = ch.AppendXML(buf, stanza.NSClient)
	}
	buf = append(buf, "</stream:"...)
	buf = append(buf, el.Name.Local...)
	return append(buf, '>')
}
