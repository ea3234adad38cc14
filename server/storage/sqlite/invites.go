package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
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

const inviteColumns = `token, domain, username, max_uses, uses, created, expires`

// CreateInvite stores a new invitation; storage.ErrExists if the token is
// taken.
func (db *DB) CreateInvite(ctx context.Context, inv storage.Invite) error {
	if inv.Token == "" || inv.MaxUses < 1 {
		return fmt.Errorf("sqlite: create invite: empty token or fewer than one use")
	}
	var expires int64
	if !inv.Expires.IsZero() {
		expires = nanos(inv.Expires)
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO invites(`+inviteColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(token) DO NOTHING`,
			inv.Token, inv.Domain, inv.Username, inv.MaxUses, inv.Uses, nanos(inv.Created), expires)
		if err != nil {
			return fmt.Errorf("sqlite: create invite: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: create invite: %w", err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: create invite: %w", storage.ErrExists)
		}
		return nil
	})
}

type rowScanner interface{ Scan(dest ...any) error }

func scanInvite(r rowScanner) (storage.Invite, error) {
	var (
		inv              storage.Invite
		created, expires int64
	)
	if err := r.Scan(&inv.Token, &inv.Domain, &inv.Username, &inv.MaxUses, &inv.Uses, &created, &expires); err != nil {
		return storage.Invite{}, err
	}
	inv.Created = fromNanos(created)
	if expires != 0 {
		inv.Expires = fromNanos(expires)
	}
	return inv, nil
}

// Invite returns an invitation; storage.ErrNotFound if unknown.
func (db *DB) Invite(ctx context.Context, token string) (storage.Invite, error) {
	inv, err := scanInvite(db.r.QueryRowContext(ctx, `SELECT `+inviteColumns+` FROM invites WHERE token = ?`, token))
	if errors.Is(err, sql.ErrNoRows) {
		return storage.Invite{}, fmt.Errorf("sqlite: invite: %w", storage.ErrNotFound)
	}
	if err != nil {
		return storage.Invite{}, fmt.Errorf("sqlite: invite: %w", err)
	}
	return inv, nil
}

// UseInvite counts one use of an invitation valid at now, in one
// transaction; storage.ErrNotFound if it is unknown, expired or used up.
func (db *DB) UseInvite(ctx context.Context, token string, now time.Time) (storage.Invite, error) {
	var inv storage.Invite
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		inv, err = scanInvite(tx.QueryRowContext(ctx, `SELECT `+inviteColumns+` FROM invites WHERE token = ?`, token))
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

// DeleteInvite removes an invitation; storage.ErrNotFound if unknown.
func (db *DB) DeleteInvite(ctx context.Context, token string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM invites WHERE token = ?`, token)
		if err != nil {
			return fmt.Errorf("sqlite: delete invite: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: delete invite: %w", err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: delete invite: %w", storage.ErrNotFound)
		}
		return nil
	})
}

// ListInvites lists every invitation, oldest first.
func (db *DB) ListInvites(ctx context.Context) ([]storage.Invite, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+inviteColumns+` FROM invites ORDER BY created, token`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list invites: %w", err)
	}
	defer rows.Close()
	var out []storage.Invite
	for rows.Next() {
		inv, err := scanInvite(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list invites: %w", err)
		}
		out = append(out, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list invites: %w", err)
	}
	return out, nil
}
