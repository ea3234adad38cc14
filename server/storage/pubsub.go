package storage

import (
	"context"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// PubSubNode is a publish-subscribe node (XEP-0060) of one service: a
// service domain (pubsub.example.org) or an account's bare JID (its PEP
// service, XEP-0163).
type PubSubNode struct {
	Service jid.JID
	Node    string
	// Config holds the node configuration as data form values keyed by
	// field var (pubsub#access_model …); the pubsub engine interprets it.
	Config  map[string][]string
	Created time.Time
}

// PubSubItem is one published item.
type PubSubItem struct {
	ID        string
	Publisher jid.JID
	Payload   []byte // the item's payload element as serialised, may be empty
	Published time.Time
}

// PubSubAffiliation is an entity's affiliation with a node ("owner",
// "publisher", "publish-only", "member", "outcast").
type PubSubAffiliation struct {
	Node        string
	JID         jid.JID // bare
	Affiliation string
}

// PubSubSubscription is a subscription to a node.
type PubSubSubscription struct {
	Node  string
	JID   jid.JID // as subscribed: bare or full
	SubID string
	State string // "subscribed", "pending" or "unconfigured"
}

// PubSub stores publish-subscribe services: nodes, their items,
// affiliations and subscriptions. Every method is scoped to one service.
// Deleting an account removes its PEP service and its subscriptions and
// affiliations anywhere.
type PubSub interface {
	// CreateNode creates a node; ErrExists if the service has it.
	CreateNode(ctx context.Context, n PubSubNode) error
	// PubSubNode returns a node; ErrNotFound if absent.
	PubSubNode(ctx context.Context, service jid.JID, node string) (PubSubNode, error)
	// PubSubNodes lists the nodes of a service, sorted by name.
	PubSubNodes(ctx context.Context, service jid.JID) ([]PubSubNode, error)
	// SetNodeConfig replaces a node's configuration; ErrNotFound if absent.
	SetNodeConfig(ctx context.Context, service jid.JID, node string, config map[string][]string) error
	// DeleteNode removes a node with its items, affiliations and
	// subscriptions; ErrNotFound if absent.
	DeleteNode(ctx context.Context, service jid.JID, node string) error

	// PutItem stores an item, replacing one with the same id (which then
	// counts as the newest), and then keeps only the newest maxItems items
	// when maxItems > 0. ErrNotFound if the node does not exist.
	PutItem(ctx context.Context, service jid.JID, node string, it PubSubItem, maxItems int) error
	// PutItemWithin is PutItem unless, once the item is stored and the
	// node trimmed, the payloads of the items of the nodes one of owners
	// owns on the service would exceed maxBytes (maxBytes <= 0: no bound);
	// then ErrQuota and nothing changes. An owner that is the service
	// itself (an account's PEP service) owns all its nodes. The check and
	// the write are atomic.
	PutItemWithin(ctx context.Context, service jid.JID, node string, it PubSubItem, maxItems int, owners []jid.JID, maxBytes int64) error
	// PubSubItems returns the newest max items (all when max <= 0), newest
	// first.
	PubSubItems(ctx context.Context, service jid.JID, node string, max int) ([]PubSubItem, error)
	// PubSubItem returns one item; ErrNotFound if absent.
	PubSubItem(ctx context.Context, service jid.JID, node, id string) (PubSubItem, error)
	// DeleteItem removes one item; ErrNotFound if absent.
	DeleteItem(ctx context.Context, service jid.JID, node, id string) error
	// TrimItems keeps only the newest keep items (keep 0 purges the node).
	TrimItems(ctx context.Context, service jid.JID, node string, keep int) error

	// SetAffiliation sets an affiliation; "none" removes it.
	SetAffiliation(ctx context.Context, service jid.JID, a PubSubAffiliation) error
	// Affiliations lists the affiliations of a node, or of every node of
	// the service when node is empty, sorted by node and JID.
	Affiliations(ctx context.Context, service jid.JID, node string) ([]PubSubAffiliation, error)

	// SetSubscription creates or replaces the subscription of (node, JID,
	// SubID); state "none" removes it.
	SetSubscription(ctx context.Context, service jid.JID, s PubSubSubscription) error
	// Subscriptions lists the subscriptions of a node, or of every node of
	// the service when node is empty, sorted by node and JID.
	Subscriptions(ctx context.Context, service jid.JID, node string) ([]PubSubSubscription, error)
}
