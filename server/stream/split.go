package stream

import (
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

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
