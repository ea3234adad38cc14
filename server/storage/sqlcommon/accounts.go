package sqlcommon

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// Accounts is the SQL of storage.Accounts, storage.LoginReader,
// storage.IterationCounter and storage.AccountStatus.
type Accounts struct {
	D   Dialect
	R   Querier  // reads
	W   Execer   // writes of one statement
	Tx  Transact // writes of several
	Log *slog.Logger
}

// userTables lists every table holding per-user rows (in the owner's
// column, Dialect.UserColumn), for DeleteAccount. accounts comes last;
// scram_keys also cascades from it (and fast_tokens from scram_keys).
// It is an array, so that nothing can change it.
var userTables = [...]string{
	"scram_keys",
	"roster_versions",
	"roster_items",
	"subscription_requests",
	"offline",
	"vcards",
	"private_xml",
	"blocklist",
	"last_activity",
	"archive",
	"archive_prefs",
	"pubsub_nodes",
	"pubsub_items",
	"pubsub_affiliations",
	"pubsub_subscriptions",
	"fast_tokens",
	"push_registrations",
}

// CreateAccount creates user with keys; storage.ErrExists if it exists.
func (a Accounts) CreateAccount(ctx context.Context, user jid.JID, keys []storage.SCRAMKey) error {
	if user.IsZero() || user.Local() == "" {
		return fmt.Errorf("%s: create account %q: not a bare JID with a localpart", a.D.Name, user)
	}
	u := UserKey(user)
	return a.Tx(ctx, func(tx Tx) error {
		n, err := tx.Exec(ctx, a.D.SQL(`INSERT INTO accounts({user}, domain, created) VALUES (?, ?, ?) ON CONFLICT({user}) DO NOTHING`),
			u, user.Domain(), Nanos(time.Now()))
		if err != nil {
			return fmt.Errorf("%s: create account %s: %w", a.D.Name, u, err)
		}
		if n == 0 {
			return fmt.Errorf("%s: create account %s: %w", a.D.Name, u, storage.ErrExists)
		}
		return a.insertKeys(ctx, tx, u, keys)
	})
}

// SetKeys replaces the keys of user; storage.ErrNotFound if there is no
// account.
func (a Accounts) SetKeys(ctx context.Context, user jid.JID, keys []storage.SCRAMKey) error {
	u := UserKey(user)
	return a.Tx(ctx, func(tx Tx) error {
		// ForUpdate: a concurrent DeleteAccount cannot slip in between.
		if err := a.lockAccount(ctx, tx, u); err != nil {
			return fmt.Errorf("%s: set keys of %s: %w", a.D.Name, u, err)
		}
		if _, err := tx.Exec(ctx, a.D.SQL(`DELETE FROM scram_keys WHERE {user} = ?`), u); err != nil {
			return fmt.Errorf("%s: set keys of %s: %w", a.D.Name, u, err)
		}
		return a.insertKeys(ctx, tx, u, keys)
	})
}

// lockAccount reads the account row of u in tx, row-locking it where
// the dialect's writers run concurrently; storage.ErrNotFound if there
// is none.
func (a Accounts) lockAccount(ctx context.Context, tx Tx, u string) error {
	var one int
	err := tx.QueryRow(ctx, a.D.SQL(`SELECT 1 FROM accounts WHERE {user} = ?`+a.D.ForUpdate()), u).Scan(&one)
	if tx.NoRows(err) {
		return storage.ErrNotFound
	}
	return err
}

// insertKeys stores keys for u, remembering their order: by the
// dialect's RowID, or in the column ord.
func (a Accounts) insertKeys(ctx context.Context, tx Tx, u string, keys []storage.SCRAMKey) error {
	ordered := a.D.RowID == ""
	text := `INSERT INTO scram_keys({user}, hash, salt, iterations, stored_key, server_key) VALUES (?, ?, ?, ?, ?, ?)`
	if ordered {
		text = `INSERT INTO scram_keys({user}, hash, salt, iterations, stored_key, server_key, ord) VALUES (?, ?, ?, ?, ?, ?, ?)`
	}
	text = a.D.SQL(text)
	for i, k := range keys {
		args := []any{u, k.Hash, NonNil(k.Salt), k.Iterations, NonNil(k.StoredKey), NonNil(k.ServerKey)}
		if ordered {
			args = append(args, i)
		}
		if _, err := tx.Exec(ctx, text, args...); err != nil {
			return fmt.Errorf("%s: storing %s key of %s: %w", a.D.Name, k.Hash, u, err)
		}
	}
	return nil
}

// Keys returns the keys of user in the order they were stored;
// storage.ErrNotFound if there is no account.
func (a Accounts) Keys(ctx context.Context, user jid.JID) ([]storage.SCRAMKey, error) {
	keys, _, err := a.LoginKeys(ctx, user)
	return keys, err
}

