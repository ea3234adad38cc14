package stream

import (
	"strings"
	"testing"
	"testing/iotest"
)

func TestPendingData(t *testing.T) {
	for _, tc := range []struct {
		after string
		want  bool
	}{
		{"", false},
		{"\r\n ", false},
		{" <iq type='get' id='x'/>", true},
	} {
		in := testHeader + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + tc.after
		d := NewDecoder(strings.NewReader(in), Limits{})
		if _, err := d.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Next(); err != nil {
			t.Fatal(err)
		}
		if got := d.PendingData(); got != tc.want {
			t.Fatalf("after %q: PendingData() = %v", tc.after, got)
		}
		if d.Buffered() != len(tc.after) {
			t.Fatalf("after %q: Buffered() = %d", tc.after, d.Buffered())
		}
	}
}

// A stream restart without a new transport (after SASL success) reads the
// new header from the same decoder, keeping what is already buffered.
func TestReadHeaderAgain(t *testing.T) {
	in := testHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>" +
		"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0' id='second'>" +
		"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>"
	d := NewDecoder(iotest.HalfReader(strings.NewReader(in)), Limits{MaxElements: 32})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if el, err := d.Next(); err != nil || el.Name.Local != "auth" || el.Text() != "AGEAYg==" {
		t.Fatalf("%v %v", el, err)
	}
	d.SetLimits(Limits{})
	h, err := d.ReadHeader()
	if err != nil || h.ID != "second" {
		t.Fatalf("%+v %v", h, err)
	}
	el, err := d.Next()
	if err != nil || el.FirstElement().Name.Space != "urn:ietf:params:xml:ns:xmpp-bind" {
		t.Fatalf("%v %v", el, err)
	}
}
