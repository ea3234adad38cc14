package roster

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
		q, err := Decode(el)
		if err != nil {
			return
		}
		q.Single()
		again, err := Decode(q.Element())
		if err != nil {
			t.Fatalf("re-decoding %s: %v", q.Element(), err)
		}
		if len(again.Items) != len(q.Items) || again.HasVer != q.HasVer || again.Ver != q.Ver {
			t.Fatalf("round trip changed %s into %s", q.Element(), again.Element())
		}
	})
}
