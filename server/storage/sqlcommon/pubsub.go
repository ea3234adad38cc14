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
// subscriptions, and the writes of several statements in a transaction
// (DeleteNode, PutItem, PutItemWithin, TrimItems). Its column "{user}"
// is the service's JID.
type PubSub struct {
	D  Dialect
	R  Querier  // reads
	W  Execer   // writes of one statement
	Tx Transact // writes of several
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

// DeleteNode removes a node and everything attached to it.
func (p PubSub) DeleteNode(ctx context.Context, service jid.JID, node string) error {
	svc := service.String()
	return p.Tx(ctx, func(tx Tx) error {
		k, err := tx.Exec(ctx, p.D.SQL(`DELETE FROM pubsub_nodes WHERE {user} = ? AND node = ?`), svc, node)
		if err != nil {
			return fmt.Errorf("%s: delete node %q of %s: %w", p.D.Name, node, svc, err)
		}
		if k == 0 {
			return fmt.Errorf("%s: delete node %q of %s: %w", p.D.Name, node, svc, storage.ErrNotFound)
		}
		for _, t := range []string{"pubsub_items", "pubsub_affiliations", "pubsub_subscriptions"} {
			if _, err := tx.Exec(ctx, p.D.SQL(`DELETE FROM `+t+` WHERE {user} = ? AND node = ?`), svc, node); err != nil {
				return fmt.Errorf("%s: delete node %q of %s: %s: %w", p.D.Name, node, svc, t, err)
			}
		}
		return nil
	})
}

// PutItem stores an item as the newest and trims the node to maxItems.
func (p PubSub) PutItem(ctx context.Context, service jid.JID, node string, it storage.PubSubItem, maxItems int) error {
	svc := service.String()
	return p.Tx(ctx, func(tx Tx) error { return p.putItem(ctx, tx, svc, node, it, maxItems) })
}

// putItem is PutItem in tx. An item's seq orders the items of a node:
// the next of the dialect's sequence, or one more than the node's
// largest.
func (p PubSub) putItem(ctx context.Context, tx Tx, svc, node string, it storage.PubSubItem, maxItems int) error {
	var one int
	err := tx.QueryRow(ctx, p.D.SQL(`SELECT 1 FROM pubsub_nodes WHERE {user} = ? AND node = ?`), svc, node).Scan(&one)
	if tx.NoRows(err) {
		return fmt.Errorf("%s: publish to %q of %s: %w", p.D.Name, node, svc, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: publish to %q of %s: %w", p.D.Name, node, svc, err)
	}
	seq, args := `(SELECT COALESCE(MAX(seq), 0) + 1 FROM pubsub_items WHERE {user} = ? AND node = ?)`, []any{svc, node, it.ID, svc, node}
	if p.D.Sequences {
		seq, args = `nextval('pubsub_item_seq')`, args[:3]
	}
	args = append(args, it.Publisher.String(), NonNil(it.Payload), Nanos(it.Published))
	if _, err := tx.Exec(ctx, p.D.SQL(`INSERT INTO pubsub_items({user}, node, id, seq, publisher, payload, published)
		VALUES (?, ?, ?, `+seq+`, ?, ?, ?)
		ON CONFLICT({user}, node, id) DO UPDATE SET seq = excluded.seq, publisher = excluded.publisher,
			payload = excluded.payload, published = excluded.published`), args...); err != nil {
		return fmt.Errorf("%s: publish %q to %q of %s: %w", p.D.Name, it.ID, node, svc, err)
	}
	if maxItems > 0 {
		return p.trimItems(ctx, tx, svc, node, maxItems)
	}
	return nil
}

// PutItemWithin stores an item as PutItem does, then measures what each
// owner owns on the service and rolls the whole write back with
// storage.ErrQuota when one is over maxBytes. Writers of one service
// serialise: on the per-user lock of the service where the dialect's
// writers run concurrently, on SQLite's single writer connection
// otherwise.
func (p PubSub) PutItemWithin(ctx context.Context, service jid.JID, node string, it storage.PubSubItem, maxItems int, owners []jid.JID, maxBytes int64) error {
	svc := service.String()
	return p.Tx(ctx, func(tx Tx) error {
		if maxBytes > 0 {
			if err := p.D.LockUser(ctx, tx, LockPubSub, svc); err != nil {
				return fmt.Errorf("%s: publish to %q: %w", p.D.Name, node, err)
			}
		}
		if err := p.putItem(ctx, tx, svc, node, it, maxItems); err != nil || maxBytes <= 0 {
			return err
		}
		for _, o := range owners {
			var used int64
			var err error
			if o.Equal(service) {
				err = tx.QueryRow(ctx, p.D.SQL(`SELECT COALESCE(SUM({len}(payload)), 0) FROM pubsub_items WHERE {user} = ?`), svc).Scan(&used)
			} else {
				err = tx.QueryRow(ctx, p.D.SQL(`SELECT COALESCE(SUM({len}(i.payload)), 0) FROM pubsub_items i
					JOIN pubsub_affiliations a ON a.{user} = i.{user} AND a.node = i.node
					WHERE i.{user} = ? AND a.jid = ? AND a.affiliation = 'owner'`), svc, o.Bare().String()).Scan(&used)
			}
			if err != nil {
				return fmt.Errorf("%s: pubsub usage of %s on %s: %w", p.D.Name, o, svc, err)
			}
			if used > maxBytes {
				return fmt.Errorf("%s: publish %q to %q of %s: %s would own %d bytes: %w", p.D.Name, it.ID, node, svc, o, used, storage.ErrQuota)
			}
		}
		return nil
	})
}

// trimItems keeps only the newest keep items of a node.
func (p PubSub) trimItems(ctx context.Context, tx Tx, svc, node string, keep int) error {
	_, err := tx.Exec(ctx, p.D.SQL(`DELETE FROM pubsub_items WHERE {user} = ? AND node = ? AND seq NOT IN
		(SELECT seq FROM pubsub_items WHERE {user} = ? AND node = ? ORDER BY seq DESC LIMIT ?)`), svc, node, svc, node, keep)
	if err != nil {
		return fmt.Errorf("%s: trim %q of %s: %w", p.D.Name, node, svc, err)
	}
	return nil
}

// TrimItems keeps only the newest keep items.
func (p PubSub) TrimItems(ctx context.Context, service jid.JID, node string, keep int) error {
	return p.Tx(ctx, func(tx Tx) error { return p.trimItems(ctx, tx, service.String(), node, keep) })
}
