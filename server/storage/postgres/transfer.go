package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

var _ storage.Importer = (*DB)(nil)

// PrivateKeys lists the keys under which user has private XML, sorted.
func (db *DB) PrivateKeys(ctx context.Context, user jid.JID) ([]string, error) {
	u := userKey(user)
	rows, err := db.pool.Query(ctx, `SELECT key FROM private_xml WHERE username = $1 ORDER BY key`, u)
	if err != nil {
		return nil, fmt.Errorf("postgres: private xml keys of %s: %w", u, err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: private xml keys of %s: %w", u, err)
	}
	return keys, nil
}

// SetRosterVersion sets the roster version of user (for imports).
func (db *DB) SetRosterVersion(ctx context.Context, user jid.JID, version int64) error {
	u := userKey(user)
	_, err := db.pool.Exec(ctx, `INSERT INTO roster_versions(username, version) VALUES ($1, $2)
		ON CONFLICT (username) DO UPDATE SET version = excluded.version`, u, version)
	if err != nil {
		return fmt.Errorf("postgres: set roster version of %s: %w", u, err)
	}
	return nil
}

// ImportOffline appends msgs for user in order, keeping their times, in
// one transaction and without quota.
func (db *DB) ImportOffline(ctx context.Context, user jid.JID, msgs []storage.OfflineMessage) error {
	u := userKey(user)
	return db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockOffline(ctx, tx, u); err != nil {
			return fmt.Errorf("postgres: import offline messages: %w", err)
		}
		for i, m := range msgs {
			if _, err := tx.Exec(ctx, `INSERT INTO offline(username, stanza, at) VALUES ($1, $2, $3)`,
				u, sqlcommon.NonNil(m.Stanza), nanos(m.At)); err != nil {
				return fmt.Errorf("postgres: import offline message %d of %s: %w", i, u, err)
			}
		}
		return nil
	})
}

var _ storage.Lister = (*DB)(nil)

// PubSubServices lists every service that has nodes, sorted.
func (db *DB) PubSubServices(ctx context.Context) ([]jid.JID, error) {
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT username FROM pubsub_nodes ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("postgres: pubsub services: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: pubsub services: %w", err)
	}
	out := make([]jid.JID, 0, len(names))
	for _, s := range names {
		j, err := parseJID(s, "pubsub service")
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// FastClients lists the clients user has FAST tokens for, sorted.
func (db *DB) FastClients(ctx context.Context, user jid.JID) ([]string, error) {
	u := userKey(user)
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT client FROM fast_tokens WHERE username = $1 ORDER BY client`, u)
	if err != nil {
		return nil, fmt.Errorf("postgres: FAST clients of %s: %w", u, err)
	}
	clients, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: FAST clients of %s: %w", u, err)
	}
	return clients, nil
}
