package sqlcommon

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// PubSub is the part of storage.PubSub whose SQL is the same in every
// backend: nodes, items read one statement at a time, affiliations and
// subscriptions. The backend keeps what runs in its own transactions
// (DeleteNode, PutItem, PublishItem, TrimItems). Its column "{user}" is
// the service's JID.
type PubSub struct {
	D Dialect
	R Querier // reads
	W Execer  // writes
}

// CreateNode creates a node; storage.ErrExists if it exists.
func (p PubSub) CreateNode(ctx context.Context, n storage.PubSubNode) error {
	svc := n.Service.String()
	cfg, err := json.Marshal(n.Config)
	if err != nil {
		return fmt.Errorf("%s: create node %q of %s: %w", p.D.Name, n.Node, svc, err)
	}
	k, err := p.W.Exec(ctx, p.D.SQL(`INSERT INTO pubsub_nodes({user}, node, config, created) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`), svc, n.Node, string(cfg), Nanos(n.Created))
	if err != nil {
		return fmt.Errorf("%s: create node %q of %s: %w", p.D.Name, n.Node, svc, err)
	}
	if k == 0 {
		return fmt.Errorf("%s: create node %q of %s: %w", p.D.Name, n.Node, svc, storage.ErrExists)
	}
	return nil
}

// PubSubNode returns a node; storage.ErrNotFound if absent.
func (p PubSub) PubSubNode(ctx context.Context, service jid.JID, node string) (storage.PubSubNode, error) {
	svc := service.String()
	var cfg string
	var created int64
	err := p.R.QueryRow(ctx, p.D.SQL(`SELECT config, created FROM pubsub_nodes WHERE {user} = ? AND node = ?`),
		svc, node).Scan(&cfg, &created)
	if p.R.NoRows(err) {
		return storage.PubSubNode{}, fmt.Errorf("%s: node %q of %s: %w", p.D.Name, node, svc, storage.ErrNotFound)
	}
	if err != nil {
		return storage.PubSubNode{}, fmt.Errorf("%s: node %q of %s: %w", p.D.Name, node, svc, err)
	}
	return p.decodeNode(service, node, cfg, created)
}

func (p PubSub) decodeNode(service jid.JID, node, cfg string, created int64) (storage.PubSubNode, error) {
	n := storage.PubSubNode{Service: service, Node: node, Created: FromNanos(created)}
	if err := json.Unmarshal([]byte(cfg), &n.Config); err != nil {
		return storage.PubSubNode{}, fmt.Errorf("%s: config of node %q of %s: %w", p.D.Name, node, service, err)
	}
	return n, nil
}

// PubSubNodes lists the nodes of a service, sorted by name.
func (p PubSub) PubSubNodes(ctx context.Context, service jid.JID) ([]storage.PubSubNode, error) {
	svc := service.String()
	scan := func(row Row) (storage.PubSubNode, error) {
		var node, cfg string
		var created int64
		if err := row.Scan(&node, &cfg, &created); err != nil {
			return storage.PubSubNode{}, err
		}
		return p.decodeNode(service, node, cfg, created)
	}
	out, err := Collect(ctx, p.R, scan, p.D.SQL(`SELECT node, config, created FROM pubsub_nodes WHERE {user} = ? ORDER BY node`), svc)
	if err != nil {
		return nil, fmt.Errorf("%s: nodes of %s: %w", p.D.Name, svc, err)
	}
	return out, nil
}

// SetNodeConfig replaces a node's configuration.
func (p PubSub) SetNodeConfig(ctx context.Context, service jid.JID, node string, config map[string][]string) error {
	svc := service.String()
	cfg, err := json.Marshal(config)
	if err != nil {
		return fmt.Errorf("%s: configure node %q of %s: %w", p.D.Name, node, svc, err)
	}
	k, err := p.W.Exec(ctx, p.D.SQL(`UPDATE pubsub_nodes SET config = ? WHERE {user} = ? AND node = ?`), string(cfg), svc, node)
	if err != nil {
		return fmt.Errorf("%s: configure node %q of %s: %w", p.D.Name, node, svc, err)
	}
	if k == 0 {
		return fmt.Errorf("%s: configure node %q of %s: %w", p.D.Name, node, svc, storage.ErrNotFound)
	}
	return nil
}

// PubSubItems returns the newest max items, newest first (all of them
// when max <= 0).
func (p PubSub) PubSubItems(ctx context.Context, service jid.JID, node string, max int) ([]storage.PubSubItem, error) {
	svc := service.String()
	out, err := Collect(ctx, p.R, ScanPubSubItem, p.D.SQL(`SELECT id, publisher, payload, published FROM pubsub_items
		WHERE {user} = ? AND node = ? ORDER BY seq DESC LIMIT ?`), svc, node, p.D.LimitArg(max))
	if err != nil {
		return nil, fmt.Errorf("%s: items of %q of %s: %w", p.D.Name, node, svc, err)
	}
	return out, nil
}

