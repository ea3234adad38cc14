package fast

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
		ParseFeature(el).Element()
		ParseRequestToken(el)
		if a, err := ParseAuth(el); err == nil {
			if again, err := ParseAuth(a.Element()); err != nil || again != a {
				t.Fatalf("re-parsing %s: %v, %+v", a.Element(), err, again)
			}
		}
		ParseToken(el)
	})
}
