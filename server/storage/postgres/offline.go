package postgres

import (
	"context"
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
	_, err := db.pool.Exec(ctx, `DELETE FROM offline WHERE username = $1 AND id = ANY($2)`, u, ids)
	if err != nil {
		return fmt.Errorf("postgres: delete offline messages of %s: %w", u, err)
	}
	return nil
}
