package carbons

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/jid"
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
		Eligible(el, Sent)
		Eligible(el, Received)
		own := jid.MustParse("romeo@montague.example/home")
		if d, inner, err := Unwrap(el, own); err == nil {
			if inner == nil {
				t.Fatal("Unwrap accepted a carbon without returning its message")
			}
			Wrap(d, own, own, inner)
		}
	})
}
