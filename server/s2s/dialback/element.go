package dialback

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Kind says which dialback element a Message is.
type Kind int

// The two dialback elements (XEP-0220 §2).
const (
	// Result is <db:result/>: a key offered by an initiating server, or
	// the receiving server's verdict on it.
	Result Kind = iota + 1
	// Verify is <db:verify/>: a receiving server asking the
	// authoritative server about a key, or its answer.
	Verify
)

func (k Kind) local() string {
	if k == Verify {
		return "verify"
	}
	return "result"
}

// The values of the 'type' attribute of an answer.
const (
	TypeValid   = "valid"
	TypeInvalid = "invalid"
	TypeError   = "error"
)

// Message is a dialback element, a request (Type empty, Key set) or an
// answer (Type set).
type Message struct {
	Kind Kind
	// From and To are domains: for a request, the sender domain and the
	// target domain; an answer swaps them.
	From, To string
	// ID is the stream ID a <db:verify/> is about; empty for <db:result/>.
	ID string
	// Type is "" for a request, else TypeValid, TypeInvalid or TypeError.
	Type string
	// Key is the dialback key of a request.
	Key string
	// Err is the error of a TypeError answer (XEP-0220 §2.4), nil for
	// none.
	Err *stanza.Error
}

// maxKey bounds a key's length: keys derived as XEP-0185 says take 64
// characters; other servers' schemes stay far below this.
const maxKey = 1024

// Parse reads a <db:result/> or <db:verify/> element. It refuses one
// whose from or to is not a domain, a request without a key, a
// <db:verify/> without an id and an unknown type: the caller answers
// with the stream error the situation calls for (RFC 6120 §4.9.3).
func Parse(el *stanza.Element) (Message, error) {
	if el == nil || el.Name.Space != NS {
		return Message{}, fmt.Errorf("dialback: not a dialback element")
	}
	var m Message
	switch el.Name.Local {
	case "result":
		m.Kind = Result
	case "verify":
		m.Kind = Verify
	default:
		return Message{}, fmt.Errorf("dialback: unknown element <%s/>", el.Name.Local)
	}
	m.From, m.To, m.ID, m.Type = el.Get("from"), el.Get("to"), el.Get("id"), el.Get("type")
	for _, d := range []string{m.From, m.To} {
		j, err := jid.Parse(d)
		if err != nil || j.Local() != "" || j.Resource() != "" || j.Domain() != d {
			return Message{}, fmt.Errorf("dialback: %q is not a domain", d)
		}
	}
	if m.Kind == Verify && m.ID == "" {
		return Message{}, fmt.Errorf("dialback: <db:verify/> without an id")
	}
	switch m.Type {
	case "":
		m.Key = strings.TrimSpace(el.Text())
		if m.Key == "" || len(m.Key) > maxKey {
			return Message{}, fmt.Errorf("dialback: request without a usable key")
		}
	case TypeValid, TypeInvalid:
	case TypeError:
		m.Err = stanza.ParseError(el)
	default:
		return Message{}, fmt.Errorf("dialback: unknown type %q", m.Type)
	}
	return m, nil
}

// Element returns m as an element in the dialback namespace.
func (m Message) Element() *stanza.Element {
	el := stanza.New(NS, m.Kind.local(), "from", m.From, "to", m.To)
	if m.ID != "" {
		el.Set("id", m.ID)
	}
	if m.Type != "" {
		el.Set("type", m.Type)
	}
	if m.Key != "" && m.Type == "" {
		el.AppendText(m.Key)
	}
	if m.Type == TypeError && m.Err != nil {
		el.Append(m.Err.Element())
	}
	return el
}

// Answer returns the answer to request m: from and to swapped, the same
// id, and the verdict; for TypeError, err says why.
func (m Message) Answer(valid bool, err *stanza.Error) Message {
	a := Message{Kind: m.Kind, From: m.To, To: m.From, ID: m.ID, Type: TypeInvalid}
	switch {
	case err != nil:
		a.Type, a.Err = TypeError, err
	case valid:
		a.Type = TypeValid
	}
	return a
}

// AppendXML appends m to buf with the "db" prefix, as XEP-0220 writes it
// and as some servers still expect: the stream header must declare
// xmlns:db='jabber:server:dialback'.
func (m Message) AppendXML(buf []byte) []byte {
	local := m.Kind.local()
	buf = append(buf, "<db:"...)
	buf = append(buf, local...)
	for _, a := range [...][2]string{{"from", m.From}, {"to", m.To}, {"id", m.ID}, {"type", m.Type}} {
		if a[1] == "" {
			continue
		}
		buf = append(buf, ' ')
		buf = append(buf, a[0]...)
		buf = append(buf, "='"...)
		buf = append(buf, xmlEscape(a[1])...)
		buf = append(buf, '\'')
	}
	var body []byte
	switch {
	case m.Type == "" && m.Key != "":
		body = []byte(xmlEscape(m.Key))
	case m.Type == TypeError && m.Err != nil:
		body = m.Err.Element().AppendXML(nil, stanza.NSServer)
	}
	if body == nil {
		return append(buf, "/>"...)
	}
	buf = append(buf, '>')
	buf = append(buf, body...)
	buf = append(buf, "</db:"...)
	buf = append(buf, local...)
	return append(buf, '>')
}

// xmlEscape escapes s for an attribute value or character data.
func xmlEscape(s string) string {
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		return ""
	}
	return b.String() // quotes and apostrophes are escaped too
}
