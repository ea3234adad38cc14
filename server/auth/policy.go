package auth

import (
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// CheckPassword is the password policy for a password a user chooses
// (in-band registration before authentication, XEP-0077 password change,
// registration through the account service): it must not be empty, must
// pass the PRECIS OpaqueString profile SCRAM applies (RFC 8265 §4.2), and
// must have at least minLength characters once prepared. A refusal is a
// <not-acceptable/> stanza error (XEP-0077 §3.1), nil means acceptable.
func CheckPassword(password string, minLength int) *stanza.Error {
	if password == "" {
		return stanza.Errorf(stanza.NotAcceptable, "a password is required")
	}
	prep, err := sasl.PreparePassword(password)
	if err != nil {
		return stanza.Errorf(stanza.NotAcceptable, "the password contains characters that are not allowed")
	}
	if len([]rune(prep)) < minLength {
		return stanza.Errorf(stanza.NotAcceptable, "the password must have at least %d characters", minLength)
	}
	return nil
}
