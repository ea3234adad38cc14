package stream

import (
	"bytes"
	"encoding/xml"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Reserved namespace names (Namespaces in XML 1.0 §3).
const nsXMLNS = "http://www.w3.org/2000/xmlns/"

// reset clears the per-element state before a stanza or header is parsed.
func (d *Decoder) reset() {
	d.text = d.text[:0]
	d.elems = d.elems[:0]
	d.attrs = d.attrs[:0]
	d.nodes = d.nodes[:0]
	d.kids = d.kids[:0]
	d.stack = d.stack[:0]
	d.ns = d.ns[:0]
	d.count = 0
}

// element parses one complete element starting at d.pos, which is d.start
// and holds '<' followed by a name.
func (d *Decoder) element() error {
	d.reset()
	if _, _, _, err := d.startTag(false); err != nil {
		return err
	}
	for len(d.stack) > 0 {
		if err := d.need(1); err != nil {
			return err
		}
		if d.buf[d.pos] != '<' {
			ts := len(d.text)
			if err := d.charData(); err != nil {
				return err
			}
			d.addText(ts)
			continue
		}
		if err := d.need(2); err != nil {
			return err
		}
		var err error
		switch d.buf[d.pos+1] {
		case '/':
			err = d.endTag()
		case '?':
			err = d.markupDecl()
		case '!':
			err = d.bang()
		default:
			_, _, _, err = d.startTag(false)
		}
		if err != nil {
			return err
		}
	}
	if d.pos-d.start > d.lim.MaxStanzaBytes {
		return errorf(PolicyViolation, "stanza larger than %d bytes", d.lim.MaxStanzaBytes)
	}
	return nil
}

// bang handles "<!" inside an element: a CDATA section, or an error.
func (d *Decoder) bang() error {
	const open = "<![CDATA["
	if err := d.need(3); err != nil {
		return err
	}
	if d.buf[d.pos+2] != '[' {
		return d.markupDecl()
	}
	if err := d.need(len(open)); err != nil {
		return err
	}
	if string(d.buf[d.pos:d.pos+len(open)]) != open {
		return errorf(NotWellFormed, "unexpected markup")
	}
	d.pos += len(open)
	ts := len(d.text)
	if err := d.cdata(); err != nil {
		return err
	}
	d.addText(ts)
	return nil
}

// addText records d.text[ts:] as a text child of the open element, merged
// with a text child that immediately precedes it.
func (d *Decoder) addText(ts int) {
	te := len(d.text)
	if te == ts {
		return
	}
	top := &d.stack[len(d.stack)-1]
	if n := len(d.kids); n > top.kidMark && d.kids[n-1].elem < 0 && d.kids[n-1].te == ts {
		d.kids[n-1].te = te
		return
	}
	d.kids = append(d.kids, nodeRec{elem: -1, ts: ts, te: te})
}

// startTag parses a start tag or empty-element tag at d.pos. For the
// stream header the element is recorded but not opened. It returns the
// offsets of the qualified name and whether the tag was an empty-element tag.
func (d *Decoder) startTag(header bool) (qs, qe int, empty bool, err error) {
	d.pos++
	qs, qc, qe, err := d.qname()
	if err != nil {
		return qs, qe, false, err
	}
	if !header {
		d.count++
		if d.lim.MaxElements > 0 && d.count > d.lim.MaxElements {
			return qs, qe, false, errorf(PolicyViolation, "more than %d elements in a stanza", d.lim.MaxElements)
		}
		if len(d.stack)+1 > d.lim.MaxDepth {
			return qs, qe, false, errorf(PolicyViolation, "elements nested deeper than %d", d.lim.MaxDepth)
		}
	}
	nsMark := len(d.ns)
	d.raw = d.raw[:0]
	for {
		space, err := d.skipSpace()
		if err != nil {
			return qs, qe, false, err
		}
		if err := d.need(1); err != nil {
			return qs, qe, false, err
		}
		c := d.buf[d.pos]
		if c == '>' {
			d.pos++
			break
		}
		if c == '/' {
			d.pos++
			if err := d.expect('>', "'>' after '/'"); err != nil {
				return qs, qe, false, err
			}
			empty = true
			break
		}
		if !space {
			return qs, qe, false, errorf(NotWellFormed, "expected white space, '>' or '/>' in tag")
		}
		if err := d.attribute(nsMark); err != nil {
			return qs, qe, false, err
		}
	}

	// Resolve the element name now that all declarations are known.
	var space str
	local := qs
	if qc < 0 {
		space = d.defaultNS()
	} else {
		if string(d.rel(qs, qc)) == "xmlns" {
			return qs, qe, false, errorf(NotWellFormed, "element with the reserved prefix xmlns")
		}
		var ok bool
		if space, ok = d.lookup(qs, qc); !ok {
			return qs, qe, false, errorf(NotWellFormed, "unbound namespace prefix %.40q", d.rel(qs, qc))
		}
		local = qc + 1
	}
	idx := len(d.elems)
	d.elems = append(d.elems, elemRec{space: space, local: d.nameStr(local, qe), a0: len(d.attrs)})
	for _, a := range d.raw {
		var as str
		local := a.qs
		if a.qc >= 0 {
			var ok bool
			if as, ok = d.lookup(a.qs, a.qc); !ok {
				return qs, qe, false, errorf(NotWellFormed, "unbound namespace prefix %.40q", d.rel(a.qs, a.qc))
			}
			local = a.qc + 1
		}
		d.attrs = append(d.attrs, attrRec{space: as, local: d.nameStr(local, a.qe), vs: a.vs, ve: a.ve})
	}
	d.elems[idx].na = len(d.attrs) - d.elems[idx].a0
	if err := d.checkDuplicates(d.attrs[d.elems[idx].a0:]); err != nil {
		return qs, qe, false, err
	}
	if header {
		return qs, qe, empty, nil
	}
	if len(d.stack) > 0 {
		d.kids = append(d.kids, nodeRec{elem: idx})
	}
	if empty {
		d.ns = d.ns[:nsMark]
		return qs, qe, empty, nil
	}
	d.stack = append(d.stack, openRec{elem: idx, qs: qs, qe: qe, nsMark: nsMark, kidMark: len(d.kids)})
	return qs, qe, empty, nil
}

// attribute parses one attribute; namespace declarations become bindings.
func (d *Decoder) attribute(nsMark int) error {
	as, ac, ae, err := d.qname()
	if err != nil {
		return err
	}
	if _, err := d.skipSpace(); err != nil {
		return err
	}
	if err := d.expect('=', "'=' after attribute name"); err != nil {
		return err
	}
	if _, err := d.skipSpace(); err != nil {
		return err
	}
	vs, ve, err := d.attrValue()
	if err != nil {
		return err
	}
	isDefault := ac < 0 && string(d.rel(as, ae)) == "xmlns"
	if !isDefault && (ac < 0 || string(d.rel(as, ac)) != "xmlns") {
		d.raw = append(d.raw, rawAttr{qs: as, qc: ac, qe: ae, vs: vs, ve: ve})
		return nil
	}
	value := d.text[vs:ve]
	uri := str{off: vs, end: ve}
	if s, ok := internNS(value); ok {
		uri = lit(s)
		d.text = d.text[:vs]
	}
	if string(value) == nsXMLNS {
		return errorf(NotWellFormed, "the xmlns namespace must not be declared")
	}
	if isDefault {
		if string(value) == stanza.NSXML {
			return errorf(NotWellFormed, "the xml namespace must not be the default namespace")
		}
		for _, b := range d.ns[nsMark:] {
			if b.def {
				return errorf(NotWellFormed, "duplicate attribute xmlns")
			}
		}
		d.ns = append(d.ns, nsRec{def: true, uri: uri})
		return nil
	}
	prefix := d.rel(ac+1, ae)
	switch {
	case string(prefix) == "xmlns":
		return errorf(NotWellFormed, "the xmlns prefix must not be declared")
	case string(prefix) == "xml":
		if uri.off < 0 && uri.s == stanza.NSXML {
			return nil
		}
		return errorf(NotWellFormed, "the xml prefix must not be bound to another namespace")
	case uri.off < 0 && uri.s == stanza.NSXML:
		return errorf(NotWellFormed, "the xml namespace must not be bound to another prefix")
	case ve == vs:
		return errorf(NotWellFormed, "prefix %.40q bound to the empty namespace", prefix)
	}
	for _, b := range d.ns[nsMark:] {
		if !b.def && bytes.Equal(d.rel(b.ps, b.pe), prefix) {
			return errorf(NotWellFormed, "duplicate declaration of prefix %.40q", prefix)
		}
	}
	if len(d.ns) >= maxBindings {
		return errorf(PolicyViolation, "more than %d namespace declarations in scope", maxBindings)
	}
	d.ns = append(d.ns, nsRec{ps: ac + 1, pe: ae, uri: uri})
	return nil
}

// lookup resolves the prefix at relative offsets [ps, pe).
func (d *Decoder) lookup(ps, pe int) (str, bool) {
	p := d.rel(ps, pe)
	for i := len(d.ns) - 1; i >= 0; i-- {
		if b := &d.ns[i]; !b.def && bytes.Equal(d.rel(b.ps, b.pe), p) {
			return b.uri, true
		}
	}
	if string(p) == "xml" {
		return lit(stanza.NSXML), true
	}
	for _, b := range d.streamNS {
		if b.prefix == string(p) {
			return lit(b.uri), true
		}
	}
	return str{}, false
}

// defaultNS returns the default namespace in scope, including the
// declarations of the element being parsed.
func (d *Decoder) defaultNS() str {
	for i := len(d.ns) - 1; i >= 0; i-- {
		if d.ns[i].def {
			return d.ns[i].uri
		}
	}
	return lit(d.contentNS)
}

// nameStr returns the local name at relative offsets [s, e), interned or
// copied into the stanza's text.
func (d *Decoder) nameStr(s, e int) str {
	b := d.rel(s, e)
	if n, ok := internName(b); ok {
		return lit(n)
	}
	off := len(d.text)
	d.text = append(d.text, b...)
	return str{off: off, end: len(d.text)}
}

// strEq compares two strs of the current stanza.
func (d *Decoder) strEq(a, b str) bool {
	switch {
	case a.off < 0 && b.off < 0:
		return a.s == b.s
	case a.off < 0:
		return a.s == string(d.text[b.off:b.end])
	case b.off < 0:
		return b.s == string(d.text[a.off:a.end])
	}
	return bytes.Equal(d.text[a.off:a.end], d.text[b.off:b.end])
}

// checkDuplicates rejects two attributes with the same expanded name
// (XML 1.0 WFC Unique Att Spec; Namespaces in XML §6.3).
func (d *Decoder) checkDuplicates(as []attrRec) error {
	if len(as) <= 16 {
		for i := 1; i < len(as); i++ {
			for j := 0; j < i; j++ {
				if d.strEq(as[i].local, as[j].local) && d.strEq(as[i].space, as[j].space) {
					return errorf(NotWellFormed, "duplicate attribute")
				}
			}
		}
		return nil
	}
	seen := make(map[xml.Name]struct{}, len(as))
	all := string(d.text)
	for _, a := range as {
		n := xml.Name{Space: a.space.get(all), Local: a.local.get(all)}
		if _, dup := seen[n]; dup {
			return errorf(NotWellFormed, "duplicate attribute")
		}
		seen[n] = struct{}{}
	}
	return nil
}

// endTag parses an end tag and closes the innermost open element.
func (d *Decoder) endTag() error {
	d.pos += 2
	s, _, e, err := d.name()
	if err != nil {
		return err
	}
	top := d.stack[len(d.stack)-1]
	if !bytes.Equal(d.rel(s, e), d.rel(top.qs, top.qe)) {
		return errorf(NotWellFormed, "end tag %.40q does not match start tag %.40q", d.rel(s, e), d.rel(top.qs, top.qe))
	}
	if _, err := d.skipSpace(); err != nil {
		return err
	}
	if err := d.expect('>', "'>' to end the end tag"); err != nil {
		return err
	}
	rec := &d.elems[top.elem]
	rec.k0 = len(d.nodes)
	d.nodes = append(d.nodes, d.kids[top.kidMark:]...)
	rec.nk = len(d.nodes) - rec.k0
	d.kids = d.kids[:top.kidMark]
	d.ns = d.ns[:top.nsMark]
	d.stack = d.stack[:len(d.stack)-1]
	return nil
}

// stanzaSpare is the room left after a stanza's attributes (see build).
const stanzaSpare = 2

// build turns the records of the parsed element into a stanza.Element.
// All strings share one allocation and the elements, attributes and nodes
// one backing array each.
func (d *Decoder) build() *stanza.Element {
	all := string(d.text)
	els := make([]stanza.Element, len(d.elems))
	// The stanza's own attributes come first; room for stanzaSpare more
	// follows them, so that a server stamping 'from' (and xml:lang) does
	// not copy the whole attribute array to grow it.
	root := &d.elems[0]
	spare := 0
	if root.a0 == 0 {
		spare = stanzaSpare
	}
	attrs := make([]stanza.Attr, len(d.attrs)+spare)
	for i, a := range d.attrs {
		j := i
		if i >= root.na {
			j += spare
		}
		attrs[j] = stanza.Attr{Name: xml.Name{Space: a.space.get(all), Local: a.local.get(all)}, Value: all[a.vs:a.ve]}
	}
	var nodes []stanza.Node
	if len(d.nodes) > 0 {
		nodes = make([]stanza.Node, len(d.nodes))
		for i, n := range d.nodes {
			if n.elem >= 0 {
				nodes[i].Elem = &els[n.elem]
			} else {
				nodes[i].Text = all[n.ts:n.te]
			}
		}
	}
	for i := range d.elems {
		r := &d.elems[i]
		e := &els[i]
		e.Name = xml.Name{Space: r.space.get(all), Local: r.local.get(all)}
		switch {
		case i == 0 && spare > 0:
			e.Attr = attrs[0 : r.na : r.na+spare]
		case r.na > 0 && r.a0 >= root.na:
			e.Attr = attrs[r.a0+spare : r.a0+spare+r.na : r.a0+spare+r.na]
		case r.na > 0:
			e.Attr = attrs[r.a0 : r.a0+r.na : r.a0+r.na]
		}
		if r.nk > 0 {
			e.Children = nodes[r.k0 : r.k0+r.nk : r.k0+r.nk]
		}
	}
	return &els[0]
}

// closeTag parses the stream's closing tag at the top level.
func (d *Decoder) closeTag() error {
	d.pos += 2
	s, _, e, err := d.name()
	if err != nil {
		return err
	}
	if string(d.rel(s, e)) != d.streamQName {
		return errorf(NotWellFormed, "end tag %.40q does not match the stream header", d.rel(s, e))
	}
	if _, err := d.skipSpace(); err != nil {
		return err
	}
	return d.expect('>', "'>' to end the closing stream tag")
}