// LoginKeys returns the user's keys and its disabled flag, read by one
// query (so also from one snapshot); storage.ErrNotFound if there is no
// account.
func (a Accounts) LoginKeys(ctx context.Context, user jid.JID) ([]storage.SCRAMKey, bool, error) {
	u := UserKey(user)
	fail := func(err error) ([]storage.SCRAMKey, bool, error) {
		return nil, false, fmt.Errorf("%s: keys of %s: %w", a.D.Name, u, err)
	}
	rows, err := a.R.Query(ctx, a.D.SQL(`SELECT a.disabled, k.hash, k.salt, k.iterations, k.stored_key, k.server_key
		FROM accounts a LEFT JOIN scram_keys k ON k.{user} = a.{user}
		WHERE a.{user} = ? ORDER BY k.`+a.D.InsertOrder("ord")), u)
	if err != nil {
		return fail(err)
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
			return fail(err)
		}
		if hash == nil {
			continue // an account without keys
		}
		k.Hash, k.Iterations = *hash, *iterations
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	if !found {
		return fail(storage.ErrNotFound)
	}
	return keys, disabled, nil
}

// DeleteAccount removes the account and every row stored for it, in one
// transaction; storage.ErrNotFound if there is no account.
func (a Accounts) DeleteAccount(ctx context.Context, user jid.JID) error {
	u := UserKey(user)
	return a.Tx(ctx, func(tx Tx) error {
		if a.D.UserLocks {
			// Lock the account first so that concurrent deletes of the
			// same user serialise and exactly one of them succeeds.
			if err := a.lockAccount(ctx, tx, u); err != nil {
				return fmt.Errorf("%s: delete account %s: %w", a.D.Name, u, err)
			}
			// The offline quota lock: no message is stored for the user
			// while its messages are being deleted.
			if err := a.D.LockUser(ctx, tx, LockOffline, u); err != nil {
				return fmt.Errorf("%s: delete account %s: %w", a.D.Name, u, err)
			}
		}
		for _, t := range userTables {
			if _, err := tx.Exec(ctx, a.D.SQL(`DELETE FROM `+t+` WHERE {user} = ?`), u); err != nil {
				return fmt.Errorf("%s: delete account %s: table %s: %w", a.D.Name, u, t, err)
			}
		}
		n, err := tx.Exec(ctx, a.D.SQL(`DELETE FROM accounts WHERE {user} = ?`), u)
		if err != nil {
			return fmt.Errorf("%s: delete account %s: %w", a.D.Name, u, err)
		}
		if n == 0 {
			return fmt.Errorf("%s: delete account %s: %w", a.D.Name, u, storage.ErrNotFound)
		}
		a.Log.InfoContext(ctx, "account deleted", "user", u)
		return nil
	})
}

// AccountExists reports whether user has an account.
func (a Accounts) AccountExists(ctx context.Context, user jid.JID) (bool, error) {
	u := UserKey(user)
	var ok bool
	err := a.R.QueryRow(ctx, a.D.SQL(`SELECT EXISTS (SELECT 1 FROM accounts WHERE {user} = ?)`), u).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("%s: account %s exists: %w", a.D.Name, u, err)
	}
	return ok, nil
}

// ListAccounts lists the accounts of domain (all domains if empty),
// sorted by bare JID.
func (a Accounts) ListAccounts(ctx context.Context, domain string) ([]jid.JID, error) {
	text, args := `SELECT {user} FROM accounts ORDER BY {user}`, []any(nil)
	if domain != "" {
		text, args = `SELECT {user} FROM accounts WHERE domain = ? ORDER BY {user}`, []any{domain}
	}
	out, err := Collect(ctx, a.R, a.D.ScanJID("account"), a.D.SQL(text), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: list accounts of %q: %w", a.D.Name, domain, err)
	}
	return out, nil
}

// IterationCounts implements storage.IterationCounter.
func (a Accounts) IterationCounts(ctx context.Context) (map[int]int, error) {
	rows, err := a.R.Query(ctx, a.D.SQL(`SELECT iterations, COUNT(DISTINCT {user}) FROM scram_keys GROUP BY iterations`))
	if err != nil {
		return nil, fmt.Errorf("%s: iteration counts: %w", a.D.Name, err)
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var it, n int
		if err := rows.Scan(&it, &n); err != nil {
			return nil, fmt.Errorf("%s: iteration counts: %w", a.D.Name, err)
		}
		out[it] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: iteration counts: %w", a.D.Name, err)
	}
	return out, nil
}

// SetDisabled sets the disabled flag of user; storage.ErrNotFound if
// there is no account.
func (a Accounts) SetDisabled(ctx context.Context, user jid.JID, disabled bool) error {
	u := UserKey(user)
	n, err := a.W.Exec(ctx, a.D.SQL(`UPDATE accounts SET disabled = ? WHERE {user} = ?`), disabled, u)
	if err != nil {
		return fmt.Errorf("%s: set disabled of %s: %w", a.D.Name, u, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: set disabled of %s: %w", a.D.Name, u, storage.ErrNotFound)
	}
	return nil
}

// Disabled reports whether user is disabled; storage.ErrNotFound if there
// is no account.
func (a Accounts) Disabled(ctx context.Context, user jid.JID) (bool, error) {
	u := UserKey(user)
	var v bool
	err := a.R.QueryRow(ctx, a.D.SQL(`SELECT disabled FROM accounts WHERE {user} = ?`), u).Scan(&v)
	if a.R.NoRows(err) {
		return false, fmt.Errorf("%s: disabled %s: %w", a.D.Name, u, storage.ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("%s: disabled %s: %w", a.D.Name, u, err)
	}
	return v, nil
}