// PubSubItem returns one item; storage.ErrNotFound if absent.
func (p PubSub) PubSubItem(ctx context.Context, service jid.JID, node, id string) (storage.PubSubItem, error) {
	svc := service.String()
	it, err := ScanPubSubItem(p.R.QueryRow(ctx, p.D.SQL(`SELECT id, publisher, payload, published FROM pubsub_items
		WHERE {user} = ? AND node = ? AND id = ?`), svc, node, id))
	if p.R.NoRows(err) {
		return it, fmt.Errorf("%s: item %q of %q of %s: %w", p.D.Name, id, node, svc, storage.ErrNotFound)
	}
	if err != nil {
		return it, fmt.Errorf("%s: item %q of %q of %s: %w", p.D.Name, id, node, svc, err)
	}
	return it, nil
}

// DeleteItem removes one item; storage.ErrNotFound if absent.
func (p PubSub) DeleteItem(ctx context.Context, service jid.JID, node, id string) error {
	svc := service.String()
	k, err := p.W.Exec(ctx, p.D.SQL(`DELETE FROM pubsub_items WHERE {user} = ? AND node = ? AND id = ?`), svc, node, id)
	if err != nil {
		return fmt.Errorf("%s: retract %q from %q of %s: %w", p.D.Name, id, node, svc, err)
	}
	if k == 0 {
		return fmt.Errorf("%s: retract %q from %q of %s: %w", p.D.Name, id, node, svc, storage.ErrNotFound)
	}
	return nil
}

// SetAffiliation sets an affiliation; "none" removes it.
func (p PubSub) SetAffiliation(ctx context.Context, service jid.JID, a storage.PubSubAffiliation) error {
	svc := service.String()
	var err error
	if a.Affiliation == "none" || a.Affiliation == "" {
		_, err = p.W.Exec(ctx, p.D.SQL(`DELETE FROM pubsub_affiliations WHERE {user} = ? AND node = ? AND jid = ?`),
			svc, a.Node, a.JID.String())
	} else {
		_, err = p.W.Exec(ctx, p.D.SQL(`INSERT INTO pubsub_affiliations({user}, node, jid, affiliation) VALUES (?, ?, ?, ?)
			ON CONFLICT({user}, node, jid) DO UPDATE SET affiliation = excluded.affiliation`),
			svc, a.Node, a.JID.String(), a.Affiliation)
	}
	if err != nil {
		return fmt.Errorf("%s: affiliation of %s with %q of %s: %w", p.D.Name, a.JID, a.Node, svc, err)
	}
	return nil
}

// Affiliations lists affiliations of a node (or the whole service).
func (p PubSub) Affiliations(ctx context.Context, service jid.JID, node string) ([]storage.PubSubAffiliation, error) {
	svc := service.String()
	scan := func(row Row) (storage.PubSubAffiliation, error) {
		var a storage.PubSubAffiliation
		var j string
		if err := row.Scan(&a.Node, &j, &a.Affiliation); err != nil {
			return a, err
		}
		var err error
		a.JID, err = p.D.ParseJID(j, "affiliated JID")
		return a, err
	}
	out, err := Collect(ctx, p.R, scan, p.D.SQL(`SELECT node, jid, affiliation FROM pubsub_affiliations
		WHERE {user} = ? AND (? = '' OR node = ?) ORDER BY node, jid`), svc, node, node)
	if err != nil {
		return nil, fmt.Errorf("%s: affiliations of %q of %s: %w", p.D.Name, node, svc, err)
	}
	return out, nil
}

// SetSubscription creates or replaces a subscription; state "none"
// removes it.
func (p PubSub) SetSubscription(ctx context.Context, service jid.JID, s storage.PubSubSubscription) error {
	svc := service.String()
	var err error
	if s.State == "none" || s.State == "" {
		_, err = p.W.Exec(ctx, p.D.SQL(`DELETE FROM pubsub_subscriptions WHERE {user} = ? AND node = ? AND jid = ? AND subid = ?`),
			svc, s.Node, s.JID.String(), s.SubID)
	} else {
		_, err = p.W.Exec(ctx, p.D.SQL(`INSERT INTO pubsub_subscriptions({user}, node, jid, subid, state) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT({user}, node, jid, subid) DO UPDATE SET state = excluded.state`),
			svc, s.Node, s.JID.String(), s.SubID, s.State)
	}
	if err != nil {
		return fmt.Errorf("%s: subscription of %s to %q of %s: %w", p.D.Name, s.JID, s.Node, svc, err)
	}
	return nil
}

// Subscriptions lists subscriptions of a node (or the whole service).
func (p PubSub) Subscriptions(ctx context.Context, service jid.JID, node string) ([]storage.PubSubSubscription, error) {
	svc := service.String()
	scan := func(row Row) (storage.PubSubSubscription, error) {
		var s storage.PubSubSubscription
		var j string
		if err := row.Scan(&s.Node, &j, &s.SubID, &s.State); err != nil {
			return s, err
		}
		var err error
		s.JID, err = p.D.ParseJID(j, "subscriber")
		return s, err
	}
	out, err := Collect(ctx, p.R, scan, p.D.SQL(`SELECT node, jid, subid, state FROM pubsub_subscriptions
		WHERE {user} = ? AND (? = '' OR node = ?) ORDER BY node, jid, subid`), svc, node, node)
	if err != nil {
		return nil, fmt.Errorf("%s: subscriptions of %q of %s: %w", p.D.Name, node, svc, err)
	}
	return out, nil
}
