package stanzaid

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
		All(el)
		OriginID(el)
		Find(el, "montague.example")
		Strip(el.Clone(), func(by string) bool { return by == "montague.example" })
		m := el.Clone()
		Add(m, StanzaID{ID: "x", By: "montague.example"})
		if Find(m, "montague.example") != "x" {
			t.Fatalf("Add did not add: %s", m)
		}
	})
}
