package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

var _ storage.Importer = (*DB)(nil)

// PrivateKeys lists the keys under which user has private XML, sorted.
func (db *DB) PrivateKeys(ctx context.Context, user jid.JID) ([]string, error) {
	u := userKey(user)
	rows, err := db.r.QueryContext(ctx, `SELECT key FROM private_xml WHERE user = ? ORDER BY key`, u)
	if err != nil {
		return nil, fmt.Errorf("sqlite: private xml keys of %s: %w", u, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("sqlite: private xml keys of %s: %w", u, err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: private xml keys of %s: %w", u, err)
	}
	return out, nil
}

// SetRosterVersion sets the roster version of user (for imports).
func (db *DB) SetRosterVersion(ctx context.Context, user jid.JID, version int64) error {
	u := userKey(user)
	_, err := db.exec(ctx, `INSERT INTO roster_versions(user, version) VALUES (?, ?)
		ON CONFLICT(user) DO UPDATE SET version = excluded.version`, u, version)
	if err != nil {
		return fmt.Errorf("sqlite: set roster version of %s: %w", u, err)
	}
	return nil
}

// ImportOffline appends msgs for user in order, keeping their times, in
// one transaction and without quota.
func (db *DB) ImportOffline(ctx context.Context, user jid.JID, msgs []storage.OfflineMessage) error {
	u := userKey(user)
	return db.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO offline(user, stanza, at) VALUES (?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("sqlite: import offline messages of %s: %w", u, err)
		}
		defer st.Close()
		for i, m := range msgs {
			if _, err := st.ExecContext(ctx, u, sqlcommon.NonNil(m.Stanza), nanos(m.At)); err != nil {
				return fmt.Errorf("sqlite: import offline message %d of %s: %w", i, u, err)
			}
		}
		return nil
	})
}

var _ storage.Lister = (*DB)(nil)

// PubSubServices lists every service that has nodes, sorted.
func (db *DB) PubSubServices(ctx context.Context) ([]jid.JID, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT DISTINCT user FROM pubsub_nodes ORDER BY user`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pubsub services: %w", err)
	}
	defer rows.Close()
	var out []jid.JID
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("sqlite: pubsub services: %w", err)
		}
		j, err := parseJID(s, "pubsub service")
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: pubsub services: %w", err)
	}
	return out, nil
}

// FastClients lists the clients user has FAST tokens for, sorted.
func (db *DB) FastClients(ctx context.Context, user jid.JID) ([]string, error) {
	u := userKey(user)
	rows, err := db.r.QueryContext(ctx, `SELECT DISTINCT client FROM fast_tokens WHERE user = ? ORDER BY client`, u)
	if err != nil {
		return nil, fmt.Errorf("sqlite: FAST clients of %s: %w", u, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("sqlite: FAST clients of %s: %w", u, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: FAST clients of %s: %w", u, err)
	}
	return out, nil
}
