package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

var _ storage.AccountStatus = (*DB)(nil)

// SetDisabled disables or re-enables an account; storage.ErrNotFound if
// there is no account.
func (db *DB) SetDisabled(ctx context.Context, user jid.JID, disabled bool) error {
	u := userKey(user)
	tag, err := db.pool.Exec(ctx, `UPDATE accounts SET disabled = $1 WHERE username = $2`, disabled, u)
	if err != nil {
		return fmt.Errorf("postgres: set disabled of %s: %w", u, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: set disabled of %s: %w", u, storage.ErrNotFound)
	}
	return nil
}

// Disabled reports whether an account is disabled; storage.ErrNotFound if
// there is no account.
func (db *DB) Disabled(ctx context.Context, user jid.JID) (bool, error) {
	u := userKey(user)
	var v bool
	err := db.pool.QueryRow(ctx, `SELECT disabled FROM accounts WHERE username = $1`, u).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("postgres: disabled %s: %w", u, storage.ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("postgres: disabled %s: %w", u, err)
	}
	return v, nil
}
