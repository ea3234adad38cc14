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

// StoreOfflineWithin appends a message for user unless the user's stored
// messages would then exceed q; storage.ErrQuota then. The check and the
// insert are one statement on the single writer connection, so
// concurrent callers cannot exceed q.
func (db *DB) StoreOfflineWithin(ctx context.Context, user jid.JID, stanza []byte, q storage.Quota) error {
	u := userKey(user)
	maxCount, maxBytes := q.Bounds()
	room := maxBytes - int64(len(stanza)) // bytes the others may take
	if room < 0 {
		return fmt.Errorf("sqlite: store offline message for %s: %d bytes: %w", u, len(stanza), storage.ErrQuota)
	}
	res, err := db.exec(ctx, `INSERT INTO offline(user, stanza, at)
		SELECT ?, ?, ? WHERE (SELECT COUNT(*) < ? AND COALESCE(SUM(LENGTH(stanza)), 0) <= ? FROM offline WHERE user = ?)`,
		u, sqlcommon.NonNil(stanza), nanos(time.Now()), maxCount, room, u)
	if err != nil {
		return fmt.Errorf("sqlite: store offline message for %s: %w", u, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: store offline message for %s: %w", u, err)
	} else if n == 0 {
		return fmt.Errorf("sqlite: store offline message for %s: %w", u, storage.ErrQuota)
	}
	return nil
}

// SetPrivateXMLWithin stores elems unless the user's elements would then
// exceed q; storage.ErrQuota then, and none is stored. One transaction on
// the single writer connection: concurrent callers cannot exceed q.
func (db *DB) SetPrivateXMLWithin(ctx context.Context, user jid.JID, elems []storage.PrivateElement, q storage.Quota) error {
	u := userKey(user)
	maxCount, maxBytes := q.Bounds()
	err := db.tx(ctx, func(tx *sql.Tx) error {
		for _, e := range elems {
			room := maxBytes - int64(len(e.Data)) // bytes the others may take
			if room < 0 {
				return fmt.Errorf("%q: %d bytes: %w", e.Key, len(e.Data), storage.ErrQuota)
			}
			// The WHERE clause also keeps SQLite from reading ON CONFLICT
			// as a join constraint of the SELECT.
			res, err := tx.ExecContext(ctx, `INSERT INTO private_xml(user, key, data)
				SELECT ?, ?, ? WHERE (SELECT COUNT(*) < ? AND COALESCE(SUM(LENGTH(data)), 0) <= ? FROM private_xml WHERE user = ? AND key <> ?)
				ON CONFLICT(user, key) DO UPDATE SET data = excluded.data`,
				u, e.Key, sqlcommon.NonNil(e.Data), maxCount, room, u, e.Key)
			if err != nil {
				return fmt.Errorf("%q: %w", e.Key, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("%q: %w", e.Key, err)
			} else if n == 0 {
				return fmt.Errorf("%q: %w", e.Key, storage.ErrQuota)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: set private xml of %s: %w", u, err)
	}
	return nil
}

// archiveUsageQuery measures one archive.
const archiveUsageQuery = `SELECT COUNT(*), COALESCE(SUM(LENGTH(stanza)), 0) FROM archive WHERE user = ?`

// ArchiveUsage returns the number of messages of user's archive and the
// total size of their stanzas.
func (db *DB) ArchiveUsage(ctx context.Context, user jid.JID) (storage.Usage, error) {
	u := userKey(user)
	var us storage.Usage
	if err := db.queryRow(ctx, archiveUsageQuery, u).Scan(&us.Count, &us.Bytes); err != nil {
		return us, fmt.Errorf("sqlite: archive usage of %s: %w", u, err)
	}
	return us, nil
}

// TrimArchive deletes the oldest messages of user's archive until the
// rest fits in q, in one write transaction.
func (db *DB) TrimArchive(ctx context.Context, user jid.JID, q storage.Quota) (removed, left storage.Usage, err error) {
	u := userKey(user)
	maxCount, maxBytes := q.Bounds()
	err = db.tx(ctx, func(tx *sql.Tx) error {
		removed = storage.Usage{}
		// Newest first, the running count and size: what does not fit
		// goes, by rowid.
		rows, err := tx.QueryContext(ctx, `DELETE FROM archive WHERE seq IN (
			SELECT seq FROM (
				SELECT seq, ROW_NUMBER() OVER w AS n, SUM(LENGTH(stanza)) OVER w AS b
				FROM archive WHERE user = ?
				WINDOW w AS (ORDER BY seq DESC ROWS UNBOUNDED PRECEDING)
			) WHERE n > ? OR b > ?) RETURNING LENGTH(stanza)`, u, maxCount, maxBytes)
		if err != nil {
			return err
		}
		for rows.Next() {
			var size int64
			if err := rows.Scan(&size); err != nil {
				rows.Close()
				return err
			}
			removed.Count++
			removed.Bytes += size
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, archiveUsageQuery, u).Scan(&left.Count, &left.Bytes)
	})
	if err != nil {
		return storage.Usage{}, storage.Usage{}, fmt.Errorf("sqlite: trim archive of %s: %w", u, err)
	}
	return removed, left, nil
}
