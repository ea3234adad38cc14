package sqlite

import (
	"context"
	"database/sql"
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
	return db.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO offline(user, stanza, at) VALUES (?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("sqlite: import offline messages of %s: %w", u, err)
		}
		defer st.Close()
		for i, m := range msgs {
			if _, err := st.ExecContext(ctx, u, sqlcommon.NonNil(m.Stanza), sqlcommon.Nanos(m.At)); err != nil {
				return fmt.Errorf("sqlite: import offline message %d of %s: %w", i, u, err)
			}
		}
		return nil
	})
}

var _ storage.Lister = (*DB)(nil)
