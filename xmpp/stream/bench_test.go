package stream

import (
	"encoding/xml"
	"io"
	"testing"
)

// benchMessage is a typical chat message of about 340 bytes.
const benchMessage = "<message from='juliet@capulet.example/balcony' to='romeo@montague.example/orchard' " +
	"type='chat' id='7c8a1f2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b' xml:lang='en'>" +
	"<body>Wherefore art thou, Romeo? Deny thy father &amp; refuse thy name.</body>" +
	"<thread>e0ffe42b28561960c6b12b944a092794</thread>" +
	"<active xmlns='http://jabber.org/protocol/chatstates'/></message>"

// repeater yields a stream header and then benchMessage forever.
type repeater struct {
	head []byte
	msg  []byte
	off  int
}

func newRepeater() *repeater {
	return &repeater{head: []byte(testHeader), msg: []byte(benchMessage)}
}

func (r *repeater) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.head) > 0 {
			c := copy(p[n:], r.head)
			r.head = r.head[c:]
			n += c
			continue
		}
		c := copy(p[n:], r.msg[r.off:])
		r.off = (r.off + c) % len(r.msg)
		n += c
	}
	return n, nil
}

func BenchmarkDecodeMessage(b *testing.B) {
	d := NewDecoder(newRepeater(), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	for b.Loop() {
		el, err := d.Next()
		if err != nil || el.Name.Local != "message" {
			b.Fatal(el, err)
		}
	}
}

func BenchmarkEncodingXMLOracle(b *testing.B) {
	dec := xml.NewDecoder(newRepeater())
	for {
		tok, err := dec.Token()
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := tok.(xml.StartElement); ok {
			break
		}
	}
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	for b.Loop() {
		el, err := oracleParse(dec)
		if err != nil || el.Name.Local != "message" {
			b.Fatal(el, err)
		}
	}
}

func BenchmarkParseElement(b *testing.B) {
	in := []byte(benchMessage)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseElement(in, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBenchMessageSize(t *testing.T) {
	if n := len(benchMessage); n < 300 || n > 380 {
		t.Fatalf("benchmark message is %d bytes", n)
	}
	if _, err := ParseElement([]byte(benchMessage), Limits{}); err != nil {
		t.Fatal(err)
	}
	var _ io.Reader = newRepeater()
}

func TestDecodeMessageAllocs(t *testing.T) {
	d := NewDecoder(newRepeater(), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(200, func() {
		if _, err := d.Next(); err != nil {
			t.Fatal(err)
		}
	})
	// One backing array each for the elements, attributes and nodes, and
	// one string for all text: names and namespaces here are interned.
	if n > 4 {
		t.Fatalf("%v allocations per message", n)
	}
}
