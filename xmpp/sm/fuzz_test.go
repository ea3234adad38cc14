package sm

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
		Is(el, NameEnable)
		if e, err := ParseEnable(el); err == nil {
			if _, err := ParseEnable(e.Element()); err != nil {
				t.Fatalf("re-parsing %s: %v", e.Element(), err)
			}
		}
		if e, err := ParseEnabled(el); err == nil {
			if _, err := ParseEnabled(e.Element()); err != nil {
				t.Fatalf("re-parsing %s: %v", e.Element(), err)
			}
		}
		if r, err := ParseResume(el); err == nil {
			if again, err := ParseResume(r.Element()); err != nil || again != r {
				t.Fatalf("re-parsing %s: %v, %+v", r.Element(), err, again)
			}
		}
		if fl, err := ParseFailed(el); err == nil {
			if again, err := ParseFailed(fl.Element()); err != nil || again != fl {
				t.Fatalf("re-parsing %s: %v, %+v", fl.Element(), err, again)
			}
		}
		ParseH(el)
	})
}
