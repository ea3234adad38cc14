package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/xmpp/jid"
)

// VCard returns the vCard of user; storage.ErrNotFound if none.
func (db *DB) VCard(ctx context.Context, user jid.JID) ([]byte, error) {
	return db.misc().VCard(ctx, user)
}

// SetVCard stores the vCard of user; an empty vcard deletes it.
func (db *DB) SetVCard(ctx context.Context, user jid.JID, vcard []byte) error {
	return db.misc().SetVCard(ctx, user, vcard)
}

// PrivateXML returns the private XML element stored under key;
// storage.ErrNotFound if none.
func (db *DB) PrivateXML(ctx context.Context, user jid.JID, key string) ([]byte, error) {
	return db.misc().PrivateXML(ctx, user, key)
}

// SetPrivateXML stores data under key, replacing any previous value.
func (db *DB) SetPrivateXML(ctx context.Context, user jid.JID, key string, data []byte) error {
	return db.misc().SetPrivateXML(ctx, user, key, data)
}

// BlockList returns the JIDs user blocks, sorted.
func (db *DB) BlockList(ctx context.Context, user jid.JID) ([]jid.JID, error) {
	return db.misc().BlockList(ctx, user)
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
	return db.misc().SetLastActivity(ctx, user, at, status)
}

// LastActivity returns the recorded logout time (in UTC) and status of
// user; storage.ErrNotFound if none.
func (db *DB) LastActivity(ctx context.Context, user jid.JID) (time.Time, string, error) {
	return db.misc().LastActivity(ctx, user)
}
