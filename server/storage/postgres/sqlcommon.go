package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
)

// dialect is how the shared SQL is written for PostgreSQL.
func dialect() sqlcommon.Dialect {
	return sqlcommon.Dialect{Name: "postgres", Numbered: true, UserColumn: "username", Arrays: true, NullLimit: true,
		UserLocks: true, Sequences: true, OctetLength: "octet_length"}
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

// Stores returns the stores of db; every field is db itself.
func (db *DB) Stores() storage.Stores { return sqlcommon.StoresOf(db) }

// snapshot runs fn in a read-only repeatable-read transaction: its reads
// see one snapshot.
func (db *DB) snapshot(ctx context.Context, fn func(q sqlcommon.Querier) error) error {
	return db.txOpts(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error { return fn(shared{tx}) })
}

// share sets the shared stores of db, which run their statements on
// db.pool: the connection pool, or the transaction of InTx.
func (db *DB) share() {
	r := shared{db.pool}
	db.Shared = sqlcommon.NewShared(sqlcommon.Conns{
		D: dialect(), Const: r, Built: r, W: writer{db.pool}, Tx: db.transact, Snap: db.snapshot, Log: db.log,
		Timer: db.timer,
	})
}

// Instrument times the statements and transactions of the shared stores
// with t (the server's metrics). Call it right after opening, before the
// stores are used.
func (db *DB) Instrument(t sqlcommon.Timer) {
	db.timer = t
	db.share()
}
