package stream

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// What a stream keeps of its header does not hold on to the header's
// text: the usual values are the constants, the others copies.
func TestHeaderValuesOwnTheirMemory(t *testing.T) {
	in := "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0' xml:lang='en' from='someone@example.com'>"
	d := NewDecoder(strings.NewReader(in), Limits{})
	h, err := d.ReadHeader()
	if err != nil {
		t.Fatal(err)
	}
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	for _, c := range []struct{ name, got, want string }{
		{"content namespace", d.contentNS, stanza.NSClient},
		{"header content namespace", h.ContentNS, stanza.NSClient},
		{"stream name", d.streamQName, "stream:stream"},
		{"language", h.Lang, "en"},
		{"version", h.Version, "1.0"},
	} {
		if c.got != c.want || !same(c.got, c.want) {
			t.Errorf("%s %q is not the constant %q", c.name, c.got, c.want)
		}
	}
	if h.From != "someone@example.com" || h.To != "example.com" {
		t.Errorf("from %q, to %q", h.From, h.To)
	}
}
