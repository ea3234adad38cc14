package roster

import (
	"encoding/xml"
	"fmt"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Namespaces of the roster protocol.
const (
	// NS is the roster query namespace (RFC 6121 §2.1).
	NS = "jabber:iq:roster"
	// NSVersioning is the roster versioning stream feature (RFC 6121 §2.6.1).
	NSVersioning = "urn:xmpp:features:rosterver"
	// NSPreApproval is the subscription pre-approval stream feature
	// (RFC 6121 §3.4.1).
	NSPreApproval = "urn:xmpp:features:pre-approval"
)

// Values of the item 'subscription' and 'ask' attributes (RFC 6121 §2.1.2).
const (
	SubNone   = "none"
	SubTo     = "to"
	SubFrom   = "from"
	SubBoth   = "both"
	SubRemove = "remove"
	AskSub    = "subscribe"
)

// Item is one roster item (RFC 6121 §2.1.2).
type Item struct {
	JID          jid.JID
	Name         string
	Subscription string // none, to, from, both, or remove in a roster set; "" when absent
	Ask          string // "subscribe" when a subscription request is pending-out
	Approved     bool   // the subscription was pre-approved (RFC 6121 §3.4)
	Groups       []string
}

// Query is a <query xmlns='jabber:iq:roster'/> element.
type Query struct {
	// Ver is the roster version (RFC 6121 §2.6); HasVer tells an empty
	// 'ver' attribute (a client bootstrapping versioning) from none.
	Ver    string
	HasVer bool
	Items  []Item
}

// Decode reads a roster query. Every problem is returned as a
// *stanza.Error with the condition RFC 6121 §2.3.3 gives it: an item
// without a valid 'jid' or with a duplicate group is a <bad-request/>, an
// empty group name is <not-acceptable/>.
func Decode(el *stanza.Element) (*Query, error) {
	if el == nil || el.Name.Space != NS || el.Name.Local != "query" {
		return nil, stanza.Errorf(stanza.BadRequest, "not a roster query")
	}
	q := &Query{Ver: el.Get("ver"), HasVer: el.Has("ver")}
	for _, ie := range el.Elements() {
		if ie.Name.Space != NS || ie.Name.Local != "item" {
			continue
		}
		it, err := decodeItem(ie)
		if err != nil {
			return nil, err
		}
		q.Items = append(q.Items, it)
	}
	return q, nil
}

func decodeItem(el *stanza.Element) (Item, error) {
	raw := el.Get("jid")
	if raw == "" {
		return Item{}, stanza.Errorf(stanza.BadRequest, "roster item without a 'jid'")
	}
	j, err := jid.Parse(raw)
	if err != nil {
		return Item{}, stanza.Errorf(stanza.BadRequest, "roster item 'jid' %q: %v", raw, err)
	}
	it := Item{
		JID:          j,
		Name:         el.Get("name"),
		Subscription: el.Get("subscription"),
		Ask:          el.Get("ask"),
		Approved:     el.Get("approved") == "true" || el.Get("approved") == "1",
	}
	switch it.Subscription {
	case "", SubNone, SubTo, SubFrom, SubBoth, SubRemove:
	default:
		return Item{}, stanza.Errorf(stanza.BadRequest, "unknown subscription %q", it.Subscription)
	}
	seen := make(map[string]bool)
	for _, g := range el.ChildrenNamed(NS, "group") {
		name := g.Text()
		if name == "" {
			return Item{}, stanza.Errorf(stanza.NotAcceptable, "empty group name in the item for %s", j)
		}
		if seen[name] {
			return Item{}, stanza.Errorf(stanza.BadRequest, "duplicate group %q in the item for %s", name, j)
		}
		seen[name] = true
		it.Groups = append(it.Groups, name)
	}
	return it, nil
}

// Element encodes the item.
func (it Item) Element() *stanza.Element {
	el := stanza.New(NS, "item", "jid", it.JID.String())
	el.Set("name", it.Name)
	el.Set("subscription", it.Subscription)
	el.Set("ask", it.Ask)
	if it.Approved {
		el.Set("approved", "true")
	}
	for _, g := range it.Groups {
		el.Append(stanza.New(NS, "group").AppendText(g))
	}
	return el
}

// Element encodes the query; 'ver' is written when HasVer is set or Ver is
// not empty.
func (q *Query) Element() *stanza.Element {
	el := stanza.New(NS, "query")
	if q.HasVer || q.Ver != "" {
		el.Attr = append(el.Attr, stanza.Attr{Name: xml.Name{Local: "ver"}, Value: q.Ver})
	}
	for _, it := range q.Items {
		el.Append(it.Element())
	}
	return el
}

// Single returns the one item of a roster set or push: RFC 6121 §2.3.3 and
// §2.1.6 allow exactly one, anything else is a <bad-request/>.
func (q *Query) Single() (Item, error) {
	if len(q.Items) != 1 {
		return Item{}, stanza.Errorf(stanza.BadRequest, "a roster set carries exactly one item, not %d", len(q.Items))
	}
	return q.Items[0], nil
}

// String describes the item for logs.
func (it Item) String() string {
	if it.Ask != "" {
		return fmt.Sprintf("%s[%s ask=%s]", it.JID, it.Subscription, it.Ask)
	}
	return fmt.Sprintf("%s[%s]", it.JID, it.Subscription)
}
