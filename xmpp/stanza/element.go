package stanza

import (
	"encoding/xml"
	"strings"
	"sync/atomic"
)

// Namespaces used throughout XMPP.
const (
	NSClient    = "jabber:client"
	NSServer    = "jabber:server"
	NSComponent = "jabber:component:accept"
	NSStream    = "http://etherx.jabber.org/streams"
	NSStanzas   = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSXML       = "http://www.w3.org/XML/1998/namespace"
)

// IsContentNS reports whether ns is one of the namespaces stanzas carry on a
// stream (jabber:client, jabber:server, jabber:component:accept). Elements in
// these namespaces are written in whichever of them the receiving stream uses.
func IsContentNS(ns string) bool {
	return ns == NSClient || ns == NSServer || ns == NSComponent
}

// Attr is one attribute. Name.Space is the attribute's namespace URI (empty
// for the usual unqualified attributes, NSXML for xml:lang).
type Attr struct {
	Name  xml.Name
	Value string
}

// Node is one child of an element: either a child element or character data.
type Node struct {
	Elem *Element
	Text string
}

// Element is a namespace-resolved XML element. Namespace declarations are
// not kept as attributes: Name.Space carries the resolved URI and the writer
// emits declarations as needed.
type Element struct {
	Name     xml.Name
	Attr     []Attr
	Children []Node

	cache atomic.Pointer[[]byte]
}

// New returns an element with the given namespace, local name and
// unqualified attributes given as name/value pairs.
func New(space, local string, attrs ...string) *Element {
	e := &Element{Name: xml.Name{Space: space, Local: local}}
	for i := 0; i+1 < len(attrs); i += 2 {
		e.Attr = append(e.Attr, Attr{Name: xml.Name{Local: attrs[i]}, Value: attrs[i+1]})
	}
	return e
}

