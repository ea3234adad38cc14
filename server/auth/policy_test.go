package auth

import (
	"strings"
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

// badUsernames are refused by the username policy: empty, a space,
// characters RFC 7622 forbids in a localpart, a control character, a
// compatibility character PRECIS refuses, and 1024 bytes.
var badUsernames = []string{"", "bad user", "a<b", "a:b", "a@b", "a/b", "x\u0007", "\u2163", strings.Repeat("a", 1024)}

// TestCheckUsername: the username policy of every account creation
// refuses bad localparts with <not-acceptable/> and returns the account's
// bare JID, case-mapped, for good ones.
func TestCheckUsername(t *testing.T) {
	for _, u := range badUsernames {
		if j, e := CheckUsername(u, "localhost"); e == nil || e.Condition != stanza.NotAcceptable {
			t.Errorf("CheckUsername(%q) = %v, %v; want <not-acceptable/>", u, j, e)
		}
	}
	for u, want := range map[string]string{
		"alice": "alice@localhost", "Alice": "alice@localhost", "\u00c9lodie": "\u00e9lodie@localhost",
		strings.Repeat("a", 1023): strings.Repeat("a", 1023) + "@localhost",
	} {
		if j, e := CheckUsername(u, "localhost"); e != nil || j.String() != want {
			t.Errorf("CheckUsername(%q) = %v, %v; want %s", u, j, e, want)
		}
	}
}
