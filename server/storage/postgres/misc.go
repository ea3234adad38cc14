package postgres

import (
	"context"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Block adds items to the block list of user; duplicates are ignored. Items
// are stored as given (full, bare or domain JIDs), per XEP-0191.
func (db *DB) Block(ctx context.Context, user jid.JID, items []jid.JID) error {
	if len(items) == 0 {
		return nil
	}
	u := sqlcommon.UserKey(user)
	strs := make([]string, len(items))
	for i, it := range items {
		strs[i] = it.String()
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO blocklist(username, item) SELECT $1, unnest($2::text[])
		ON CONFLICT DO NOTHING`, u, strs)
	if err != nil {
		return fmt.Errorf("postgres: block %d JIDs for %s: %w", len(items), u, err)
	}
	return nil
}

// Unblock removes items from the block list of user; no items removes all.
func (db *DB) Unblock(ctx context.Context, user jid.JID, items []jid.JID) error {
	u := sqlcommon.UserKey(user)
	if len(items) == 0 {
		if _, err := db.pool.Exec(ctx, `DELETE FROM blocklist WHERE username = $1`, u); err != nil {
			return fmt.Errorf("postgres: unblock all for %s: %w", u, err)
		}
		return nil
	}
	strs := make([]string, len(items))
	for i, it := range items {
		strs[i] = it.String()
	}
	if _, err := db.pool.Exec(ctx, `DELETE FROM blocklist WHERE username = $1 AND item = ANY($2)`, u, strs); err != nil {
		return fmt.Errorf("postgres: unblock %d JIDs for %s: %w", len(items), u, err)
	}
	return nil
}
