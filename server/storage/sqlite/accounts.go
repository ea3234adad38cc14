package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// CreateAccount creates user with keys; storage.ErrExists if it exists.
func (db *DB) CreateAccount(ctx context.Context, user jid.JID, keys []storage.SCRAMKey) error {
	if user.IsZero() || user.Local() == "" {
		return fmt.Errorf("sqlite: create account %q: not a bare JID with a localpart", user)
	}
	u := userKey(user)
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO accounts(user, domain, created) VALUES (?, ?, ?) ON CONFLICT(user) DO NOTHING`,
			u, user.Domain(), nanos(time.Now()))
		if err != nil {
			return fmt.Errorf("sqlite: create account %s: %w", u, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: create account %s: %w", u, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: create account %s: %w", u, storage.ErrExists)
		}
		return insertKeys(ctx, tx, u, keys)
	})
}

// SetKeys replaces the keys of user; storage.ErrNotFound if there is no
// account.
func (db *DB) SetKeys(ctx context.Context, user jid.JID, keys []storage.SCRAMKey) error {
	u := userKey(user)
	return db.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE user = ?`, u).Scan(&one)
		if err == sql.ErrNoRows {
			return fmt.Errorf("sqlite: set keys of %s: %w", u, storage.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("sqlite: set keys of %s: %w", u, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM scram_keys WHERE user = ?`, u); err != nil {
			return fmt.Errorf("sqlite: set keys of %s: %w", u, err)
		}
		return insertKeys(ctx, tx, u, keys)
	})
}

func insertKeys(ctx context.Context, tx *sql.Tx, u string, keys []storage.SCRAMKey) error {
	for _, k := range keys {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO scram_keys(user, hash, salt, iterations, stored_key, server_key) VALUES (?, ?, ?, ?, ?, ?)`,
			u, k.Hash, nonNil(k.Salt), k.Iterations, nonNil(k.StoredKey), nonNil(k.ServerKey))
		if err != nil {
			return fmt.Errorf("sqlite: storing %s key of %s: %w", k.Hash, u, err)
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
	rows, err := db.query(ctx, `SELECT a.disabled, k.hash, k.salt, k.iterations, k.stored_key, k.server_key
		FROM accounts a LEFT JOIN scram_keys k ON k.user = a.user
		WHERE a.user = ? ORDER BY k.rowid`, u)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: keys of %s: %w", u, err)
	}
	defer rows.Close()
	found, disabled := false, false
	keys := []storage.SCRAMKey{}
	for rows.Next() {
		found = true
		var (
			flag       int
			hash       sql.NullString
			iterations sql.NullInt64
			k          storage.SCRAMKey
		)
		if err := rows.Scan(&flag, &hash, &k.Salt, &iterations, &k.StoredKey, &k.ServerKey); err != nil {
			return nil, false, fmt.Errorf("sqlite: keys of %s: %w", u, err)
		}
		disabled = flag != 0
		if !hash.Valid {
			continue // an account without keys
		}
		k.Hash, k.Iterations = hash.String, int(iterations.Int64)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("sqlite: keys of %s: %w", u, err)
	}
	if !found {
		return nil, false, fmt.Errorf("sqlite: keys of %s: %w", u, storage.ErrNotFound)
	}
	return keys, disabled, nil
}

// DeleteAccount removes the account and every row stored for it, in one
// transaction; storage.ErrNotFound if there is no account.
func (db *DB) DeleteAccount(ctx context.Context, user jid.JID) error {
	u := userKey(user)
	return db.tx(ctx, func(tx *sql.Tx) error {
		for _, t := range userTables {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE user = ?`, u); err != nil {
				return fmt.Errorf("sqlite: delete account %s: table %s: %w", u, t, err)
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE user = ?`, u)
		if err != nil {
			return fmt.Errorf("sqlite: delete account %s: %w", u, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: delete account %s: %w", u, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: delete account %s: %w", u, storage.ErrNotFound)
		}
		db.log.InfoContext(ctx, "account deleted", "user", u)
		return nil
	})
}

// AccountExists reports whether user has an account.
func (db *DB) AccountExists(ctx context.Context, user jid.JID) (bool, error) {
	u := userKey(user)
	var one int
	err := db.queryRow(ctx, `SELECT 1 FROM accounts WHERE user = ?`, u).Scan(&one)
	if err == sql.ErrNoRows {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: account %s exists: %w", u, err)
	}
	return true, nil
}

// ListAccounts lists the accounts of domain (all domains if empty), sorted
// by bare JID.
func (db *DB) ListAccounts(ctx context.Context, domain string) ([]jid.JID, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if domain == "" {
		rows, err = db.r.QueryContext(ctx, `SELECT user FROM accounts ORDER BY user`)
	} else {
		rows, err = db.r.QueryContext(ctx, `SELECT user FROM accounts WHERE domain = ? ORDER BY user`, domain)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: list accounts of %q: %w", domain, err)
	}
	defer rows.Close()
	var out []jid.JID
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("sqlite: list accounts of %q: %w", domain, err)
		}
		j, err := parseJID(s, "account")
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list accounts of %q: %w", domain, err)
	}
	return out, nil
}

// nonNil returns b, or an empty non-nil slice, so NOT NULL blob columns
// accept empty values.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

var _ storage.IterationCounter = (*DB)(nil)

// IterationCounts implements storage.IterationCounter.
func (db *DB) IterationCounts(ctx context.Context) (map[int]int, error) {
	rows, err := db.query(ctx, `SELECT iterations, COUNT(DISTINCT user) FROM scram_keys GROUP BY iterations`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: iteration counts: %w", err)
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var it, n int
		if err := rows.Scan(&it, &n); err != nil {
			return nil, fmt.Errorf("sqlite: iteration counts: %w", err)
		}
		out[it] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: iteration counts: %w", err)
	}
	return out, nil
}
