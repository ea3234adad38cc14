package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// StoreOffline appends a message for user; storage.ErrQuota when user already
// has limit messages stored (limit <= 0: no limit). The check and the insert
// are one statement, so concurrent callers cannot exceed the limit.
func (db *DB) StoreOffline(ctx context.Context, user jid.JID, stanza []byte, limit int) error {
	u := userKey(user)
	at := nanos(time.Now())
	if limit <= 0 {
		_, err := db.exec(ctx, `INSERT INTO offline(user, stanza, at) VALUES (?, ?, ?)`, u, sqlcommon.NonNil(stanza), at)
		if err != nil {
			return fmt.Errorf("sqlite: store offline message for %s: %w", u, err)
		}
		return nil
	}
	res, err := db.exec(ctx, `INSERT INTO offline(user, stanza, at)
		SELECT ?, ?, ? WHERE (SELECT COUNT(*) FROM offline WHERE user = ?) < ?`,
		u, sqlcommon.NonNil(stanza), at, u, limit)
	if err != nil {
		return fmt.Errorf("sqlite: store offline message for %s: %w", u, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: store offline message for %s: %w", u, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlite: store offline message for %s: %d stored: %w", u, limit, storage.ErrQuota)
	}
	return nil
}

// DeleteOffline removes the given messages of user; ids of other users'
// messages and unknown ids are ignored.
func (db *DB) DeleteOffline(ctx context.Context, user jid.JID, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	u := userKey(user)
	return db.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `DELETE FROM offline WHERE user = ? AND id = ?`)
		if err != nil {
			return fmt.Errorf("sqlite: delete offline messages of %s: %w", u, err)
		}
		defer st.Close()
		for _, id := range ids {
			if _, err := st.ExecContext(ctx, u, id); err != nil {
				return fmt.Errorf("sqlite: delete offline message %d of %s: %w", id, u, err)
			}
		}
		return nil
	})
}
