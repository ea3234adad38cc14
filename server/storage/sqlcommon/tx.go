package sqlcommon

import (
	"context"
	"fmt"
)

// Tx is a write transaction as the shared SQL sees it: its reads see its
// own writes.
type Tx interface {
	Querier
	Execer
}

// Transact runs fn in a write transaction of the backend, committing if
// fn returns nil and rolling back what fn did otherwise. SQLite runs it
// through its group commit (a savepoint of a shared transaction), PostgreSQL
// in a transaction of its own (a savepoint inside InTx).
type Transact func(ctx context.Context, fn func(tx Tx) error) error

// Snapshot runs fn with reads that all see one snapshot of the database
// (a read-only transaction).
type Snapshot func(ctx context.Context, fn func(q Querier) error) error

// LockClass names what a per-user lock of Dialect.LockUser guards; the
// values are PostgreSQL advisory lock classes.
type LockClass int32

// The lock classes. The two-key advisory locks live in a key space of
// their own, apart from the one-key lock of schema migrations.
const (
	// LockOffline guards the quota-checked inserts into a user's offline
	// messages, and their deletion with the account ("PARL").
	LockOffline LockClass = 0x5041524c
	// LockPrivate guards the private XML quota of a user ("PRIV").
	LockPrivate LockClass = 0x50524956
	// LockArchive guards the trimming of a user's archive ("ARCH").
	LockArchive LockClass = 0x41524348
	// LockPubSub guards the pubsub quota of a service ("PUBS").
	LockPubSub LockClass = 0x50554253
)

// LockUser takes, in tx and until it ends, the per-user lock of class
// for key, where the dialect's writers run concurrently
// (Dialect.UserLocks); it does nothing where one writer connection
// serialises every write (SQLite).
func (d Dialect) LockUser(ctx context.Context, tx Tx, class LockClass, key string) error {
	if !d.UserLocks {
		return nil
	}
	if _, err := tx.Exec(ctx, d.SQL(`SELECT pg_advisory_xact_lock(?, hashtext(?))`), int32(class), key); err != nil {
		return fmt.Errorf("locking %s: %w", key, err)
	}
	return nil
}

// ForShare is the clause that share-locks what a SELECT in a write
// transaction reads, where the dialect's writers run concurrently; empty
// otherwise.
func (d Dialect) ForShare() string {
	if d.UserLocks {
		return " FOR SHARE"
	}
	return ""
}

// ForUpdate is the clause that row-locks what a SELECT in a write
// transaction reads, where the dialect's writers run concurrently; empty
// otherwise.
func (d Dialect) ForUpdate() string {
	if d.UserLocks {
		return " FOR UPDATE"
	}
	return ""
}
