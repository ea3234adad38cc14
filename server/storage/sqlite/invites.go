package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
)

// migrationAccountAdmin adds the disabled flag of accounts (XEP-0133) and
// the invitation tokens (XEP-0401).
const migrationAccountAdmin = `
ALTER TABLE accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;

CREATE TABLE invites (
	token    TEXT PRIMARY KEY,
	domain   TEXT NOT NULL,
	username TEXT NOT NULL,
	max_uses INTEGER NOT NULL,
	uses     INTEGER NOT NULL,
	created  INTEGER NOT NULL,
	expires  INTEGER NOT NULL
);
`

var _ storage.Invites = (*DB)(nil)

// UseInvite counts one use of an invitation valid at now, in one
// transaction; storage.ErrNotFound if it is unknown, expired or used up.
func (db *DB) UseInvite(ctx context.Context, token string, now time.Time) (storage.Invite, error) {
	var inv storage.Invite
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		inv, err = sqlcommon.ScanInvite(tx.QueryRowContext(ctx, `SELECT `+sqlcommon.InviteColumns+` FROM invites WHERE token = ?`, token))
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !inv.Valid(now)) {
			return fmt.Errorf("sqlite: use invite: %w", storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: use invite: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE invites SET uses = uses + 1 WHERE token = ?`, token); err != nil {
			return fmt.Errorf("sqlite: use invite: %w", err)
		}
		inv.Uses++
		return nil
	})
	if err != nil {
		return storage.Invite{}, err
	}
	return inv, nil
}
