package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// pubsubSchema holds publish-subscribe services (XEP-0060, XEP-0163). The
// column "username" is the service's JID: an account's bare JID for its
// PEP service, so that DeleteAccount removes it with the account's other
// rows; the domain of a pubsub service otherwise. The trigger removes the
// deleted account's subscriptions and affiliations on every other service.
const pubsubSchema = `
CREATE TABLE pubsub_nodes (
	username TEXT COLLATE "C" NOT NULL,
	node     TEXT COLLATE "C" NOT NULL,
	config   TEXT NOT NULL,
	created  BIGINT NOT NULL,
	PRIMARY KEY (username, node)
);

CREATE SEQUENCE pubsub_item_seq;

CREATE TABLE pubsub_items (
	username  TEXT COLLATE "C" NOT NULL,
	node      TEXT COLLATE "C" NOT NULL,
	id        TEXT COLLATE "C" NOT NULL,
	seq       BIGINT NOT NULL,
	publisher TEXT NOT NULL,
	payload   BYTEA NOT NULL,
	published BIGINT NOT NULL,
	PRIMARY KEY (username, node, id)
);
CREATE INDEX pubsub_items_seq ON pubsub_items(username, node, seq);

CREATE TABLE pubsub_affiliations (
	username    TEXT COLLATE "C" NOT NULL,
	node        TEXT COLLATE "C" NOT NULL,
	jid         TEXT COLLATE "C" NOT NULL,
	affiliation TEXT NOT NULL,
	PRIMARY KEY (username, node, jid)
);
CREATE INDEX pubsub_affiliations_jid ON pubsub_affiliations(jid);

CREATE TABLE pubsub_subscriptions (
	username TEXT COLLATE "C" NOT NULL,
	node     TEXT COLLATE "C" NOT NULL,
	jid      TEXT COLLATE "C" NOT NULL,
	subid    TEXT COLLATE "C" NOT NULL,
	state    TEXT NOT NULL,
	PRIMARY KEY (username, node, jid, subid)
);
CREATE INDEX pubsub_subscriptions_jid ON pubsub_subscriptions(jid);

CREATE FUNCTION pubsub_account_deleted() RETURNS trigger AS $$
BEGIN
	DELETE FROM pubsub_subscriptions
		WHERE jid = OLD.username OR left(jid, length(OLD.username) + 1) = OLD.username || '/';
	DELETE FROM pubsub_affiliations WHERE jid = OLD.username;
	RETURN OLD;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER pubsub_account_deleted AFTER DELETE ON accounts
	FOR EACH ROW EXECUTE FUNCTION pubsub_account_deleted();
`

var _ storage.PubSub = (*DB)(nil)

