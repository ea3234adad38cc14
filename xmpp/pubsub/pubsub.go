package pubsub

import (
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/xmpp/stanza"
)

// Namespaces of XEP-0060.
const (
	NS                 = "http://jabber.org/protocol/pubsub"
	NSEvent            = NS + "#event"
	NSOwner            = NS + "#owner"
	NSErrors           = NS + "#errors"
	NSNodeConfig       = NS + "#node_config"
	NSPublishOptions   = NS + "#publish-options"
	NSSubscribeOptions = NS + "#subscribe_options"
	NSMetaData         = NS + "#meta-data"
)

// NotifySuffix marks an XEP-0115 feature as interest in a node's
// notifications (XEP-0060 §9.2, XEP-0163 §4): "<node>+notify".
const NotifySuffix = "+notify"

// Feature returns the disco feature of a pubsub feature name (XEP-0060
// §10), e.g. Feature("publish-options").
func Feature(name string) string { return NS + "#" + name }

// ErrInvalid is wrapped by every decoding error of this package.
var ErrInvalid = errors.New("pubsub: invalid payload")

// Pubsub-specific error conditions (XEP-0060 §12, namespace NSErrors).
const (
	CondClosedNode                   = "closed-node"
	CondConfigurationRequired        = "configuration-required"
	CondInvalidJID                   = "invalid-jid"
	CondInvalidOptions               = "invalid-options"
	CondInvalidPayload               = "invalid-payload"
	CondInvalidSubID                 = "invalid-subid"
	CondItemForbidden                = "item-forbidden"
	CondItemRequired                 = "item-required"
	CondJIDRequired                  = "jid-required"
	CondMaxItemsExceeded             = "max-items-exceeded"
	CondMaxNodesExceeded             = "max-nodes-exceeded"
	CondNodeIDRequired               = "nodeid-required"
	CondNotInRosterGroup             = "not-in-roster-group"
	CondNotSubscribed                = "not-subscribed"
	CondPayloadTooBig                = "payload-too-big"
	CondPayloadRequired              = "payload-required"
	CondPendingSubscription          = "pending-subscription"
	CondPreconditionNotMet           = "precondition-not-met"
	CondPresenceSubscriptionRequired = "presence-subscription-required"
	CondSubIDRequired                = "subid-required"
	CondUnsupported                  = "unsupported"
	CondUnsupportedAccessModel       = "unsupported-access-model"
)

// Error returns a stanza error with a pubsub-specific condition (empty app
// for none).
func Error(c stanza.Condition, app, text string) *stanza.Error {
	e := &stanza.Error{Condition: c, Text: text}
	if app != "" {
		e.App = stanza.New(NSErrors, app)
	}
	return e
}

// Unsupported returns the <feature-not-implemented/> error with
// <unsupported feature='…'/> of XEP-0060 for a feature name.
func Unsupported(feature string) *stanza.Error {
	return &stanza.Error{Condition: stanza.FeatureNotImplemented,
		App: stanza.New(NSErrors, CondUnsupported, "feature", feature)}
}

// AppCondition returns the pubsub-specific condition of a stanza error and
// its 'feature' attribute, or empty strings.
func AppCondition(e *stanza.Error) (cond, feature string) {
	if e == nil || e.App == nil || e.App.Name.Space != NSErrors {
		return "", ""
	}
	return e.App.Name.Local, e.App.Get("feature")
}

// Item is one <item/> of a node.
type Item struct {
	ID        string
	Publisher string // optional
	Payload   *stanza.Element
}

// Element returns the <item/> element in namespace space (NS, NSEvent).
func (it Item) Element(space string) *stanza.Element {
	el := stanza.New(space, "item")
	el.Set("id", it.ID)
	el.Set("publisher", it.Publisher)
	if it.Payload != nil {
		el.Append(it.Payload.Clone())
	}
	return el
}

// ParseItem reads an <item/>: at most one payload element.
func ParseItem(el *stanza.Element) (Item, error) {
	it := Item{ID: el.Get("id"), Publisher: el.Get("publisher")}
	kids := el.Elements()
	if len(kids) > 1 {
		return Item{}, fmt.Errorf("%w: an item carries %d payload elements", ErrInvalid, len(kids))
	}
	if len(kids) == 1 {
		it.Payload = kids[0]
	}
	return it, nil
}

// Publish builds <pubsub><publish node='…'><item/></publish></pubsub>,
// with a publish-options form when opts is not nil.
func Publish(node string, it Item, opts *Config) *stanza.Element {
	ps := stanza.New(NS, "pubsub")
	ps.Append(stanza.New(NS, "publish", "node", node).Append(it.Element(NS)))
	if opts != nil {
		ps.Append(stanza.New(NS, "publish-options").Append(opts.Form(NSPublishOptions, "submit").Element()))
	}
	return ps
}

// Event is the content of a notification's <event/> (XEP-0060 §7.1.2,
// §7.2.2.1, §8.4.2, §8.5.2): exactly one of its parts is set.
type Event struct {
	Node    string
	Items   []Item   // published items
	Retract []string // retracted item ids
	Delete  bool     // the node was deleted
	Purge   bool     // the node was purged
}

// Element returns the <event xmlns='…#event'/> element.
func (ev Event) Element() *stanza.Element {
	e := stanza.New(NSEvent, "event")
	switch {
	case ev.Delete:
		return e.Append(stanza.New(NSEvent, "delete", "node", ev.Node))
	case ev.Purge:
		return e.Append(stanza.New(NSEvent, "purge", "node", ev.Node))
	}
	items := stanza.New(NSEvent, "items", "node", ev.Node)
	for _, it := range ev.Items {
		items.Append(it.Element(NSEvent))
	}
	for _, id := range ev.Retract {
		items.Append(stanza.New(NSEvent, "retract", "id", id))
	}
	return e.Append(items)
}

// ParseEvent reads the <event/> of a notification message; it returns
// ErrInvalid when the message has none.
func ParseEvent(msg *stanza.Element) (Event, error) {
	e := msg.Child(NSEvent, "event")
	if e == nil {
		return Event{}, fmt.Errorf("%w: no event", ErrInvalid)
	}
	for _, c := range e.Elements() {
		if c.Name.Space != NSEvent {
			continue
		}
		ev := Event{Node: c.Get("node")}
		switch c.Name.Local {
		case "delete":
			ev.Delete = true
			return ev, nil
		case "purge":
			ev.Purge = true
			return ev, nil
		case "items":
			for _, x := range c.Elements() {
				switch x.Name.Local {
				case "item":
					it, err := ParseItem(x)
					if err != nil {
						return Event{}, err
					}
					ev.Items = append(ev.Items, it)
				case "retract":
					ev.Retract = append(ev.Retract, x.Get("id"))
				}
			}
			return ev, nil
		}
	}
	return Event{}, fmt.Errorf("%w: empty event", ErrInvalid)
}
