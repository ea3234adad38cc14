package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// rosterColumns are the columns scanRosterItem reads, in order.
const rosterColumns = `contact, name, groups, subscription, ask_out, pre_approved`

// RosterItems returns the items of user sorted by contact, with the current
// roster version (0 if the roster was never written). Both are read from one
// snapshot.
func (db *DB) RosterItems(ctx context.Context, user jid.JID) ([]storage.RosterItem, int64, error) {
	var (
		items []storage.RosterItem
		ver   int64
	)
	err := db.txOpts(ctx, snapshot(), func(tx pgx.Tx) error {
		var err error
		items, ver, err = db.Roster.ReadRoster(ctx, shared{tx}, sqlcommon.UserKey(user))
		return err
	})
	return items, ver, err
}
