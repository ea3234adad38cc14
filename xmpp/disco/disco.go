package disco

import (
	"errors"
	"fmt"
	"slices"

	"github.com/parley-xmpp/parley/xmpp/jid"
	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Namespaces of XEP-0030 and of the XEP-0004 data forms XEP-0128 embeds.
const (
	NSInfo  = "http://jabber.org/protocol/disco#info"
	NSItems = "http://jabber.org/protocol/disco#items"
	NSData  = "jabber:x:data"
)

// ErrInvalid is wrapped by every decoding error of this package.
var ErrInvalid = errors.New("disco: invalid payload")

// Identity is one <identity/> of a disco#info result (XEP-0030 §3.1).
// Category and Type are required; Name and Lang (xml:lang) are optional.
type Identity struct {
	Category, Type, Name, Lang string
}

// Info is the disco#info query (XEP-0030 §3.1): empty in a request, filled
// in a result.
type Info struct {
	// Node is the optional node attribute, mirrored in results (§3.2).
	Node       string
	Identities []Identity
	Features   []string
	// Forms are XEP-0128 extended-information data forms (jabber:x:data <x/>
	// elements), kept as elements.
	Forms []*stanza.Element
}

// HasFeature reports whether f is among the features.
func (i Info) HasFeature(f string) bool { return slices.Contains(i.Features, f) }

// Element returns the <query xmlns='http://jabber.org/protocol/disco#info'/>
// element for i.
func (i Info) Element() *stanza.Element {
	q := stanza.New(NSInfo, "query")
	q.Set("node", i.Node)
	for _, id := range i.Identities {
		el := stanza.New(NSInfo, "identity", "category", id.Category, "type", id.Type)
		el.Set("name", id.Name)
		el.SetNS(stanza.NSXML, "lang", id.Lang)
		q.Append(el)
	}
	for _, f := range i.Features {
		q.Append(stanza.New(NSInfo, "feature", "var", f))
	}
	for _, f := range i.Forms {
		q.Append(f.Clone())
	}
	return q
}

// ParseInfo decodes a disco#info <query/> element. Identities without a
// category or type and features without a var are errors (XEP-0030 §3.1);
// unknown children are ignored.
func ParseInfo(q *stanza.Element) (Info, error) {
	if q == nil || q.Name.Space != NSInfo || q.Name.Local != "query" {
		return Info{}, fmt.Errorf("%w: not a disco#info query", ErrInvalid)
	}
	info := Info{Node: q.Get("node")}
	for _, c := range q.Elements() {
		switch {
		case c.Name.Space == NSInfo && c.Name.Local == "identity":
			id := Identity{Category: c.Get("category"), Type: c.Get("type"), Name: c.Get("name"), Lang: c.Lang()}
			if id.Category == "" || id.Type == "" {
				return Info{}, fmt.Errorf("%w: identity without category or type", ErrInvalid)
			}
			info.Identities = append(info.Identities, id)
		case c.Name.Space == NSInfo && c.Name.Local == "feature":
			v := c.Get("var")
			if v == "" {
				return Info{}, fmt.Errorf("%w: feature without var", ErrInvalid)
			}
			info.Features = append(info.Features, v)
		case c.Name.Space == NSData && c.Name.Local == "x":
			info.Forms = append(info.Forms, c)
		}
	}
	return info, nil
}

// Item is one <item/> of a disco#items result (XEP-0030 §4.1).
type Item struct {
	JID  jid.JID
	Node string
	Name string
}

// Items is the disco#items query (XEP-0030 §4): empty in a request.
type Items struct {
	Node  string
	Items []Item
}

// Element returns the <query xmlns='http://jabber.org/protocol/disco#items'/>
// element for it.
func (it Items) Element() *stanza.Element {
	q := stanza.New(NSItems, "query")
	q.Set("node", it.Node)
	for _, item := range it.Items {
		el := stanza.New(NSItems, "item", "jid", item.JID.String())
		el.Set("node", item.Node)
		el.Set("name", item.Name)
		q.Append(el)
	}
	return q
}

// ParseItems decodes a disco#items <query/> element; every item needs a
// valid jid attribute.
func ParseItems(q *stanza.Element) (Items, error) {
	if q == nil || q.Name.Space != NSItems || q.Name.Local != "query" {
		return Items{}, fmt.Errorf("%w: not a disco#items query", ErrInvalid)
	}
	items := Items{Node: q.Get("node")}
	for _, c := range q.ChildrenNamed(NSItems, "item") {
		j, err := jid.Parse(c.Get("jid"))
		if err != nil {
			return Items{}, fmt.Errorf("%w: item jid %q: %w", ErrInvalid, c.Get("jid"), err)
		}
		items.Items = append(items.Items, Item{JID: j, Node: c.Get("node"), Name: c.Get("name")})
	}
	return items, nil
}
