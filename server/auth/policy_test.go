package auth

import (
	"testing"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// TestCheckPassword: the registration password policy refuses empty,
// short and unpreparable passwords with <not-acceptable/>, counting
// characters of the prepared password.
func TestCheckPassword(t *testing.T) {
	for _, c := range []struct {
		pw string
		ok bool
	}{
		{"", false},
		{"abc", false},                       // too short
		{"abcd", true},                       // exactly the minimum
		{"pass\u0007word", false},            // a control character: OpaqueString refuses it
		{"\u00e9t\u00e9\u00e9t\u00e9", true}, // four characters, eight bytes
		{"e\u0301t\u00e9", false},            // four runes, three characters once NFC-prepared
	} {
		err := CheckPassword(c.pw, 4)
		if (err == nil) != c.ok || err != nil && err.Condition != stanza.NotAcceptable {
			t.Errorf("CheckPassword(%q) = %v, want ok=%v", c.pw, err, c.ok)
		}
	}
}
