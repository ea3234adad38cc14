package stream

import (
	"errors"
	"testing"
)

func TestElementEnd(t *testing.T) {
	for in, want := range map[string]int{
		`<a/>`:                        4,
		`<a/><b/>`:                    4,
		`<a x="1&gt;2"><b/>t</a><c/>`: 23,
		`<stream:features xmlns:stream="s"><x xmlns="y"/></stream:features>rest`: 66,
	} {
		if n, err := ElementEnd([]byte(in)); err != nil || n != want {
			t.Errorf("ElementEnd(%q) = %d, %v; want %d", in, n, err, want)
		}
	}
	for _, in := range []string{``, `<a>`, `<a><b/>`, `text`} {
		if _, err := ElementEnd([]byte(in)); !errors.Is(err, ErrIncomplete) {
			t.Errorf("ElementEnd(%q) = %v, want ErrIncomplete", in, err)
		}
	}
}

func TestWithDefaultNS(t *testing.T) {
	for in, want := range map[string]string{
		`<message to="a"><body>x</body></message>`: `<message xmlns="jabber:client" to="a"><body>x</body></message>`,
		`<presence/>`:                         `<presence xmlns="jabber:client"/>`,
		`<iq>`:                                `<iq xmlns="jabber:client">`,
		`<r xmlns="urn:xmpp:sm:3"/>`:          `<r xmlns="urn:xmpp:sm:3"/>`,
		`<stream:features xmlns:stream="s"/>`: `<stream:features xmlns:stream="s"/>`,
		`<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`: `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>`,
	} {
		if got := string(WithDefaultNS([]byte(in), "jabber:client")); got != want {
			t.Errorf("WithDefaultNS(%q) = %q, want %q", in, got, want)
		}
	}
}
