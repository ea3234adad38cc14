package stanza

// What the Go values of an element tree cost beyond their strings,
// roughly: an Element with the Node that holds it, an Attr, a text Node.
const (
	elementMemCost = 112
	attrMemCost    = 48
	textMemCost    = 24
)

// MemSize estimates the memory e's tree holds: its elements, attributes
// and text, each with its bookkeeping. Queues that hold stanzas are
// bounded by the sum. It walks the tree and allocates nothing; namespace
// strings, shared between elements, are not counted.
func (e *Element) MemSize() int {
	n := elementMemCost + len(e.Name.Local)
	for i := range e.Attr {
		n += attrMemCost + len(e.Attr[i].Name.Local) + len(e.Attr[i].Value)
	}
	for i := range e.Children {
		if ch := e.Children[i].Elem; ch != nil {
			n += ch.MemSize()
		} else {
			n += textMemCost + len(e.Children[i].Text)
		}
	}
	return n
}
