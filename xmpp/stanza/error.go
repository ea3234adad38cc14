package stanza

import "fmt"

// Error types of RFC 6120 §8.3.2.
const (
	ErrAuth     = "auth"
	ErrCancel   = "cancel"
	ErrContinue = "continue"
	ErrModify   = "modify"
	ErrWait     = "wait"
)

// Condition is a defined stanza error condition of RFC 6120 §8.3.3.
type Condition string

// The defined conditions of RFC 6120 §8.3.3.
const (
	BadRequest            Condition = "bad-request"
	Conflict              Condition = "conflict"
	FeatureNotImplemented Condition = "feature-not-implemented"
	Forbidden             Condition = "forbidden"
	Gone                  Condition = "gone"
	InternalServerError   Condition = "internal-server-error"
	ItemNotFound          Condition = "item-not-found"
	JIDMalformed          Condition = "jid-malformed"
	NotAcceptable         Condition = "not-acceptable"
	NotAllowed            Condition = "not-allowed"
	NotAuthorized         Condition = "not-authorized"
	PolicyViolation       Condition = "policy-violation"
	RecipientUnavailable  Condition = "recipient-unavailable"
	Redirect              Condition = "redirect"
	RegistrationRequired  Condition = "registration-required"
	RemoteServerNotFound  Condition = "remote-server-not-found"
	RemoteServerTimeout   Condition = "remote-server-timeout"
	ResourceConstraint    Condition = "resource-constraint"
	ServiceUnavailable    Condition = "service-unavailable"
	SubscriptionRequired  Condition = "subscription-required"
	UndefinedCondition    Condition = "undefined-condition"
	UnexpectedRequest     Condition = "unexpected-request"
)

// DefaultType returns the error type RFC 6120 §8.3.3 gives for c.
func (c Condition) DefaultType() string {
	switch c {
	case BadRequest, JIDMalformed, NotAcceptable, PolicyViolation, Redirect:
		return ErrModify
	case Forbidden, NotAuthorized, RegistrationRequired, SubscriptionRequired:
		return ErrAuth
	case RecipientUnavailable, RemoteServerTimeout, ResourceConstraint, UnexpectedRequest:
		return ErrWait
	}
	return ErrCancel
}

// Error is a stanza error; it implements error so handlers can return it.
type Error struct {
	Type      string // empty means Condition.DefaultType()
	Condition Condition
	Text      string
	By        string
	App       *Element // an application-specific condition, optional
}

// Errorf returns an *Error with the condition's default type and a text.
func Errorf(c Condition, format string, args ...any) *Error {
	return &Error{Condition: c, Text: fmt.Sprintf(format, args...)}
}

// Err returns an *Error with the condition's default type and no text.
func Err(c Condition) *Error { return &Error{Condition: c} }

// Error implements error.
func (e *Error) Error() string {
	if e.Text != "" {
		return string(e.Condition) + ": " + e.Text
	}
	return string(e.Condition)
}

// Element returns the <error/> element.
func (e *Error) Element() *Element {
	typ := e.Type
	if typ == "" {
		typ = e.Condition.DefaultType()
	}
	el := New(NSClient, "error", "type", typ)
	if e.By != "" {
		el.Set("by", e.By)
	}
	el.Append(New(NSStanzas, string(e.Condition)))
	if e.Text != "" {
		t := New(NSStanzas, "text")
		t.SetNS(NSXML, "lang", "en")
		el.Append(t.AppendText(e.Text))
	}
	return el.Append(e.App)
}

// ParseError reads the <error/> child of an error stanza; it returns nil
// when there is none.
func ParseError(st *Element) *Error {
	el := st.Child("", "error")
	if el == nil || !IsContentNS(el.Name.Space) {
		return nil
	}
	e := &Error{Type: el.Get("type"), By: el.Get("by")}
	for _, c := range el.Elements() {
		switch {
		case c.Name.Space == NSStanzas && c.Name.Local == "text":
			e.Text = c.Text()
		case c.Name.Space == NSStanzas && e.Condition == "":
			e.Condition = Condition(c.Name.Local)
		case c.Name.Space != NSStanzas:
			e.App = c
		}
	}
	if e.Condition == "" {
		e.Condition = UndefinedCondition
	}
	return e
}

// ErrorReply builds the error response to st (RFC 6120 §8.3.1): the same
// kind and id, to and from swapped, type "error", the original payload kept
// for messages and presence and for IQ requests.
func ErrorReply(st *Element, e *Error) *Element {
	r := &Element{Name: st.Name}
	r.Name.Space = NSClient
	for _, a := range st.Attr {
		switch {
		case a.Name.Space == "" && (a.Name.Local == "to" || a.Name.Local == "from" || a.Name.Local == "type"):
		default:
			r.Attr = append(r.Attr, a)
		}
	}
	r.Set("type", TypeError)
	if f := st.From(); f != "" {
		r.Set("to", f)
	}
	if t := st.To(); t != "" {
		r.Set("from", t)
	}
	for _, n := range st.Children {
		if n.Elem != nil && n.Elem.Name.Local == "error" && IsContentNS(n.Elem.Name.Space) {
			continue
		}
		if n.Elem != nil {
			r.Children = append(r.Children, Node{Elem: n.Elem.Clone()})
		}
	}
	return r.Append(e.Element())
}

// MayBounce reports whether an error may be sent in reply to st: never for
// an error stanza (RFC 6120 §8.3.1) nor for an IQ result.
func MayBounce(st *Element) bool {
	t := st.Type()
	return t != TypeError && !(KindOf(st) == KindIQ && t == TypeResult)
}
