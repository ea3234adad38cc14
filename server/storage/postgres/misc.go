package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// VCard returns the vCard of user; storage.ErrNotFound if none.
func (db *DB) VCard(ctx context.Context, user jid.JID) ([]byte, error) {
	u := userKey(user)
	var v []byte
	err := db.pool.QueryRow(ctx, `SELECT vcard FROM vcards WHERE username = $1`, u).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: vcard of %s: %w", u, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: vcard of %s: %w", u, err)
	}
	return v, nil
}

// SetVCard stores the vCard of user; an empty vcard deletes it.
func (db *DB) SetVCard(ctx context.Context, user jid.JID, vcard []byte) error {
	u := userKey(user)
	var err error
	if len(vcard) == 0 {
		_, err = db.pool.Exec(ctx, `DELETE FROM vcards WHERE username = $1`, u)
	} else {
		_, err = db.pool.Exec(ctx, `INSERT INTO vcards(username, vcard) VALUES ($1, $2)
			ON CONFLICT (username) DO UPDATE SET vcard = excluded.vcard`, u, vcard)
	}
	if err != nil {
		return fmt.Errorf("postgres: set vcard of %s: %w", u, err)
	}
	return nil
}

// PrivateXML returns the private XML element stored under key;
// storage.ErrNotFound if none.
func (db *DB) PrivateXML(ctx context.Context, user jid.JID, key string) ([]byte, error) {
	u := userKey(user)
	var v []byte
	err := db.pool.QueryRow(ctx, `SELECT data FROM private_xml WHERE username = $1 AND key = $2`, u, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: private xml %q of %s: %w", key, u, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: private xml %q of %s: %w", key, u, err)
	}
	return v, nil
}

// SetPrivateXML stores data under key, replacing any previous value.
func (db *DB) SetPrivateXML(ctx context.Context, user jid.JID, key string, data []byte) error {
	u := userKey(user)
	_, err := db.pool.Exec(ctx, `INSERT INTO private_xml(username, key, data) VALUES ($1, $2, $3)
		ON CONFLICT (username, key) DO UPDATE SET data = excluded.data`, u, key, nonNil(data))
	if err != nil {
		return fmt.Errorf("postgres: set private xml %q of %s: %w", key, u, err)
	}
	return nil
}

// BlockList returns the JIDs user blocks, sorted.
func (db *DB) BlockList(ctx context.Context, user jid.JID) ([]jid.JID, error) {
	u := userKey(user)
	rows, err := db.pool.Query(ctx, `SELECT item FROM blocklist WHERE username = $1 ORDER BY item`, u)
	if err != nil {
		return nil, fmt.Errorf("postgres: block list of %s: %w", u, err)
	}
	return collectJIDs(rows, "blocked JID", "block list of "+u)
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
	u := userKey(user)
	_, err := db.pool.Exec(ctx, `INSERT INTO last_activity(username, at, status) VALUES ($1, $2, $3)
		ON CONFLICT (username) DO UPDATE SET at = excluded.at, status = excluded.status`, u, nanos(at), status)
	if err != nil {
		return fmt.Errorf("postgres: set last activity of %s: %w", u, err)
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
	err := db.pool.QueryRow(ctx, `SELECT at, status FROM last_activity WHERE username = $1`, u).Scan(&at, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, "", fmt.Errorf("postgres: last activity of %s: %w", u, storage.ErrNotFound)
	}
	if err != nil {
		return time.Time{}, "", fmt.Errorf("postgres: last activity of %s: %w", u, err)
	}
	return fromNanos(at), status, nil
}
