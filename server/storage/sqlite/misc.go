package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Block adds items to the block list of user; duplicates are ignored. Items
// are stored as given (full, bare or domain JIDs), per XEP-0191.
func (db *DB) Block(ctx context.Context, user jid.JID, items []jid.JID) error {
	u := sqlcommon.UserKey(user)
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
	u := sqlcommon.UserKey(user)
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
