package bind2

import (
	"errors"
	"fmt"
	"strings"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// NS is the Bind 2 namespace (XEP-0386).
const NS = "urn:xmpp:bind:0"

// ErrInvalid is wrapped by every decoding error of this package.
var ErrInvalid = errors.New("bind2: invalid element")

// MaxTagLen bounds the client's tag (in bytes): it becomes part of a
// resource, whose own limit is 1023 bytes.
const MaxTagLen = 64

// Feature returns the SASL2 inline <bind/> feature listing the namespaces
// of the session features that can be enabled inline.
func Feature(inline []string) *stanza.Element {
	el := stanza.New(NS, "bind")
	if len(inline) > 0 {
		in := stanza.New(NS, "inline")
		for _, v := range inline {
			in.Append(stanza.New(NS, "feature", "var", v))
		}
		el.Append(in)
	}
	return el
}

// ParseFeature returns the inline feature namespaces of a <bind/> feature.
func ParseFeature(el *stanza.Element) []string {
	in := el.Child(NS, "inline")
	if in == nil {
		return nil
	}
	var out []string
	for _, f := range in.ChildrenNamed(NS, "feature") {
		if v := f.Get("var"); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// Request is the client's <bind/> inside a SASL2 <authenticate/>.
type Request struct {
	// Tag names the client software (it may be empty).
	Tag string
	// Features are the requests of session features to enable inline
	// (XEP-0198 <enable/>, XEP-0280 <enable/>, XEP-0352 <inactive/>, ...).
	Features []*stanza.Element
}

// Element encodes the request.
func (r Request) Element() *stanza.Element {
	el := stanza.New(NS, "bind")
	if r.Tag != "" {
		el.Append(stanza.New(NS, "tag").AppendText(r.Tag))
	}
	return el.Append(r.Features...)
}

// ParseRequest decodes a <bind/> request.
func ParseRequest(el *stanza.Element) (Request, error) {
	var r Request
	seenTag := false
	for _, c := range el.Elements() {
		switch {
		case c.Name.Space == NS && c.Name.Local == "tag":
			if seenTag {
				return Request{}, fmt.Errorf("%w: two tags", ErrInvalid)
			}
			seenTag = true
			r.Tag = strings.TrimSpace(c.Text())
		case c.Name.Space == NS:
			return Request{}, fmt.Errorf("%w: unexpected <%s/> in <bind/>", ErrInvalid, c.Name.Local)
		default:
			r.Features = append(r.Features, c)
		}
	}
	return r, nil
}

// Bound returns the <bound/> result carrying the results of inline
// features.
func Bound(results ...*stanza.Element) *stanza.Element {
	return stanza.New(NS, "bound").Append(results...)
}

// Resource returns the resource "tag/id" (XEP-0386 §3.3.1), or id alone
// when the tag is empty or cannot be part of a resource (it is then
// dropped rather than failing the login). id must be a valid resource.
func Resource(user jid.JID, tag, id string) string {
	if tag == "" || len(tag) > MaxTagLen {
		return id
	}
	res := tag + "/" + id
	full, err := user.WithResource(res)
	if err != nil {
		return id
	}
	return full.Resource()
}
