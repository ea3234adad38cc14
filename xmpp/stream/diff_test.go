package stream

import (
	"bytes"
	"encoding/xml"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// genXML writes a random valid element: random names, default and prefixed
// namespace declarations, attributes in several namespaces, escaped text,
// character references and CDATA sections.
type genXML struct {
	rnd *rand.Rand
	b   bytes.Buffer
}

// Vocabulary of the generator.
func genNames() []string {
	return []string{"message", "body", "x", "item", "query", "a-b", "c.d", "_e", "Ünï", "日本", "f1"}
}

func genNS() []string {
	return []string{"urn:a", "urn:b", "jabber:client", "http://jabber.org/protocol/chatstates", "urn:ü"}
}

func genText() []string {
	return []string{"hello", " ", "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#65;", "&#x263A;", "ümlaut", "日本語", "🎉",
		"]", "]]", "\n", "\t", "<![CDATA[<raw>&]]>", "<![CDATA[]]>", "'\""}
}

func (g *genXML) pick(s []string) string { return s[g.rnd.IntN(len(s))] }

func (g *genXML) quote(v string) {
	q := `"`
	if g.rnd.IntN(2) == 0 {
		q = "'"
	}
	g.b.WriteString(q)
	g.b.WriteString(strings.ReplaceAll(v, q, map[string]string{`"`: "&quot;", "'": "&apos;"}[q]))
	g.b.WriteString(q)
}

func (g *genXML) element(depth int, prefixes []string) {
	name := g.pick(genNames())
	var decls []string
	var own []string
	if g.rnd.IntN(3) == 0 {
		p := "p" + strconv.Itoa(g.rnd.IntN(3))
		decls = append(decls, " xmlns:"+p+"=")
		own = append(own, p)
	}
	inScope := append(append([]string(nil), prefixes...), own...)
	if len(inScope) > 0 && g.rnd.IntN(3) == 0 {
		name = inScope[g.rnd.IntN(len(inScope))] + ":" + name
	}
	g.b.WriteString("<" + name)
	for _, d := range decls {
		g.b.WriteString(d)
		g.quote(g.pick(genNS()))
	}
	if g.rnd.IntN(3) == 0 {
		g.b.WriteString(" xmlns=")
		g.quote(g.pick(genNS()))
	}
	used := map[string]bool{}
	for range g.rnd.IntN(4) {
		an := "a" + strconv.Itoa(g.rnd.IntN(5))
		switch g.rnd.IntN(4) {
		case 0:
			an = "xml:lang"
		case 1:
			if len(own) > 0 {
				// Prefixed attributes use only prefixes declared here, so
				// that two of them never name the same namespace.
				an = own[0] + ":" + an
			}
		}
		if used[an] {
			continue
		}
		used[an] = true
		g.b.WriteString(" " + an + "=")
		v := g.pick(genText())
		for strings.Contains(v, "<") || strings.ContainsAny(v, "\n\t") {
			v = g.pick(genText())
		}
		g.quote(v)
	}
	if depth > 4 || g.rnd.IntN(4) == 0 {
		g.b.WriteString("/>")
		return
	}
	g.b.WriteString(">")
	for range g.rnd.IntN(5) {
		if g.rnd.IntN(2) == 0 {
			g.b.WriteString(g.pick(genText()))
		} else {
			g.element(depth+1, inScope)
		}
	}
	g.b.WriteString("</" + name + ">")
}

func TestDifferentialEncodingXML(t *testing.T) {
	g := &genXML{rnd: rand.New(rand.NewPCG(1, 2))}
	for i := range 3000 {
		g.b.Reset()
		g.element(0, nil)
		in := append([]byte(nil), g.b.Bytes()...)
		want, err := oracleParse(xml.NewDecoder(bytes.NewReader(in)))
		if err != nil {
			t.Fatalf("case %d: oracle rejects %q: %v", i, in, err)
		}
		got, err := ParseElement(in, Limits{})
		if err != nil {
			t.Fatalf("case %d: %q: %v", i, in, err)
		}
		if s := treeDiff(got, want, ""); s != "" {
			t.Fatalf("case %d: %q: %s", i, in, s)
		}
		roundTrip(t, got)
		// The same element on a stream, read one byte at a time.
		d := NewDecoder(iotest.OneByteReader(strings.NewReader(testHeader+string(in))), Limits{})
		if _, err := d.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		el, err := d.Next()
		if err != nil {
			t.Fatalf("case %d: stream: %v", i, err)
		}
		// On the stream, undeclared elements are in jabber:client.
		wrapped, err := oracleParse(xml.NewDecoder(strings.NewReader("<w xmlns='jabber:client'>" + string(in) + "</w>")))
		if err != nil {
			t.Fatal(err)
		}
		if s := treeDiff(el, wrapped.FirstElement(), ""); s != "" {
			t.Fatalf("case %d: stream: %q: %s", i, in, s)
		}
	}
}
