package mam

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/stream"
)

// FuzzDecode feeds arbitrary XML to the decoders of this package: none may
// panic, and what they accept must survive an encode/decode round trip
// where the package has an encoder. Seeds: testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		el, err := stream.ParseElement(data, stream.Limits{MaxStanzaBytes: 1 << 16, MaxDepth: 32})
		if err != nil {
			return
		}
		if q, err := ParseQuery(el); err == nil {
			if _, err := ParseQuery(q.Element()); err != nil {
				t.Fatalf("re-parsing %s: %v", q.Element(), err)
			}
		}
		ParseResult(el)
		ParseFin(el)
		if p, err := ParsePrefs(el); err == nil {
			if _, err := ParsePrefs(p.Element()); err != nil {
				t.Fatalf("re-parsing %s: %v", p.Element(), err)
			}
		}
		ParseMetadata(el)
		for _, c := range el.Elements() {
			ParseResult(c)
			ParseFin(c)
			ParsePrefs(c)
			ParseMetadata(c)
		}
	})
}
