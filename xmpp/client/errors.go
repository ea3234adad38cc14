package client

import (
	"errors"
	"strings"
)

// ErrClosed is reported by Err, Send and Recv once the stream has been
// closed in an orderly way (by Close or by the server's closing tag).
var ErrClosed = errors.New("client: stream closed")

// AuthError is a SASL authentication failure (RFC 6120 §6.5): the server
// answered <failure/> with Condition (e.g. "not-authorized") and optional
// Text.
type AuthError struct {
	Mechanism string
	Condition string
	Text      string
}

// Error implements error.
func (e *AuthError) Error() string {
	var b strings.Builder
	b.WriteString("authentication failed: ")
	b.WriteString(e.Condition)
	if e.Text != "" {
		b.WriteString(" (")
		b.WriteString(e.Text)
		b.WriteString(")")
	}
	if e.Mechanism != "" {
		b.WriteString(" [")
		b.WriteString(e.Mechanism)
		b.WriteString("]")
	}
	return b.String()
}
