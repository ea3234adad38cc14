package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// CreateAccount creates user with keys; storage.ErrExists if it exists.
func (db *DB) CreateAccount(ctx context.Context, user jid.JID, keys []storage.SCRAMKey) error {
	if user.IsZero() || user.Local() == "" {
		return fmt.Errorf("postgres: create account %q: not a bare JID with a localpart", user)
	}
	u := userKey(user)
	return db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx,
			`INSERT INTO accounts(username, domain, created) VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING`,
			u, user.Domain(), nanos(time.Now()))
		if err != nil {
			return fmt.Errorf("postgres: create account %s: %w", u, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: create account %s: %w", u, storage.ErrExists)
		}
		return insertKeys(ctx, tx, u, keys)
	})
}

// SetKeys replaces the keys of user; storage.ErrNotFound if there is no
// account.
func (db *DB) SetKeys(ctx context.Context, user jid.JID, keys []storage.SCRAMKey) error {
	u := userKey(user)
	return db.tx(ctx, func(tx pgx.Tx) error {
		// FOR UPDATE: a concurrent DeleteAccount cannot slip in between.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE username = $1 FOR UPDATE`, u).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: set keys of %s: %w", u, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: set keys of %s: %w", u, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM scram_keys WHERE username = $1`, u); err != nil {
			return fmt.Errorf("postgres: set keys of %s: %w", u, err)
		}
		return insertKeys(ctx, tx, u, keys)
	})
}

// insertKeys stores keys for u, remembering their order.
func insertKeys(ctx context.Context, tx pgx.Tx, u string, keys []storage.SCRAMKey) error {
	for i, k := range keys {
		_, err := tx.Exec(ctx,
			`INSERT INTO scram_keys(username, ord, hash, salt, iterations, stored_key, server_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			u, i, k.Hash, nonNil(k.Salt), k.Iterations, nonNil(k.StoredKey), nonNil(k.ServerKey))
		if err != nil {
			return fmt.Errorf("postgres: storing %s key of %s: %w", k.Hash, u, err)
		}
	}
	return nil
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
	u := userKey(user)
	rows, err := db.pool.Query(ctx, `SELECT a.disabled, k.hash, k.salt, k.iterations, k.stored_key, k.server_key
		FROM accounts a LEFT JOIN scram_keys k ON k.username = a.username
		WHERE a.username = $1 ORDER BY k.ord`, u)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: keys of %s: %w", u, err)
	}
	defer rows.Close()
	found, disabled := false, false
	keys := []storage.SCRAMKey{}
	for rows.Next() {
		found = true
		var (
			hash       *string
			iterations *int
			k          storage.SCRAMKey
		)
		if err := rows.Scan(&disabled, &hash, &k.Salt, &iterations, &k.StoredKey, &k.ServerKey); err != nil {
			return nil, false, fmt.Errorf("postgres: keys of %s: %w", u, err)
		}
		if hash == nil {
			continue // an account without keys
		}
		k.Hash, k.Iterations = *hash, *iterations
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("postgres: keys of %s: %w", u, err)
	}
	if !found {
		return nil, false, fmt.Errorf("postgres: keys of %s: %w", u, storage.ErrNotFound)
	}
	return keys, disabled, nil
}

// DeleteAccount removes the account and every row stored for it, in one
// transaction; storage.ErrNotFound if there is no account.
func (db *DB) DeleteAccount(ctx context.Context, user jid.JID) error {
	u := userKey(user)
	return db.tx(ctx, func(tx pgx.Tx) error {
		// Lock the account first so that concurrent deletes of the same
		// user serialise and exactly one of them succeeds.
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE username = $1 FOR UPDATE`, u).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: delete account %s: %w", u, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("postgres: delete account %s: %w", u, err)
		}
		// The offline quota lock: no message is stored for the user while
		// its messages are being deleted.
		if err := lockOffline(ctx, tx, u); err != nil {
			return fmt.Errorf("postgres: delete account %s: %w", u, err)
		}
		for _, t := range userTables {
			if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE username = $1`, u); err != nil {
				return fmt.Errorf("postgres: delete account %s: table %s: %w", u, t, err)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM accounts WHERE username = $1`, u); err != nil {
			return fmt.Errorf("postgres: delete account %s: %w", u, err)
		}
		db.log.InfoContext(ctx, "account deleted", "user", u)
		return nil
	})
}

// AccountExists reports whether user has an account.
func (db *DB) AccountExists(ctx context.Context, user jid.JID) (bool, error) {
	u := userKey(user)
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE username = $1)`, u).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("postgres: account %s exists: %w", u, err)
	}
	return ok, nil
}

// ListAccounts lists the accounts of domain (all domains if empty), sorted
// by bare JID.
func (db *DB) ListAccounts(ctx context.Context, domain string) ([]jid.JID, error) {
	var (
		rows pgx.Rows
		err  error
	)
	if domain == "" {
		rows, err = db.pool.Query(ctx, `SELECT username FROM accounts ORDER BY username`)
	} else {
		rows, err = db.pool.Query(ctx, `SELECT username FROM accounts WHERE domain = $1 ORDER BY username`, domain)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: list accounts of %q: %w", domain, err)
	}
	return collectJIDs(rows, "account", fmt.Sprintf("list accounts of %q", domain))
}

// collectJIDs reads and closes rows of one JID column.
func collectJIDs(rows pgx.Rows, what, op string) ([]jid.JID, error) {
	defer rows.Close()
	var out []jid.JID
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("postgres: %s: %w", op, err)
		}
		j, err := parseJID(s, what)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
	}
	return out, nil
}

var _ storage.IterationCounter = (*DB)(nil)

// IterationCounts implements storage.IterationCounter.
func (db *DB) IterationCounts(ctx context.Context) (map[int]int, error) {
	rows, err := db.pool.Query(ctx, `SELECT iterations, COUNT(DISTINCT username) FROM scram_keys GROUP BY iterations`)
	if err != nil {
		return nil, fmt.Errorf("postgres: iteration counts: %w", err)
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var it, n int
		if err := rows.Scan(&it, &n); err != nil {
			return nil, fmt.Errorf("postgres: iteration counts: %w", err)
		}
		out[it] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: iteration counts: %w", err)
	}
	return out, nil
}
