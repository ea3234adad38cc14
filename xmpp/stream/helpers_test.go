package stream

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

const testHeader = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " +
	"xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>"

// decodeAll reads a header and then elements until an error; it returns the
// serialised elements and the final error.
func decodeAll(r io.Reader, lim Limits) ([]string, error) {
	d := NewDecoder(r, lim)
	if _, err := d.ReadHeader(); err != nil {
		return nil, err
	}
	var out []string
	for {
		el, err := d.Next()
		if err != nil {
			return out, err
		}
		out = append(out, string(el.AppendXML(nil, "")))
	}
}

// condition returns the stream error condition of err, or "".
func condition(err error) Condition {
	var se *Error
	if errors.As(err, &se) {
		return se.Condition
	}
	return ""
}

// treeDiff reports the first difference between two trees, treating the
// content namespaces as one (the writer moves stanzas between them).
func treeDiff(a, b *stanza.Element, path string) string {
	path += "/" + a.Name.Local
	sameNS := a.Name.Space == b.Name.Space || stanza.IsContentNS(a.Name.Space) && stanza.IsContentNS(b.Name.Space)
	if a.Name.Local != b.Name.Local || !sameNS {
		return fmt.Sprintf("%s: name %v vs %v", path, a.Name, b.Name)
	}
	if len(a.Attr) != len(b.Attr) {
		return fmt.Sprintf("%s: attrs %v vs %v", path, a.Attr, b.Attr)
	}
	for i := range a.Attr {
		if a.Attr[i] != b.Attr[i] {
			return fmt.Sprintf("%s: attr %v vs %v", path, a.Attr[i], b.Attr[i])
		}
	}
	if len(a.Children) != len(b.Children) {
		return fmt.Sprintf("%s: %d vs %d children", path, len(a.Children), len(b.Children))
	}
	for i := range a.Children {
		x, y := a.Children[i], b.Children[i]
		switch {
		case (x.Elem == nil) != (y.Elem == nil):
			return fmt.Sprintf("%s: child %d kind differs", path, i)
		case x.Elem == nil && x.Text != y.Text:
			return fmt.Sprintf("%s: text %q vs %q", path, x.Text, y.Text)
		case x.Elem != nil:
			if s := treeDiff(x.Elem, y.Elem, path); s != "" {
				return s
			}
		}
	}
	return ""
}

// oracleParse builds a tree with encoding/xml: namespace declarations are
// dropped and adjacent character data merged, as the decoder does.
func oracleParse(dec *xml.Decoder) (*stanza.Element, error) {
	var stack []*stanza.Element
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			el := &stanza.Element{Name: t.Name}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
					continue
				}
				el.Attr = append(el.Attr, stanza.Attr{Name: a.Name, Value: a.Value})
			}
			if n := len(stack); n > 0 {
				stack[n-1].Children = append(stack[n-1].Children, stanza.Node{Elem: el})
			}
			stack = append(stack, el)
		case xml.EndElement:
			el := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return el, nil
			}
		case xml.CharData:
			if len(stack) == 0 || len(t) == 0 {
				continue
			}
			top := stack[len(stack)-1]
			if n := len(top.Children); n > 0 && top.Children[n-1].Elem == nil {
				top.Children[n-1].Text += string(t)
			} else {
				top.Children = append(top.Children, stanza.Node{Text: string(t)})
			}
		}
	}
}

// roundTrip checks that el re-serialises and re-parses to an equal tree.
func roundTrip(t testing.TB, el *stanza.Element) {
	t.Helper()
	out := el.AppendXML(nil, "")
	back, err := ParseElement(out, Limits{MaxStanzaBytes: 1 << 30, MaxDepth: 1 << 20})
	if err != nil {
		t.Fatalf("re-parse of %q: %v", out, err)
	}
	if s := treeDiff(el, back, ""); s != "" {
		t.Fatalf("round trip of %q differs: %s", out, s)
	}
}

// stringsReader returns a fresh reader over the header and body.
func stringsReader(body string) io.Reader { return strings.NewReader(testHeader + body) }

func xmlName(space, local string) xml.Name { return xml.Name{Space: space, Local: local} }
