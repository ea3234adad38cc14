package postgres

import (
	"context"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// TrimArchive deletes the oldest messages of user's archive until the
// rest fits in q, in one transaction; trims of the same archive
// serialise on an advisory lock.
func (db *DB) TrimArchive(ctx context.Context, user jid.JID, q storage.Quota) (removed, left storage.Usage, err error) {
	u := sqlcommon.UserKey(user)
	maxCount, maxBytes := q.Bounds()
	d := dialect()
	usage := d.SQL(sqlcommon.ArchiveUsageSQL)
	err = db.transact(ctx, func(tx sqlcommon.Tx) error {
		if err := d.LockUser(ctx, tx, sqlcommon.LockArchive, u); err != nil {
			return err
		}
		var before storage.Usage
		removed = storage.Usage{}
		if err := tx.QueryRow(ctx, usage, u).Scan(&before.Count, &before.Bytes); err != nil {
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
		if err := tx.QueryRow(ctx, usage, u).Scan(&left.Count, &left.Bytes); err != nil {
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
