package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// pubsubSchema holds publish-subscribe services (XEP-0060, XEP-0163). The
// column "user" is the service's JID: an account's bare JID for its PEP
// service, so that DeleteAccount removes it with the account's other rows;
// the domain of a pubsub service otherwise. The trigger removes the deleted
// account's subscriptions and affiliations on every other service.
const pubsubSchema = `
CREATE TABLE pubsub_nodes (
	user    TEXT NOT NULL,
	node    TEXT NOT NULL,
	config  TEXT NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (user, node)
);

CREATE TABLE pubsub_items (
	user      TEXT NOT NULL,
	node      TEXT NOT NULL,
	id        TEXT NOT NULL,
	seq       INTEGER NOT NULL,
	publisher TEXT NOT NULL,
	payload   BLOB NOT NULL,
	published INTEGER NOT NULL,
	PRIMARY KEY (user, node, id)
);
CREATE INDEX pubsub_items_seq ON pubsub_items(user, node, seq);

CREATE TABLE pubsub_affiliations (
	user        TEXT NOT NULL,
	node        TEXT NOT NULL,
	jid         TEXT NOT NULL,
	affiliation TEXT NOT NULL,
	PRIMARY KEY (user, node, jid)
);

CREATE TABLE pubsub_subscriptions (
	user  TEXT NOT NULL,
	node  TEXT NOT NULL,
	jid   TEXT NOT NULL,
	subid TEXT NOT NULL,
	state TEXT NOT NULL,
	PRIMARY KEY (user, node, jid, subid)
);

CREATE TRIGGER pubsub_account_deleted AFTER DELETE ON accounts BEGIN
	DELETE FROM pubsub_subscriptions
		WHERE jid = OLD.user OR substr(jid, 1, length(OLD.user) + 1) = OLD.user || '/';
	DELETE FROM pubsub_affiliations WHERE jid = OLD.user;
END;
`

var _ storage.PubSub = (*DB)(nil)

// DeleteNode removes a node and everything attached to it.
func (db *DB) DeleteNode(ctx context.Context, service jid.JID, node string) error {
	svc := service.String()
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM pubsub_nodes WHERE user = ? AND node = ?`, svc, node)
		if err != nil {
			return fmt.Errorf("sqlite: delete node %q of %s: %w", node, svc, err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return fmt.Errorf("sqlite: delete node %q of %s: %w", node, svc, storage.ErrNotFound)
		}
		for _, t := range []string{"pubsub_items", "pubsub_affiliations", "pubsub_subscriptions"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE user = ? AND node = ?`, svc, node); err != nil {
				return fmt.Errorf("sqlite: delete node %q of %s: %s: %w", node, svc, t, err)
			}
		}
		return nil
	})
}

// PutItem stores an item as the newest and trims the node to maxItems.
func (db *DB) PutItem(ctx context.Context, service jid.JID, node string, it storage.PubSubItem, maxItems int) error {
	svc := service.String()
	return db.tx(ctx, func(tx *sql.Tx) error { return putItem(ctx, tx, svc, node, it, maxItems) })
}

// putItem is PutItem in tx.
func putItem(ctx context.Context, tx *sql.Tx, svc, node string, it storage.PubSubItem, maxItems int) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM pubsub_nodes WHERE user = ? AND node = ?`, svc, node).Scan(&one)
	if err == sql.ErrNoRows {
		return fmt.Errorf("sqlite: publish to %q of %s: %w", node, svc, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: publish to %q of %s: %w", node, svc, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO pubsub_items(user, node, id, seq, publisher, payload, published)
		VALUES (?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM pubsub_items WHERE user = ? AND node = ?), ?, ?, ?)
		ON CONFLICT(user, node, id) DO UPDATE SET seq = excluded.seq, publisher = excluded.publisher,
			payload = excluded.payload, published = excluded.published`,
		svc, node, it.ID, svc, node, it.Publisher.String(), sqlcommon.NonNil(it.Payload), nanos(it.Published)); err != nil {
		return fmt.Errorf("sqlite: publish %q to %q of %s: %w", it.ID, node, svc, err)
	}
	if maxItems > 0 {
		return trimItems(ctx, tx, svc, node, maxItems)
	}
	return nil
}

// PutItemWithin stores an item as PutItem does, then measures what each
// owner owns on the service and rolls the whole write back with
// storage.ErrQuota when one is over maxBytes. The writer's single
// connection serialises it with every other write.
func (db *DB) PutItemWithin(ctx context.Context, service jid.JID, node string, it storage.PubSubItem, maxItems int, owners []jid.JID, maxBytes int64) error {
	svc := service.String()
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := putItem(ctx, tx, svc, node, it, maxItems); err != nil || maxBytes <= 0 {
			return err
		}
		for _, o := range owners {
			var used int64
			var err error
			if o.Equal(service) {
				err = tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM pubsub_items WHERE user = ?`, svc).Scan(&used)
			} else {
				err = tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(LENGTH(i.payload)), 0) FROM pubsub_items i
					JOIN pubsub_affiliations a ON a.user = i.user AND a.node = i.node
					WHERE i.user = ? AND a.jid = ? AND a.affiliation = 'owner'`, svc, o.Bare().String()).Scan(&used)
			}
			if err != nil {
				return fmt.Errorf("sqlite: pubsub usage of %s on %s: %w", o, svc, err)
			}
			if used > maxBytes {
				return fmt.Errorf("sqlite: publish %q to %q of %s: %s would own %d bytes: %w", it.ID, node, svc, o, used, storage.ErrQuota)
			}
		}
		return nil
	})
}

func trimItems(ctx context.Context, tx *sql.Tx, svc, node string, keep int) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM pubsub_items WHERE user = ? AND node = ? AND seq NOT IN
		(SELECT seq FROM pubsub_items WHERE user = ? AND node = ? ORDER BY seq DESC LIMIT ?)`, svc, node, svc, node, keep)
	if err != nil {
		return fmt.Errorf("sqlite: trim %q of %s: %w", node, svc, err)
	}
	return nil
}

// TrimItems keeps only the newest keep items.
func (db *DB) TrimItems(ctx context.Context, service jid.JID, node string, keep int) error {
	return db.tx(ctx, func(tx *sql.Tx) error { return trimItems(ctx, tx, service.String(), node, keep) })
}
