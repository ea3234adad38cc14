package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-xmpp/parley/server/storage"
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

const inviteColumns = `token, domain, username, max_uses, uses, created, expires`

// CreateInvite stores a new invitation; storage.ErrExists if the token is
// taken.
func (db *DB) CreateInvite(ctx context.Context, inv storage.Invite) error {
	if inv.Token == "" || inv.MaxUses < 1 {
		return fmt.Errorf("postgres: create invite: empty token or fewer than one use")
	}
	var expires int64
	if !inv.Expires.IsZero() {
		expires = nanos(inv.Expires)
	}
	tag, err := db.pool.Exec(ctx, `INSERT INTO invites(`+inviteColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (token) DO NOTHING`,
		inv.Token, inv.Domain, inv.Username, inv.MaxUses, inv.Uses, nanos(inv.Created), expires)
	if err != nil {
		return fmt.Errorf("postgres: create invite: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: create invite: %w", storage.ErrExists)
	}
	return nil
}

func scanInvite(r pgx.Row) (storage.Invite, error) {
	var (
		inv              storage.Invite
		maxUses, uses    int32
		created, expires int64
	)
	if err := r.Scan(&inv.Token, &inv.Domain, &inv.Username, &maxUses, &uses, &created, &expires); err != nil {
		return storage.Invite{}, err
	}
	inv.MaxUses, inv.Uses = int(maxUses), int(uses)
	inv.Created = fromNanos(created)
	if expires != 0 {
		inv.Expires = fromNanos(expires)
	}
	return inv, nil
}

// Invite returns an invitation; storage.ErrNotFound if unknown.
func (db *DB) Invite(ctx context.Context, token string) (storage.Invite, error) {
	inv, err := scanInvite(db.pool.QueryRow(ctx, `SELECT `+inviteColumns+` FROM invites WHERE token = $1`, token))
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.Invite{}, fmt.Errorf("postgres: invite: %w", storage.ErrNotFound)
	}
	if err != nil {
		return storage.Invite{}, fmt.Errorf("postgres: invite: %w", err)
	}
	return inv, nil
}

// UseInvite counts one use of an invitation valid at now, in one
// statement; storage.ErrNotFound if it is unknown, expired or used up.
func (db *DB) UseInvite(ctx context.Context, token string, now time.Time) (storage.Invite, error) {
	inv, err := scanInvite(db.pool.QueryRow(ctx, `UPDATE invites SET uses = uses + 1
		WHERE token = $1 AND uses < max_uses AND (expires = 0 OR expires > $2)
		RETURNING `+inviteColumns, token, nanos(now)))
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.Invite{}, fmt.Errorf("postgres: use invite: %w", storage.ErrNotFound)
	}
	if err != nil {
		return storage.Invite{}, fmt.Errorf("postgres: use invite: %w", err)
	}
	return inv, nil
}

// DeleteInvite removes an invitation; storage.ErrNotFound if unknown.
func (db *DB) DeleteInvite(ctx context.Context, token string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM invites WHERE token = $1`, token)
	if err != nil {
		return fmt.Errorf("postgres: delete invite: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete invite: %w", storage.ErrNotFound)
	}
	return nil
}

// ListInvites lists every invitation, oldest first.
func (db *DB) ListInvites(ctx context.Context) ([]storage.Invite, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+inviteColumns+` FROM invites ORDER BY created, token`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list invites: %w", err)
	}
	defer rows.Close()
	var out []storage.Invite
	for rows.Next() {
		inv, err := scanInvite(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list invites: %w", err)
		}
		out = append(out, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list invites: %w", err)
	}
	return out, nil
}
