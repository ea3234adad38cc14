package postgres

import (
	"context"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

var _ storage.Importer = (*DB)(nil)

// ImportOffline appends msgs for user in order, keeping their times, in
// one transaction and without quota.
func (db *DB) ImportOffline(ctx context.Context, user jid.JID, msgs []storage.OfflineMessage) error {
	u := sqlcommon.UserKey(user)
	return db.transact(ctx, func(tx sqlcommon.Tx) error {
		if err := dialect().LockUser(ctx, tx, sqlcommon.LockOffline, u); err != nil {
			return fmt.Errorf("postgres: import offline messages: %w", err)
		}
		for i, m := range msgs {
			if _, err := tx.Exec(ctx, `INSERT INTO offline(username, stanza, at) VALUES ($1, $2, $3)`,
				u, sqlcommon.NonNil(m.Stanza), sqlcommon.Nanos(m.At)); err != nil {
				return fmt.Errorf("postgres: import offline message %d of %s: %w", i, u, err)
			}
		}
		return nil
	})
}

var _ storage.Lister = (*DB)(nil)
