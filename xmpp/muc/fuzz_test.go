package muc

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/stanza"
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
		if h, err := ParseHistory(el); err == nil {
			if _, err := ParseHistory(stanza.New(NS, "x").Append(h.Element())); err != nil {
				t.Fatalf("re-parsing %s: %v", h.Element(), err)
			}
		}
		StatusCodes(el)
		for _, c := range el.Elements() {
			it := ParseItem(c)
			it.Element(NSUser)
		}
	})
}
