package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// TrimArchive deletes the oldest messages of user's archive until the
// rest fits in q, in one write transaction.
func (db *DB) TrimArchive(ctx context.Context, user jid.JID, q storage.Quota) (removed, left storage.Usage, err error) {
	u := sqlcommon.UserKey(user)
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
		return tx.QueryRowContext(ctx, dialect().SQL(sqlcommon.ArchiveUsageSQL), u).Scan(&left.Count, &left.Bytes)
	})
	if err != nil {
		return storage.Usage{}, storage.Usage{}, fmt.Errorf("sqlite: trim archive of %s: %w", u, err)
	}
	return removed, left, nil
}
