package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// VCard returns the vCard of user; storage.ErrNotFound if none.
func (db *DB) VCard(ctx context.Context, user jid.JID) ([]byte, error) {
	u := userKey(user)
	var v []byte
	err := db.queryRow(ctx, `SELECT vcard FROM vcards WHERE user = ?`, u).Scan(&v)
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("sqlite: vcard of %s: %w", u, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: vcard of %s: %w", u, err)
	}
	return v, nil
}

// SetVCard stores the vCard of user; an empty vcard deletes it.
func (db *DB) SetVCard(ctx context.Context, user jid.JID, vcard []byte) error {
	u := userKey(user)
	var err error
	if len(vcard) == 0 {
		_, err = db.exec(ctx, `DELETE FROM vcards WHERE user = ?`, u)
	} else {
		_, err = db.exec(ctx, `INSERT INTO vcards(user, vcard) VALUES (?, ?)
			ON CONFLICT(user) DO UPDATE SET vcard = excluded.vcard`, u, vcard)
	}
	if err != nil {
		return fmt.Errorf("sqlite: set vcard of %s: %w", u, err)
	}
	return nil
}

// PrivateXML returns the private XML element stored under key;
// storage.ErrNotFound if none.
func (db *DB) PrivateXML(ctx context.Context, user jid.JID, key string) ([]byte, error) {
	u := userKey(user)
	var v []byte
	err := db.r.QueryRowContext(ctx, `SELECT data FROM private_xml WHERE user = ? AND key = ?`, u, key).Scan(&v)
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("sqlite: private xml %q of %s: %w", key, u, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: private xml %q of %s: %w", key, u, err)
	}
	return v, nil
}

// SetPrivateXML stores data under key, replacing any previous value.
func (db *DB) SetPrivateXML(ctx context.Context, user jid.JID, key string, data []byte) error {
	u := userKey(user)
	_, err := db.exec(ctx, `INSERT INTO private_xml(user, key, data) VALUES (?, ?, ?)
		ON CONFLICT(user, key) DO UPDATE SET data = excluded.data`, u, key, nonNil(data))
	if err != nil {
		return fmt.Errorf("sqlite: set private xml %q of %s: %w", key, u, err)
	}
	return nil
}

// BlockList returns the JIDs user blocks, sorted.
func (db *DB) BlockList(ctx context.Context, user jid.JID) ([]jid.JID, error) {
	u := userKey(user)
	rows, err := db.query(ctx, `SELECT item FROM blocklist WHERE user = ? ORDER BY item`, u)
	if err != nil {
		return nil, fmt.Errorf("sqlite: block list of %s: %w", u, err)
	}
	defer rows.Close()
	var out []jid.JID
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("sqlite: block list of %s: %w", u, err)
		}
		j, err := parseJID(s, "blocked JID")
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: block list of %s: %w", u, err)
	}
	return out, nil
}

// Block adds items to the block list of user; duplicates are ignored. Items
// are stored as given (full, bare or domain JIDs), per XEP-0191.
func (db *DB) Block(ctx context.Context, user jid.JID, items []jid.JID) error {
	u := userKey(user)
	return db.tx(ctx, func(tx *sql.Tx) error {
		for _, it := range items {
			if _, err := tx.ExecContext(ctx, `INSERT INTO blocklist(user, item) VALUES (?, ?) ON CONFLICT DO NOTHING`,
				u, it.String()); err != nil {
				return fmt.Errorf("sqlite: block %s for %s: %w", it, u, err)
			}
		}
		return nil
	})
}

// Unblock removes items from the block list of user; no items removes all.
func (db *DB) Unblock(ctx context.Context, user jid.JID, items []jid.JID) error {
	u := userKey(user)
	return db.tx(ctx, func(tx *sql.Tx) error {
		if len(items) == 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM blocklist WHERE user = ?`, u); err != nil {
				return fmt.Errorf("sqlite: unblock all for %s: %w", u, err)
			}
			return nil
		}
		for _, it := range items {
			if _, err := tx.ExecContext(ctx, `DELETE FROM blocklist WHERE user = ? AND item = ?`, u, it.String()); err != nil {
				return fmt.Errorf("sqlite: unblock %s for %s: %w", it, u, err)
			}
		}
		return nil
	})
}

// SetLastActivity records when user logged out and with which status.
func (db *DB) SetLastActivity(ctx context.Context, user jid.JID, at time.Time, status string) error {
	u := userKey(user)
	_, err := db.exec(ctx, `INSERT INTO last_activity(user, at, status) VALUES (?, ?, ?)
		ON CONFLICT(user) DO UPDATE SET at = excluded.at, status = excluded.status`, u, nanos(at), status)
	if err != nil {
		return fmt.Errorf("sqlite: set last activity of %s: %w", u, err)
	}
	return nil
}

// LastActivity returns the recorded logout time (in UTC) and status of
// user; storage.ErrNotFound if none.
func (db *DB) LastActivity(ctx context.Context, user jid.JID) (time.Time, string, error) {
	u := userKey(user)
	var (
		at     int64
		status string
	)
	err := db.queryRow(ctx, `SELECT at, status FROM last_activity WHERE user = ?`, u).Scan(&at, &status)
	if err == sql.ErrNoRows {
		return time.Time{}, "", fmt.Errorf("sqlite: last activity of %s: %w", u, storage.ErrNotFound)
	}
	if err != nil {
		return time.Time{}, "", fmt.Errorf("sqlite: last activity of %s: %w", u, err)
	}
	return fromNanos(at), status, nil
}
