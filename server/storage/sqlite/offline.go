package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// DeleteOffline removes the given messages of user; ids of other users'
// messages and unknown ids are ignored.
func (db *DB) DeleteOffline(ctx context.Context, user jid.JID, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	u := sqlcommon.UserKey(user)
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
