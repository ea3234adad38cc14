package certid

import (
	"slices"
	"testing"
)

// FuzzParseOtherNames: any subjectAltName value either parses or fails;
// nothing panics, and what Extension writes always reads back.
func FuzzParseOtherNames(f *testing.F) {
	for _, ids := range []Identities{
		{DNS: []string{"a.example"}},
		{SRV: []string{"_xmpp-server.b.example"}, XmppAddr: []string{"c.example"}},
		{DNS: []string{"*.d.example"}, XmppAddr: []string{"ü.example", "e.example"}},
	} {
		ext, err := Extension(ids)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ext.Value)
	}
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x03, 0xa0, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		ids, err := parseOtherNames(der)
		if err != nil {
			return
		}
		ext, err := Extension(Identities{SRV: ids.SRV, XmppAddr: ids.XmppAddr})
		if err != nil {
			return // e.g. an xmppAddr that is not valid UTF-8 cannot be written back
		}
		again, err := parseOtherNames(ext.Value)
		if err != nil || !slices.Equal(again.SRV, ids.SRV) || !slices.Equal(again.XmppAddr, ids.XmppAddr) {
			t.Fatalf("round trip of %+v: %+v, %v", ids, again, err)
		}
	})
}
