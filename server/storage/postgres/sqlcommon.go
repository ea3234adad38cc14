package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
)

// dialect is how the shared SQL is written for PostgreSQL.
func dialect() sqlcommon.Dialect {
	return sqlcommon.Dialect{Name: "postgres", Numbered: true, UserColumn: "username", Arrays: true, NullLimit: true,
		UserLocks: true, OctetLength: "octet_length"}
}

// shared adapts a transaction or the pool (a querier) to
// sqlcommon.Querier.
type shared struct{ q reader }

// reader is what pgx.Tx and querier have in common for reading.
type reader interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func (q shared) QueryRow(ctx context.Context, text string, args ...any) sqlcommon.Row {
	return q.q.QueryRow(ctx, text, args...)
}

func (q shared) Query(ctx context.Context, text string, args ...any) (sqlcommon.Rows, error) {
	return q.q.Query(ctx, text, args...)
}

func (shared) NoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// writer adapts the pool or a transaction to sqlcommon.Execer.
type writer struct{ q execer }

// execer is what pgx.Tx and querier have in common for writing.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func (w writer) Exec(ctx context.Context, text string, args ...any) (int64, error) {
	tag, err := w.q.Exec(ctx, text, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// txer adapts a transaction to sqlcommon.Tx.
type txer struct {
	shared
	writer
}

// transact is db.tx as a sqlcommon.Transact.
func (db *DB) transact(ctx context.Context, fn func(tx sqlcommon.Tx) error) error {
	return db.tx(ctx, func(tx pgx.Tx) error { return fn(txer{shared{tx}, writer{tx}}) })
}

// accounts is the shared part of the account stores.
func (db *DB) accounts() sqlcommon.Accounts {
	return sqlcommon.Accounts{D: dialect(), R: shared{db.pool}, W: writer{db.pool}, Tx: db.transact, Tables: userTables, Log: db.log}
}

// pubsub is the shared part of the pubsub store.
func (db *DB) pubsub() sqlcommon.PubSub {
	return sqlcommon.PubSub{D: dialect(), R: shared{db.pool}, W: writer{db.pool}}
}

// muc is the shared part of the MUC store.
func (db *DB) muc() sqlcommon.MUC {
	return sqlcommon.MUC{D: dialect(), R: shared{db.pool}, W: writer{db.pool}}
}

// push is the shared part of the push store.
func (db *DB) push() sqlcommon.Push {
	return sqlcommon.Push{D: dialect(), R: shared{db.pool}, W: writer{db.pool}}
}

// offline is the shared part of the offline store.
func (db *DB) offline() sqlcommon.Offline {
	return sqlcommon.Offline{D: dialect(), R: shared{db.pool}}
}

// misc is the shared part of the vCard, private XML, blocking and last
// activity stores.
func (db *DB) misc() sqlcommon.Misc {
	return sqlcommon.Misc{D: dialect(), R: shared{db.pool}, W: writer{db.pool}}
}

// fast is the shared part of the FAST token store.
func (db *DB) fast() sqlcommon.Fast {
	return sqlcommon.Fast{D: dialect(), R: shared{db.pool}, W: writer{db.pool}}
}
