package postgres

import (
	"context"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// CreateAccount creates user with keys; storage.ErrExists if it exists.
func (db *DB) CreateAccount(ctx context.Context, user jid.JID, keys []storage.SCRAMKey) error {
	return db.accounts().CreateAccount(ctx, user, keys)
}

// SetKeys replaces the keys of user; storage.ErrNotFound if there is no
// account.
func (db *DB) SetKeys(ctx context.Context, user jid.JID, keys []storage.SCRAMKey) error {
	return db.accounts().SetKeys(ctx, user, keys)
}

// Keys returns the keys of user in the order they were stored;
// storage.ErrNotFound if there is no account.
func (db *DB) Keys(ctx context.Context, user jid.JID) ([]storage.SCRAMKey, error) {
	keys, _, err := db.LoginKeys(ctx, user)
	return keys, err
}

var _ storage.LoginReader = (*DB)(nil)

// LoginKeys returns the user's keys and its disabled flag, read by one
// query (so also from one snapshot); storage.ErrNotFound if there is no
// account.
func (db *DB) LoginKeys(ctx context.Context, user jid.JID) ([]storage.SCRAMKey, bool, error) {
	return db.accounts().LoginKeys(ctx, user)
}

// DeleteAccount removes the account and every row stored for it, in one
// transaction; storage.ErrNotFound if there is no account.
func (db *DB) DeleteAccount(ctx context.Context, user jid.JID) error {
	return db.accounts().DeleteAccount(ctx, user)
}

// AccountExists reports whether user has an account.
func (db *DB) AccountExists(ctx context.Context, user jid.JID) (bool, error) {
	return db.accounts().AccountExists(ctx, user)
}

// ListAccounts lists the accounts of domain (all domains if empty), sorted
// by bare JID.
func (db *DB) ListAccounts(ctx context.Context, domain string) ([]jid.JID, error) {
	return db.accounts().ListAccounts(ctx, domain)
}

var _ storage.IterationCounter = (*DB)(nil)

// IterationCounts implements storage.IterationCounter.
func (db *DB) IterationCounts(ctx context.Context) (map[int]int, error) {
	return db.accounts().IterationCounts(ctx)
}

var _ storage.AccountStatus = (*DB)(nil)

// SetDisabled disables or re-enables an account; storage.ErrNotFound if
// there is no account.
func (db *DB) SetDisabled(ctx context.Context, user jid.JID, disabled bool) error {
	return db.accounts().SetDisabled(ctx, user, disabled)
}

// Disabled reports whether an account is disabled; storage.ErrNotFound if
// there is no account.
func (db *DB) Disabled(ctx context.Context, user jid.JID) (bool, error) {
	return db.accounts().Disabled(ctx, user)
}