// Get returns the value of the unqualified attribute local, or "".
func (e *Element) Get(local string) string {
	for _, a := range e.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// Has reports whether the unqualified attribute local is present.
func (e *Element) Has(local string) bool {
	for _, a := range e.Attr {
		if a.Name.Space == "" && a.Name.Local == local {
			return true
		}
	}
	return false
}

// Set sets the unqualified attribute local; an empty value removes it.
// It returns e for chaining.
func (e *Element) Set(local, value string) *Element {
	return e.SetNS("", local, value)
}

// SetNS sets a namespaced attribute; an empty value removes it.
func (e *Element) SetNS(space, local, value string) *Element {
	e.invalidate()
	for i, a := range e.Attr {
		if a.Name.Space == space && a.Name.Local == local {
			if value == "" {
				e.Attr = append(e.Attr[:i], e.Attr[i+1:]...)
			} else {
				e.Attr[i].Value = value
			}
			return e
		}
	}
	if value != "" {
		e.Attr = append(e.Attr, Attr{Name: xml.Name{Space: space, Local: local}, Value: value})
	}
	return e
}

// Lang returns the element's own xml:lang attribute, or "".
func (e *Element) Lang() string {
	for _, a := range e.Attr {
		if a.Name.Space == NSXML && a.Name.Local == "lang" {
			return a.Value
		}
	}
	return ""
}

// Child returns the first child element with the given namespace and local
// name, or nil. An empty space matches any namespace.
func (e *Element) Child(space, local string) *Element {
	for _, n := range e.Children {
		if n.Elem != nil && n.Elem.Name.Local == local && (space == "" || n.Elem.Name.Space == space) {
			return n.Elem
		}
	}
	return nil
}

// ChildrenNamed returns every child element with the given name; an empty
// space matches any namespace.
func (e *Element) ChildrenNamed(space, local string) []*Element {
	var out []*Element
	for _, n := range e.Children {
		if n.Elem != nil && n.Elem.Name.Local == local && (space == "" || n.Elem.Name.Space == space) {
			out = append(out, n.Elem)
		}
	}
	return out
}

// Elements returns every child element in document order.
func (e *Element) Elements() []*Element {
	out := make([]*Element, 0, len(e.Children))
	for _, n := range e.Children {
		if n.Elem != nil {
			out = append(out, n.Elem)
		}
	}
	return out
}

// FirstElement returns the first child element, or nil.
func (e *Element) FirstElement() *Element {
	for _, n := range e.Children {
		if n.Elem != nil {
			return n.Elem
		}
	}
	return nil
}

// Text returns the concatenated character data directly inside e.
func (e *Element) Text() string {
	if len(e.Children) == 1 {
		return e.Children[0].Text
	}
	var b strings.Builder
	for _, n := range e.Children {
		if n.Elem == nil {
			b.WriteString(n.Text)
		}
	}
	return b.String()
}

// ChildText returns the text of the first child with the given name, or "".
func (e *Element) ChildText(space, local string) string {
	if c := e.Child(space, local); c != nil {
		return c.Text()
	}
	return ""
}

// Append adds child elements and returns e.
func (e *Element) Append(children ...*Element) *Element {
	e.invalidate()
	for _, c := range children {
		if c != nil {
			e.Children = append(e.Children, Node{Elem: c})
		}
	}
	return e
}

// AppendText adds character data and returns e.
func (e *Element) AppendText(s string) *Element {
	e.invalidate()
	if s != "" {
		e.Children = append(e.Children, Node{Text: s})
	}
	return e
}

// SetText replaces all children with the character data s.
func (e *Element) SetText(s string) *Element {
	e.invalidate()
	e.Children = e.Children[:0]
	return e.AppendText(s)
}

// RemoveChildren removes every child element with the given name (an empty
// space matches any namespace) and reports how many were removed.
func (e *Element) RemoveChildren(space, local string) int {
	e.invalidate()
	kept := e.Children[:0]
	removed := 0
	for _, n := range e.Children {
		if n.Elem != nil && n.Elem.Name.Local == local && (space == "" || n.Elem.Name.Space == space) {
			removed++
			continue
		}
		kept = append(kept, n)
	}
	for i := len(kept); i < len(e.Children); i++ {
		e.Children[i] = Node{}
	}
	e.Children = kept
	return removed
}

// Clone returns a deep copy of e, without the cached serialisation.
func (e *Element) Clone() *Element {
	if e == nil {
		return nil
	}
	c := &Element{Name: e.Name}
	if len(e.Attr) > 0 {
		c.Attr = append([]Attr(nil), e.Attr...)
	}
	if len(e.Children) > 0 {
		c.Children = make([]Node, len(e.Children))
		for i, n := range e.Children {
			if n.Elem != nil {
				c.Children[i] = Node{Elem: n.Elem.Clone()}
			} else {
				c.Children[i] = n
			}
		}
	}
	return c
}

// Bytes returns the serialisation of e in the jabber:client scope. It is
// computed once and cached, so a stanza delivered to many recipients is
// serialised once; any mutation through this package's methods drops the
// cache. Callers must not modify the returned slice.
func (e *Element) Bytes() []byte {
	if p := e.cache.Load(); p != nil {
		return *p
	}
	b := e.AppendXML(nil, NSClient)
	e.cache.Store(&b)
	return b
}

// AppendBytes appends the serialisation of e in the jabber:client scope to
// buf: the cached one if Bytes has computed it, else one written straight
// into buf and not cached. A transport writing a stanza for one recipient
// uses it to serialise into its write buffer without allocating; whoever
// hands one stanza to several recipients calls Bytes first so that it is
// serialised once.
func (e *Element) AppendBytes(buf []byte) []byte {
	if p := e.cache.Load(); p != nil {
		return append(buf, *p...)
	}
	return e.AppendXML(buf, NSClient)
}

// String returns the serialisation of e in the jabber:client scope.
func (e *Element) String() string { return string(e.Bytes()) }

func (e *Element) invalidate() { e.cache.Store(nil) }