// CreateNode creates a node; storage.ErrExists if it exists.
func (db *DB) CreateNode(ctx context.Context, n storage.PubSubNode) error {
	svc := n.Service.String()
	cfg, err := json.Marshal(n.Config)
	if err != nil {
		return fmt.Errorf("postgres: create node %q of %s: %w", n.Node, svc, err)
	}
	res, err := db.pool.Exec(ctx, `INSERT INTO pubsub_nodes(username, node, config, created) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, svc, n.Node, string(cfg), nanos(n.Created))
	if err != nil {
		return fmt.Errorf("postgres: create node %q of %s: %w", n.Node, svc, err)
	}
	if res.RowsAffected() == 0 {
		return fmt.Errorf("postgres: create node %q of %s: %w", n.Node, svc, storage.ErrExists)
	}
	return nil
}

// PubSubNode returns a node; storage.ErrNotFound if absent.
func (db *DB) PubSubNode(ctx context.Context, service jid.JID, node string) (storage.PubSubNode, error) {
	svc := service.String()
	var cfg string
	var created int64
	err := db.pool.QueryRow(ctx, `SELECT config, created FROM pubsub_nodes WHERE username = $1 AND node = $2`,
		svc, node).Scan(&cfg, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.PubSubNode{}, fmt.Errorf("postgres: node %q of %s: %w", node, svc, storage.ErrNotFound)
	}
	if err != nil {
		return storage.PubSubNode{}, fmt.Errorf("postgres: node %q of %s: %w", node, svc, err)
	}
	return decodeNode(service, node, cfg, created)
}

func decodeNode(service jid.JID, node, cfg string, created int64) (storage.PubSubNode, error) {
	n := storage.PubSubNode{Service: service, Node: node, Created: fromNanos(created)}
	if err := json.Unmarshal([]byte(cfg), &n.Config); err != nil {
		return storage.PubSubNode{}, fmt.Errorf("postgres: config of node %q of %s: %w", node, service, err)
	}
	return n, nil
}

// PubSubNodes lists the nodes of a service, sorted by name.
func (db *DB) PubSubNodes(ctx context.Context, service jid.JID) ([]storage.PubSubNode, error) {
	svc := service.String()
	rows, err := db.pool.Query(ctx, `SELECT node, config, created FROM pubsub_nodes WHERE username = $1 ORDER BY node`, svc)
	if err != nil {
		return nil, fmt.Errorf("postgres: nodes of %s: %w", svc, err)
	}
	defer rows.Close()
	var out []storage.PubSubNode
	for rows.Next() {
		var node, cfg string
		var created int64
		if err := rows.Scan(&node, &cfg, &created); err != nil {
			return nil, fmt.Errorf("postgres: nodes of %s: %w", svc, err)
		}
		n, err := decodeNode(service, node, cfg, created)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: nodes of %s: %w", svc, err)
	}
	return out, nil
}

// SetNodeConfig replaces a node's configuration.
func (db *DB) SetNodeConfig(ctx context.Context, service jid.JID, node string, config map[string][]string) error {
	svc := service.String()
	cfg, err := json.Marshal(config)
	if err != nil {
		return fmt.Errorf("postgres: configure node %q of %s: %w", node, svc, err)
	}
	res, err := db.pool.Exec(ctx, `UPDATE pubsub_nodes SET config = $1 WHERE username = $2 AND node = $3`, string(cfg), svc, node)
	if err != nil {
		return fmt.Errorf("postgres: configure node %q of %s: %w", node, svc, err)
	}
	if res.RowsAffected() == 0 {
		return fmt.Errorf("postgres: configure node %q of %s: %w", node, svc, storage.ErrNotFound)
	}
	return nil
}

// DeleteNode removes a node and everything attached to it.
func (db *DB) DeleteNode(ctx context.Context, service jid.JID, node string) error {
	svc := service.String()
	return db.tx(ctx, func(tx pgx.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM pubsub_nodes WHERE username = $1 AND node = $2`, svc, node)
		if err != nil {
			return fmt.Errorf("postgres: delete node %q of %s: %w", node, svc, err)
		}
		if res.RowsAffected() == 0 {
			return fmt.Errorf("postgres: delete node %q of %s: %w", node, svc, storage.ErrNotFound)
		}
		for _, t := range []string{"pubsub_items", "pubsub_affiliations", "pubsub_subscriptions"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE username = $1 AND node = $2`, svc, node); err != nil {
				return fmt.Errorf("postgres: delete node %q of %s: %s: %w", node, svc, t, err)
			}
		}
		return nil
	})
}

// PutItem stores an item as the newest and trims the node to maxItems.
func (db *DB) PutItem(ctx context.Context, service jid.JID, node string, it storage.PubSubItem, maxItems int) error {
	svc := service.String()
	return db.tx(ctx, func(tx pgx.Tx) error { return putItem(ctx, tx, svc, node, it, maxItems) })
}

// putItem is PutItem in tx.
func putItem(ctx context.Context, tx pgx.Tx, svc, node string, it storage.PubSubItem, maxItems int) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM pubsub_nodes WHERE username = $1 AND node = $2`, svc, node).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: publish to %q of %s: %w", node, svc, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: publish to %q of %s: %w", node, svc, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO pubsub_items(username, node, id, seq, publisher, payload, published)
		VALUES ($1, $2, $3, nextval('pubsub_item_seq'), $4, $5, $6)
		ON CONFLICT(username, node, id) DO UPDATE SET seq = excluded.seq, publisher = excluded.publisher,
			payload = excluded.payload, published = excluded.published`,
		svc, node, it.ID, it.Publisher.String(), nonNil(it.Payload), nanos(it.Published)); err != nil {
		return fmt.Errorf("postgres: publish %q to %q of %s: %w", it.ID, node, svc, err)
	}
	if maxItems > 0 {
		return trimItems(ctx, tx, svc, node, maxItems)
	}
	return nil
}

// PutItemWithin stores an item as PutItem does, then measures what each
// owner owns on the service and rolls the whole write back with
// storage.ErrQuota when one is over maxBytes. Writers of one service
// serialise on an advisory lock.
func (db *DB) PutItemWithin(ctx context.Context, service jid.JID, node string, it storage.PubSubItem, maxItems int, owners []jid.JID, maxBytes int64) error {
	svc := service.String()
	return db.tx(ctx, func(tx pgx.Tx) error {
		if maxBytes > 0 {
			if err := lockUser(ctx, tx, pubsubLockClass, svc); err != nil {
				return fmt.Errorf("postgres: publish to %q: %w", node, err)
			}
		}
		if err := putItem(ctx, tx, svc, node, it, maxItems); err != nil || maxBytes <= 0 {
			return err
		}
		for _, o := range owners {
			var used int64
			var err error
			if o.Equal(service) {
				err = tx.QueryRow(ctx, `SELECT COALESCE(SUM(octet_length(payload)), 0) FROM pubsub_items WHERE username = $1`, svc).Scan(&used)
			} else {
				err = tx.QueryRow(ctx, `SELECT COALESCE(SUM(octet_length(i.payload)), 0) FROM pubsub_items i
					JOIN pubsub_affiliations a ON a.username = i.username AND a.node = i.node
					WHERE i.username = $1 AND a.jid = $2 AND a.affiliation = 'owner'`, svc, o.Bare().String()).Scan(&used)
			}
			if err != nil {
				return fmt.Errorf("postgres: pubsub usage of %s on %s: %w", o, svc, err)
			}
			if used > maxBytes {
				return fmt.Errorf("postgres: publish %q to %q of %s: %s would own %d bytes: %w", it.ID, node, svc, o, used, storage.ErrQuota)
			}
		}
		return nil
	})
}

func trimItems(ctx context.Context, tx pgx.Tx, svc, node string, keep int) error {
	_, err := tx.Exec(ctx, `DELETE FROM pubsub_items WHERE username = $1 AND node = $2 AND seq NOT IN
		(SELECT seq FROM pubsub_items WHERE username = $3 AND node = $4 ORDER BY seq DESC LIMIT $5)`, svc, node, svc, node, keep)
	if err != nil {
		return fmt.Errorf("postgres: trim %q of %s: %w", node, svc, err)
	}
	return nil
}

// TrimItems keeps only the newest keep items.
func (db *DB) TrimItems(ctx context.Context, service jid.JID, node string, keep int) error {
	return db.tx(ctx, func(tx pgx.Tx) error { return trimItems(ctx, tx, service.String(), node, keep) })
}

// PubSubItems returns the newest max items, newest first.
func (db *DB) PubSubItems(ctx context.Context, service jid.JID, node string, max int) ([]storage.PubSubItem, error) {
	svc := service.String()
	var limit any // NULL: no limit
	if max > 0 {
		limit = max
	}
	rows, err := db.pool.Query(ctx, `SELECT id, publisher, payload, published FROM pubsub_items
		WHERE username = $1 AND node = $2 ORDER BY seq DESC LIMIT $3`, svc, node, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: items of %q of %s: %w", node, svc, err)
	}
	defer rows.Close()
	var out []storage.PubSubItem
	for rows.Next() {
		it, err := storage.ScanPubSubItem(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: items of %q of %s: %w", node, svc, err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: items of %q of %s: %w", node, svc, err)
	}
	return out, nil
}

// PubSubItem returns one item; storage.ErrNotFound if absent.
func (db *DB) PubSubItem(ctx context.Context, service jid.JID, node, id string) (storage.PubSubItem, error) {
	svc := service.String()
	it, err := storage.ScanPubSubItem(db.pool.QueryRow(ctx, `SELECT id, publisher, payload, published FROM pubsub_items
		WHERE username = $1 AND node = $2 AND id = $3`, svc, node, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return it, fmt.Errorf("postgres: item %q of %q of %s: %w", id, node, svc, storage.ErrNotFound)
	}
	if err != nil {
		return it, fmt.Errorf("postgres: item %q of %q of %s: %w", id, node, svc, err)
	}
	return it, nil
}

// DeleteItem removes one item; storage.ErrNotFound if absent.
func (db *DB) DeleteItem(ctx context.Context, service jid.JID, node, id string) error {
	svc := service.String()
	res, err := db.pool.Exec(ctx, `DELETE FROM pubsub_items WHERE username = $1 AND node = $2 AND id = $3`, svc, node, id)
	if err != nil {
		return fmt.Errorf("postgres: retract %q from %q of %s: %w", id, node, svc, err)
	}
	if res.RowsAffected() == 0 {
		return fmt.Errorf("postgres: retract %q from %q of %s: %w", id, node, svc, storage.ErrNotFound)
	}
	return nil
}

// SetAffiliation sets an affiliation; "none" removes it.
func (db *DB) SetAffiliation(ctx context.Context, service jid.JID, a storage.PubSubAffiliation) error {
	svc := service.String()
	var err error
	if a.Affiliation == "none" || a.Affiliation == "" {
		_, err = db.pool.Exec(ctx, `DELETE FROM pubsub_affiliations WHERE username = $1 AND node = $2 AND jid = $3`,
			svc, a.Node, a.JID.String())
	} else {
		_, err = db.pool.Exec(ctx, `INSERT INTO pubsub_affiliations(username, node, jid, affiliation) VALUES ($1, $2, $3, $4)
			ON CONFLICT(username, node, jid) DO UPDATE SET affiliation = excluded.affiliation`,
			svc, a.Node, a.JID.String(), a.Affiliation)
	}
	if err != nil {
		return fmt.Errorf("postgres: affiliation of %s with %q of %s: %w", a.JID, a.Node, svc, err)
	}
	return nil
}

// Affiliations lists affiliations of a node (or the whole service).
func (db *DB) Affiliations(ctx context.Context, service jid.JID, node string) ([]storage.PubSubAffiliation, error) {
	svc := service.String()
	rows, err := db.pool.Query(ctx, `SELECT node, jid, affiliation FROM pubsub_affiliations
		WHERE username = $1 AND ($2 = '' OR node = $3) ORDER BY node, jid`, svc, node, node)
	if err != nil {
		return nil, fmt.Errorf("postgres: affiliations of %q of %s: %w", node, svc, err)
	}
	defer rows.Close()
	var out []storage.PubSubAffiliation
	for rows.Next() {
		var a storage.PubSubAffiliation
		var j string
		if err := rows.Scan(&a.Node, &j, &a.Affiliation); err != nil {
			return nil, fmt.Errorf("postgres: affiliations of %q of %s: %w", node, svc, err)
		}
		if a.JID, err = parseJID(j, "affiliated JID"); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: affiliations of %q of %s: %w", node, svc, err)
	}
	return out, nil
}

// SetSubscription creates or replaces a subscription; state "none"
// removes it.
func (db *DB) SetSubscription(ctx context.Context, service jid.JID, s storage.PubSubSubscription) error {
	svc := service.String()
	var err error
	if s.State == "none" || s.State == "" {
		_, err = db.pool.Exec(ctx, `DELETE FROM pubsub_subscriptions WHERE username = $1 AND node = $2 AND jid = $3 AND subid = $4`,
			svc, s.Node, s.JID.String(), s.SubID)
	} else {
		_, err = db.pool.Exec(ctx, `INSERT INTO pubsub_subscriptions(username, node, jid, subid, state) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT(username, node, jid, subid) DO UPDATE SET state = excluded.state`,
			svc, s.Node, s.JID.String(), s.SubID, s.State)
	}
	if err != nil {
		return fmt.Errorf("postgres: subscription of %s to %q of %s: %w", s.JID, s.Node, svc, err)
	}
	return nil
}

// Subscriptions lists subscriptions of a node (or the whole service).
func (db *DB) Subscriptions(ctx context.Context, service jid.JID, node string) ([]storage.PubSubSubscription, error) {
	svc := service.String()
	rows, err := db.pool.Query(ctx, `SELECT node, jid, subid, state FROM pubsub_subscriptions
		WHERE username = $1 AND ($2 = '' OR node = $3) ORDER BY node, jid, subid`, svc, node, node)
	if err != nil {
		return nil, fmt.Errorf("postgres: subscriptions of %q of %s: %w", node, svc, err)
	}
	defer rows.Close()
	var out []storage.PubSubSubscription
	for rows.Next() {
		var s storage.PubSubSubscription
		var j string
		if err := rows.Scan(&s.Node, &j, &s.SubID, &s.State); err != nil {
			return nil, fmt.Errorf("postgres: subscriptions of %q of %s: %w", node, svc, err)
		}
		if s.JID, err = parseJID(j, "subscriber"); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: subscriptions of %q of %s: %w", node, svc, err)
	}
	return out, nil
}
