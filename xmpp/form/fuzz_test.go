package form

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
		Find(el, "")
		Find(el, "urn:xmpp:mam:2")
		fm, err := Parse(el)
		if err != nil {
			return
		}
		fm.FormType()
		again, err := Parse(fm.Element())
		if err != nil {
			t.Fatalf("re-parsing %s: %v", fm.Element(), err)
		}
		if len(again.Fields) != len(fm.Fields) {
			t.Fatalf("round trip changed the field count: %d, then %d", len(fm.Fields), len(again.Fields))
		}
	})
}
