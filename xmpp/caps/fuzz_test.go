package caps

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/disco"
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
		Parse(el)
		if info, err := disco.ParseInfo(el); err == nil {
			Check(info)
			VerificationString(info)
			if _, err := Ver(info, SHA1); err != nil {
				t.Fatal(err)
			}
		}
	})
}
