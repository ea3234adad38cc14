package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
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
		svc, node, it.ID, it.Publisher.String(), sqlcommon.NonNil(it.Payload), nanos(it.Published)); err != nil {
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
