package pubsub_test

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/form"
	"github.com/parley-xmpp/parley/xmpp/pubsub"
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
		if ev, err := pubsub.ParseEvent(el); err == nil {
			ev.Element()
		}
		pubsub.ParseItem(el)
		if fm, err := form.Parse(el); err == nil {
			c := pubsub.DefaultService()
			if err := c.Apply(fm); err == nil {
				c.Meets(fm)
				pubsub.ConfigFromValues(pubsub.DefaultPEP(), c.Values())
			}
		}
	})
}
