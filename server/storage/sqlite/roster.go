package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// RosterItems returns the items of user sorted by contact, with the current
// roster version (0 if the roster was never written). Both are read by one
// statement, hence from one snapshot: a transaction around two statements
// cost as much as the reads themselves, and every login reads the roster.
// The statement yields one row with NULL item columns for an empty roster.
// It hides the shared RosterItems (sqlcommon.Roster), which reads the two
// in a read transaction.
func (db *DB) RosterItems(ctx context.Context, user jid.JID) ([]storage.RosterItem, int64, error) {
	u := sqlcommon.UserKey(user)
	rows, err := db.query(ctx, `SELECT v.version, i.contact, i.name, i.groups, i.subscription, i.ask_out, i.pre_approved
		FROM (SELECT ? AS user) q
		LEFT JOIN roster_versions v ON v.user = q.user
		LEFT JOIN roster_items i ON i.user = q.user
		ORDER BY i.contact`, u)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: roster of %s: %w", u, err)
	}
	defer rows.Close()
	var (
		items []storage.RosterItem
		ver   sql.NullInt64
	)
	for rows.Next() {
		var (
			contact, name, groups sql.NullString
			sub                   sql.NullInt64
			ask, pre              sql.NullBool
		)
		if err := rows.Scan(&ver, &contact, &name, &groups, &sub, &ask, &pre); err != nil {
			return nil, 0, fmt.Errorf("sqlite: roster of %s: %w", u, err)
		}
		if !contact.Valid {
			continue // the row of an empty roster
		}
		it, err := dialect().RosterItem(contact.String, name.String, groups.String, int(sub.Int64), ask.Bool, pre.Bool)
		if err != nil {
			return nil, 0, fmt.Errorf("sqlite: roster of %s: %w", u, err)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("sqlite: roster of %s: %w", u, err)
	}
	return items, ver.Int64, nil
}
