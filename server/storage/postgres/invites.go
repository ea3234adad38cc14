package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
)

// migrationAccountAdmin adds the disabled flag of accounts (XEP-0133) and
// the invitation tokens (XEP-0401).
const migrationAccountAdmin = `
ALTER TABLE accounts ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE invites (
	token    TEXT COLLATE "C" PRIMARY KEY,
	domain   TEXT COLLATE "C" NOT NULL,
	username TEXT COLLATE "C" NOT NULL,
	max_uses INTEGER NOT NULL,
	uses     INTEGER NOT NULL,
	created  BIGINT NOT NULL,
	expires  BIGINT NOT NULL
);
`

var _ storage.Invites = (*DB)(nil)

// UseInvite counts one use of an invitation valid at now, in one
// statement; storage.ErrNotFound if it is unknown, expired or used up.
func (db *DB) UseInvite(ctx context.Context, token string, now time.Time) (storage.Invite, error) {
	inv, err := sqlcommon.ScanInvite(db.pool.QueryRow(ctx, `UPDATE invites SET uses = uses + 1
		WHERE token = $1 AND uses < max_uses AND (expires = 0 OR expires > $2)
		RETURNING `+sqlcommon.InviteColumns, token, sqlcommon.Nanos(now)))
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.Invite{}, fmt.Errorf("postgres: use invite: %w", storage.ErrNotFound)
	}
	if err != nil {
		return storage.Invite{}, fmt.Errorf("postgres: use invite: %w", err)
	}
	return inv, nil
}
