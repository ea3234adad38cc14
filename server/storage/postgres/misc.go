package postgres

import (
	"context"
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
	if len(items) == 0 {
		return nil
	}
	u := userKey(user)
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
	u := userKey(user)
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

// SetLastActivity records when user logged out and with which status.
func (db *DB) SetLastActivity(ctx context.Context, user jid.JID, at time.Time, status string) error {
	return db.misc().SetLastActivity(ctx, user, at, status)
}

// LastActivity returns the recorded logout time (in UTC) and status of
// user; storage.ErrNotFound if none.
func (db *DB) LastActivity(ctx context.Context, user jid.JID) (time.Time, string, error) {
	return db.misc().LastActivity(ctx, user)
}
