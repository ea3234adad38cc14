package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// lockOffline takes the transaction-level advisory lock that serialises
// quota-checked inserts into the offline messages of u.
func lockOffline(ctx context.Context, tx pgx.Tx, u string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, offlineLockClass, u); err != nil {
		return fmt.Errorf("locking offline messages of %s: %w", u, err)
	}
	return nil
}

// StoreOffline appends a message for user; storage.ErrQuota when user already
// has limit messages stored (limit <= 0: no limit). Callers storing for the
// same user serialise on an advisory lock, so concurrent callers cannot
// exceed the limit.
func (db *DB) StoreOffline(ctx context.Context, user jid.JID, stanza []byte, limit int) error {
	u := userKey(user)
	at := nanos(time.Now())
	if limit <= 0 {
		_, err := db.pool.Exec(ctx, `INSERT INTO offline(username, stanza, at) VALUES ($1, $2, $3)`, u, sqlcommon.NonNil(stanza), at)
		if err != nil {
			return fmt.Errorf("postgres: store offline message for %s: %w", u, err)
		}
		return nil
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockOffline(ctx, tx, u); err != nil {
			return fmt.Errorf("postgres: store offline message: %w", err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO offline(username, stanza, at)
			SELECT $1, $2, $3 WHERE (SELECT COUNT(*) FROM offline WHERE username = $1) < $4`,
			u, sqlcommon.NonNil(stanza), at, limit)
		if err != nil {
			return fmt.Errorf("postgres: store offline message for %s: %w", u, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: store offline message for %s: %d stored: %w", u, limit, storage.ErrQuota)
		}
		return nil
	})
}

// DeleteOffline removes the given messages of user; ids of other users'
// messages and unknown ids are ignored.
func (db *DB) DeleteOffline(ctx context.Context, user jid.JID, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	u := userKey(user)
	_, err := db.pool.Exec(ctx, `DELETE FROM offline WHERE username = $1 AND id = ANY($2)`, u, ids)
	if err != nil {
		return fmt.Errorf("postgres: delete offline messages of %s: %w", u, err)
	}
	return nil
}
