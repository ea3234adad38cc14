package register

import (
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// NS is the XEP-0077 namespace.
const NS = "jabber:iq:register"

// FeatureNS is the stream feature announcing in-band registration
// (XEP-0077 §4).
const FeatureNS = "http://jabber.org/features/iq-register"

// ErrInvalid is wrapped by every decoding error of this package.
var ErrInvalid = errors.New("register: invalid query")

// Query is the <query xmlns='jabber:iq:register'/> element. Only the
// fields a server for accounts uses are modelled; Other keeps the rest
// (e.g. a data form) in order.
type Query struct {
	Instructions string
	Registered   bool
	Remove       bool
	// HasUsername and HasPassword tell an absent element from an empty
	// one (XEP-0077 §3.3: an empty password must not be set).
	Username, Password       string
	HasUsername, HasPassword bool
	Other                    []*stanza.Element
}

// Element returns the <query/> element.
func (q *Query) Element() *stanza.Element {
	el := stanza.New(NS, "query")
	if q.Instructions != "" {
		el.Append(stanza.New(NS, "instructions").AppendText(q.Instructions))
	}
	if q.Registered {
		el.Append(stanza.New(NS, "registered"))
	}
	if q.HasUsername || q.Username != "" {
		el.Append(stanza.New(NS, "username").AppendText(q.Username))
	}
	if q.HasPassword || q.Password != "" {
		el.Append(stanza.New(NS, "password").AppendText(q.Password))
	}
	if q.Remove {
		el.Append(stanza.New(NS, "remove"))
	}
	for _, o := range q.Other {
		el.Append(o.Clone())
	}
	return el
}

// Parse decodes a jabber:iq:register query.
func Parse(el *stanza.Element) (*Query, error) {
	if el == nil || el.Name.Space != NS || el.Name.Local != "query" {
		return nil, fmt.Errorf("%w: not a jabber:iq:register query", ErrInvalid)
	}
	q := &Query{}
	for _, c := range el.Elements() {
		if c.Name.Space != NS {
			q.Other = append(q.Other, c)
			continue
		}
		switch c.Name.Local {
		case "instructions":
			q.Instructions = c.Text()
		case "registered":
			q.Registered = true
		case "remove":
			q.Remove = true
		case "username":
			q.Username, q.HasUsername = c.Text(), true
		case "password":
			q.Password, q.HasPassword = c.Text(), true
		default:
			q.Other = append(q.Other, c)
		}
	}
	return q, nil
}

// OnlyRemove reports whether <remove/> is the only child, as XEP-0077
// §3.2 requires of a cancellation (else <bad-request/>).
func OnlyRemove(el *stanza.Element) bool {
	kids := el.Elements()
	return len(kids) == 1 && kids[0].Name.Space == NS && kids[0].Name.Local == "remove"
}
