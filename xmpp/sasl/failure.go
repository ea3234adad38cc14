package sasl

import (
	"errors"
	"strings"
)

// SASL failure conditions of RFC 6120 §6.5, used as [Failure.Condition].
const (
	Aborted              = "aborted"
	AccountDisabled      = "account-disabled"
	CredentialsExpired   = "credentials-expired"
	EncryptionRequired   = "encryption-required"
	IncorrectEncoding    = "incorrect-encoding"
	InvalidAuthzid       = "invalid-authzid"
	InvalidMechanism     = "invalid-mechanism"
	MalformedRequest     = "malformed-request"
	MechanismTooWeak     = "mechanism-too-weak"
	NotAuthorized        = "not-authorized"
	TemporaryAuthFailure = "temporary-auth-failure"
)

// ErrUnknownUser is returned (possibly wrapped) by a credential lookup when
// the user does not exist or has no credentials for the requested hash.
var ErrUnknownUser = errors.New("sasl: unknown user")

// ErrInvalidProof is the cause (Failure.Err) of a server-side failure
// whose exchange was complete and well-formed but whose proof of the
// password was wrong (or whose user is unknown, which is not told apart):
// the only kind of failure that is a password guess. Every other failure
// (malformed messages, refused channel binding, downgrade detection) is
// not.
var ErrInvalidProof = errors.New("sasl: invalid proof")

// ErrServerSignature is returned by a SCRAM client when the server-final
// message's verifier does not match: the server does not know the password.
var ErrServerSignature = errors.New("sasl: server signature mismatch")

// ErrDowngrade is returned by a SCRAM client when the XEP-0474 downgrade
// protection hash does not match the lists the client saw (or is missing
// while required).
var ErrDowngrade = errors.New("sasl: downgrade protection check failed")

// ErrProtocol is returned (wrapped with details) by a client mechanism when
// the server's message is malformed or violates the mechanism's rules, e.g.
// a SCRAM nonce that does not extend the client nonce or a too-low
// iteration count.
var ErrProtocol = errors.New("sasl: protocol violation")

// Failure is a server-side authentication failure carrying an RFC 6120 §6.5
// condition name and optional human-readable text. Err, when set, is the
// underlying cause (not meant to be sent to the peer).
type Failure struct {
	Condition string
	Text      string
	Err       error
}

// Error implements error.
func (f *Failure) Error() string {
	var b strings.Builder
	b.WriteString("sasl: ")
	b.WriteString(f.Condition)
	if f.Text != "" {
		b.WriteString(": ")
		b.WriteString(f.Text)
	}
	if f.Err != nil {
		b.WriteString(": ")
		b.WriteString(f.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying cause.
func (f *Failure) Unwrap() error { return f.Err }

func fail(cond, text string) *Failure { return &Failure{Condition: cond, Text: text} }

// ServerError is returned by a SCRAM client when the server-final message
// carries an "e=" server-error value (RFC 5802 §7), e.g. "invalid-proof".
type ServerError struct {
	Value string
}

// Error implements error.
func (e *ServerError) Error() string { return "sasl: server error: " + e.Value }
