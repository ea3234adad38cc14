package stanza

// Kind is the kind of a top-level stanza.
type Kind uint8

// The three stanza kinds of RFC 6120 §8, and KindOther for any other element.
const (
	KindOther Kind = iota
	KindMessage
	KindPresence
	KindIQ
)

// String returns the element name of the kind.
func (k Kind) String() string {
	switch k {
	case KindMessage:
		return "message"
	case KindPresence:
		return "presence"
	case KindIQ:
		return "iq"
	}
	return "other"
}

// KindOf returns the kind of a top-level element in a content namespace.
func KindOf(e *Element) Kind {
	if !IsContentNS(e.Name.Space) {
		return KindOther
	}
	switch e.Name.Local {
	case "message":
		return KindMessage
	case "presence":
		return KindPresence
	case "iq":
		return KindIQ
	}
	return KindOther
}

// Stanza type attribute values (RFC 6120 §8.2.3, RFC 6121 §4.7.1, §5.2.2).
const (
	// IQ types.
	TypeGet    = "get"
	TypeSet    = "set"
	TypeResult = "result"
	TypeError  = "error"

	// Message types; "normal" is also the meaning of an absent type.
	TypeChat      = "chat"
	TypeGroupchat = "groupchat"
	TypeHeadline  = "headline"
	TypeNormal    = "normal"

	// Presence types; an absent type means available.
	TypeUnavailable  = "unavailable"
	TypeSubscribe    = "subscribe"
	TypeSubscribed   = "subscribed"
	TypeUnsubscribe  = "unsubscribe"
	TypeUnsubscribed = "unsubscribed"
	TypeProbe        = "probe"
)

// ID returns the id attribute.
func (e *Element) ID() string { return e.Get("id") }

// Type returns the type attribute.
func (e *Element) Type() string { return e.Get("type") }

// To returns the raw to attribute.
func (e *Element) To() string { return e.Get("to") }

// From returns the raw from attribute.
func (e *Element) From() string { return e.Get("from") }

// MessageType returns the message type with an absent or unknown type read
// as "normal" (RFC 6121 §5.2.2).
func (e *Element) MessageType() string {
	switch t := e.Type(); t {
	case TypeChat, TypeGroupchat, TypeHeadline, TypeError:
		return t
	}
	return TypeNormal
}

// IsRequest reports whether e is an IQ of type get or set.
func (e *Element) IsRequest() bool {
	t := e.Type()
	return KindOf(e) == KindIQ && (t == TypeGet || t == TypeSet)
}

// Payload returns the first child element of an IQ, which RFC 6120 §8.2.3
// says is its only one for get and set.
func (e *Element) Payload() *Element { return e.FirstElement() }

// Result builds the empty result of the IQ request e, addressed back to its
// sender, with payload as its child when non-nil.
func Result(e *Element, payload *Element) *Element {
	r := New(NSClient, "iq", "type", TypeResult, "id", e.ID())
	if f := e.From(); f != "" {
		r.Set("to", f)
	}
	if t := e.To(); t != "" {
		r.Set("from", t)
	}
	return r.Append(payload)
}

// NewIQ builds an IQ of the given type with a payload.
func NewIQ(typ, id, to string, payload *Element) *Element {
	r := New(NSClient, "iq", "type", typ, "id", id)
	if to != "" {
		r.Set("to", to)
	}
	return r.Append(payload)
}

// NewMessage builds a message with an optional body.
func NewMessage(typ, to, body string) *Element {
	m := New(NSClient, "message", "to", to)
	if typ != "" {
		m.Set("type", typ)
	}
	if body != "" {
		m.Append(New(NSClient, "body").AppendText(body))
	}
	return m
}
