package auth

import (
	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/sasl"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// CheckUsername is the username policy for an account being created,
// whatever creates it: in-band registration (XEP-0077, on the stream or
// through the account service), an invitation reserving a username, the
// XEP-0133 add-user command and "parley user add". A username is the
// localpart of the account's JID (RFC 7622 §3.3): it must not be empty,
// it is enforced with the PRECIS UsernameCaseMapped profile (RFC 8265
// §3.3; so "Alice" is the account alice), and it must contain none of
// " & ' / : < > @ and no space, and be at most 1023 bytes once prepared.
// There are no reserved names. domain is the account's domain, which the
// caller has checked is served. It returns the account's bare JID, or a
// <not-acceptable/> stanza error (XEP-0077 §3.1).
//
// Paths that take a whole JID ("user@domain") parse it first; JID parsing
// applies the same localpart rules, so this adds only that the localpart
// is present.
func CheckUsername(username, domain string) (jid.JID, *stanza.Error) {
	user, err := jid.New(username, domain, "")
	if err != nil || user.Local() == "" {
		return jid.JID{}, stanza.Errorf(stanza.NotAcceptable, "the username is not valid")
	}
	return user, nil
}

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
