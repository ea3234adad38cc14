package stream

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// NSStreamErrors is the namespace of stream error conditions (RFC 6120 §4.9.2).
const NSStreamErrors = "urn:ietf:params:xml:ns:xmpp-streams"

// Condition is a defined stream error condition of RFC 6120 §4.9.3.
type Condition string

// The stream error conditions of RFC 6120 §4.9.3.
const (
	BadFormat              Condition = "bad-format"
	BadNamespacePrefix     Condition = "bad-namespace-prefix"
	Conflict               Condition = "conflict"
	ConnectionTimeout      Condition = "connection-timeout"
	HostGone               Condition = "host-gone"
	HostUnknown            Condition = "host-unknown"
	ImproperAddressing     Condition = "improper-addressing"
	InternalServerError    Condition = "internal-server-error"
	InvalidFrom            Condition = "invalid-from"
	InvalidNamespace       Condition = "invalid-namespace"
	InvalidXML             Condition = "invalid-xml"
	NotAuthorized          Condition = "not-authorized"
	NotWellFormed          Condition = "not-well-formed"
	PolicyViolation        Condition = "policy-violation"
	RemoteConnectionFailed Condition = "remote-connection-failed"
	Reset                  Condition = "reset"
	ResourceConstraint     Condition = "resource-constraint"
	RestrictedXML          Condition = "restricted-xml"
	SeeOtherHost           Condition = "see-other-host"
	SystemShutdown         Condition = "system-shutdown"
	UndefinedCondition     Condition = "undefined-condition"
	UnsupportedEncoding    Condition = "unsupported-encoding"
	UnsupportedFeature     Condition = "unsupported-feature"
	UnsupportedStanzaType  Condition = "unsupported-stanza-type"
	UnsupportedVersion     Condition = "unsupported-version"
)

// known reports whether c is one of the conditions defined by RFC 6120.
func (c Condition) known() bool {
	switch c {
	case BadFormat, BadNamespacePrefix, Conflict, ConnectionTimeout, HostGone,
		HostUnknown, ImproperAddressing, InternalServerError, InvalidFrom,
		InvalidNamespace, InvalidXML, NotAuthorized, NotWellFormed,
		PolicyViolation, RemoteConnectionFailed, Reset, ResourceConstraint,
		RestrictedXML, SeeOtherHost, SystemShutdown, UndefinedCondition,
		UnsupportedEncoding, UnsupportedFeature, UnsupportedStanzaType,
		UnsupportedVersion:
		return true
	}
	return false
}

// Error is a stream error (RFC 6120 §4.9). The Decoder returns one for every
// protocol fault it detects; it is also what a peer sends before closing.
type Error struct {
	Condition Condition
	Text      string          // optional human-readable description
	App       *stanza.Element // optional application-specific condition
	// OtherHost is the content of <see-other-host/>: the host (a domain
	// name or an IP address, IPv6 in brackets), optionally with a port,
	// that the client should connect to instead (RFC 6120 §4.9.3.19).
	OtherHost string
}

// errorf returns an *Error with a formatted description.
func errorf(c Condition, format string, args ...any) *Error {
	return &Error{Condition: c, Text: fmt.Sprintf(format, args...)}
}

// Error implements error.
func (e *Error) Error() string {
	if e.Text == "" {
		return "stream error: " + string(e.Condition)
	}
	return "stream error: " + string(e.Condition) + ": " + e.Text
}

// Is reports whether target is an *Error with the same condition, so that
// errors.Is(err, &stream.Error{Condition: stream.PolicyViolation}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Condition == e.Condition
}

// Element returns the <stream:error/> element: the condition in the
// urn:ietf:params:xml:ns:xmpp-streams namespace, then the optional <text/>
// and application-specific element (RFC 6120 §4.9.2).
func (e *Error) Element() *stanza.Element {
	c := e.Condition
	if c == "" {
		c = UndefinedCondition
	}
	el := stanza.New(stanza.NSStream, "error")
	cond := stanza.New(NSStreamErrors, string(c))
	if c == SeeOtherHost && e.OtherHost != "" {
		cond.AppendText(e.OtherHost)
	}
	el.Append(cond)
	if e.Text != "" {
		t := stanza.New(NSStreamErrors, "text")
		t.SetNS(stanza.NSXML, "lang", "en")
		el.Append(t.AppendText(e.Text))
	}
	return el.Append(e.App)
}

// ParseStreamError reads a received <stream:error/> element. It returns nil
// if el is not a stream error. An unknown or missing condition is reported
// as UndefinedCondition, as RFC 6120 §4.9.3.21 requires.
func ParseStreamError(el *stanza.Element) *Error {
	if el == nil || el.Name != (xml.Name{Space: stanza.NSStream, Local: "error"}) {
		return nil
	}
	e := &Error{}
	for _, c := range el.Elements() {
		switch {
		case c.Name.Space == NSStreamErrors && c.Name.Local == "text":
			e.Text = c.Text()
		case c.Name.Space == NSStreamErrors:
			if e.Condition == "" {
				e.Condition = Condition(c.Name.Local)
				if e.Condition == SeeOtherHost {
					e.OtherHost = strings.TrimSpace(c.Text())
				}
			}
		case e.App == nil:
			e.App = c
		}
	}
	if !e.Condition.known() {
		e.Condition = UndefinedCondition
	}
	return e
}
