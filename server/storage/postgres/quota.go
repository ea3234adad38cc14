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

// lockUser takes the transaction-level advisory lock of class for user
// key u.
func lockUser(ctx context.Context, tx pgx.Tx, class int32, u string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, class, u); err != nil {
		return fmt.Errorf("locking %s: %w", u, err)
	}
	return nil
}

// StoreOfflineWithin appends a message for user unless the user's stored
// messages would then exceed q; storage.ErrQuota then. Callers for the
// same user serialise on the offline advisory lock (the one StoreOffline
// takes), so concurrent callers cannot exceed q.
func (db *DB) StoreOfflineWithin(ctx context.Context, user jid.JID, stanza []byte, q storage.Quota) error {
	u := userKey(user)
	maxCount, maxBytes := q.Bounds()
	room := maxBytes - int64(len(stanza))
	if room < 0 {
		return fmt.Errorf("postgres: store offline message for %s: %d bytes: %w", u, len(stanza), storage.ErrQuota)
	}
	return db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockOffline(ctx, tx, u); err != nil {
			return fmt.Errorf("postgres: store offline message: %w", err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO offline(username, stanza, at)
			SELECT $1, $2, $3 WHERE (SELECT COUNT(*) < $4 AND COALESCE(SUM(octet_length(stanza)), 0) <= $5
				FROM offline WHERE username = $1)`,
			u, sqlcommon.NonNil(stanza), nanos(time.Now()), maxCount, room)
		if err != nil {
			return fmt.Errorf("postgres: store offline message for %s: %w", u, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: store offline message for %s: %w", u, storage.ErrQuota)
		}
		return nil
	})
}

// SetPrivateXMLWithin stores elems unless the user's elements would then
// exceed q; storage.ErrQuota then, and none is stored. Callers for the
// same user serialise on an advisory lock, so concurrent callers cannot
// exceed q.
func (db *DB) SetPrivateXMLWithin(ctx context.Context, user jid.JID, elems []storage.PrivateElement, q storage.Quota) error {
	u := userKey(user)
	maxCount, maxBytes := q.Bounds()
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, privateLockClass, u); err != nil {
			return err
		}
		for _, e := range elems {
			room := maxBytes - int64(len(e.Data))
			if room < 0 {
				return fmt.Errorf("%q: %d bytes: %w", e.Key, len(e.Data), storage.ErrQuota)
			}
			tag, err := tx.Exec(ctx, `INSERT INTO private_xml(username, key, data)
				SELECT $1, $2, $3 WHERE (SELECT COUNT(*) < $4 AND COALESCE(SUM(octet_length(data)), 0) <= $5
					FROM private_xml WHERE username = $1 AND key <> $2)
				ON CONFLICT (username, key) DO UPDATE SET data = excluded.data`,
				u, e.Key, sqlcommon.NonNil(e.Data), maxCount, room)
			if err != nil {
				return fmt.Errorf("%q: %w", e.Key, err)
			}
			if tag.RowsAffected() == 0 {
				return fmt.Errorf("%q: %w", e.Key, storage.ErrQuota)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: set private xml of %s: %w", u, err)
	}
	return nil
}

// archiveUsageQuery measures one archive.
const archiveUsageQuery = `SELECT COUNT(*), COALESCE(SUM(octet_length(stanza)), 0) FROM archive WHERE username = $1`

// ArchiveUsage returns the number of messages of user's archive and the
// total size of their stanzas.
func (db *DB) ArchiveUsage(ctx context.Context, user jid.JID) (storage.Usage, error) {
	u := userKey(user)
	var us storage.Usage
	if err := db.pool.QueryRow(ctx, archiveUsageQuery, u).Scan(&us.Count, &us.Bytes); err != nil {
		return us, fmt.Errorf("postgres: archive usage of %s: %w", u, err)
	}
	return us, nil
}

// TrimArchive deletes the oldest messages of user's archive until the
// rest fits in q, in one transaction; trims of the same archive
// serialise on an advisory lock.
func (db *DB) TrimArchive(ctx context.Context, user jid.JID, q storage.Quota) (removed, left storage.Usage, err error) {
	u := userKey(user)
	maxCount, maxBytes := q.Bounds()
	err = db.tx(ctx, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, archiveLockClass, u); err != nil {
			return err
		}
		var before storage.Usage
		removed = storage.Usage{}
		if err := tx.QueryRow(ctx, archiveUsageQuery, u).Scan(&before.Count, &before.Bytes); err != nil {
			return err
		}
		left = before
		if !before.Exceeds(q) {
			return nil
		}
		// Newest first, the running count and size; the newest message
		// that does not fit goes, with everything older.
		if _, err := tx.Exec(ctx, `DELETE FROM archive WHERE username = $1 AND seq <= (
			SELECT seq FROM (
				SELECT seq, ROW_NUMBER() OVER w AS n, SUM(octet_length(stanza)) OVER w AS b
				FROM archive WHERE username = $1
				WINDOW w AS (ORDER BY seq DESC ROWS UNBOUNDED PRECEDING)
			) AS running WHERE n > $2 OR b > $3 ORDER BY seq DESC LIMIT 1)`, u, maxCount, maxBytes); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, archiveUsageQuery, u).Scan(&left.Count, &left.Bytes); err != nil {
			return err
		}
		removed = storage.Usage{Count: before.Count - left.Count, Bytes: before.Bytes - left.Bytes}
		return nil
	})
	if err != nil {
		return storage.Usage{}, storage.Usage{}, fmt.Errorf("postgres: trim archive of %s: %w", u, err)
	}
	return removed, left, nil
}
