package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

var _ storage.AccountStatus = (*DB)(nil)

// SetDisabled disables or re-enables an account; storage.ErrNotFound if
// there is no account.
func (db *DB) SetDisabled(ctx context.Context, user jid.JID, disabled bool) error {
	u := userKey(user)
	v := 0
	if disabled {
		v = 1
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE accounts SET disabled = ? WHERE user = ?`, v, u)
		if err != nil {
			return fmt.Errorf("sqlite: set disabled of %s: %w", u, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: set disabled of %s: %w", u, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: set disabled of %s: %w", u, storage.ErrNotFound)
		}
		return nil
	})
}

// Disabled reports whether an account is disabled; storage.ErrNotFound if
// there is no account.
func (db *DB) Disabled(ctx context.Context, user jid.JID) (bool, error) {
	u := userKey(user)
	var v int
	err := db.queryRow(ctx, `SELECT disabled FROM accounts WHERE user = ?`, u).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("sqlite: disabled %s: %w", u, storage.ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: disabled %s: %w", u, err)
	}
	return v != 0, nil
}
