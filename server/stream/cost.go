package stream

import "github.com/parley-xmpp/parley/xmpp/stanza"

// What the Go values of a stanza tree cost beyond their strings, roughly:
// an Element with the Node that holds it, an Attr, a text Node.
const (
	elementCost = 112
	attrCost    = 48
	textCost    = 24
)

// stanzaCost estimates the memory a queued stanza holds: its elements,
// attributes and text, each with its bookkeeping. A session's queue is
// bounded by the sum (Limits.OutboundQueueBytes). It walks the tree and
// allocates nothing; namespace strings, shared between stanzas, are not
// counted.
func stanzaCost(e *stanza.Element) int {
	n := elementCost + len(e.Name.Local)
	for i := range e.Attr {
		n += attrCost + len(e.Attr[i].Name.Local) + len(e.Attr[i].Value)
	}
	for i := range e.Children {
		if ch := e.Children[i].Elem; ch != nil {
			n += stanzaCost(ch)
		} else {
			n += textCost + len(e.Children[i].Text)
		}
	}
	return n
}
