package sqlcommon

import (
	"context"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Offline is the read side of storage.Offline; the inserts are Quota's,
// and the backend keeps the batch delete (one statement with an array, or
// one a message in a transaction).
type Offline struct {
	D Dialect
	R Querier
}

// OfflineMessages returns the messages stored for user in arrival order.
func (o Offline) OfflineMessages(ctx context.Context, user jid.JID) ([]storage.OfflineMessage, error) {
	u := UserKey(user)
	scan := func(row Row) (storage.OfflineMessage, error) {
		var (
			m  storage.OfflineMessage
			at int64
		)
		err := row.Scan(&m.ID, &m.Stanza, &at)
		m.At = FromNanos(at)
		return m, err
	}
	out, err := Collect(ctx, o.R, scan, o.D.SQL(`SELECT id, stanza, at FROM offline WHERE {user} = ? ORDER BY id`), u)
	if err != nil {
		return nil, fmt.Errorf("%s: offline messages of %s: %w", o.D.Name, u, err)
	}
	return out, nil
}

// OfflineCount returns how many messages are stored for user.
func (o Offline) OfflineCount(ctx context.Context, user jid.JID) (int, error) {
	u := UserKey(user)
	var n int
	if err := o.R.QueryRow(ctx, o.D.SQL(`SELECT COUNT(*) FROM offline WHERE {user} = ?`), u).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: offline count of %s: %w", o.D.Name, u, err)
	}
	return n, nil
}
