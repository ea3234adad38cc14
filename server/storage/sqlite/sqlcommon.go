package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
)

// dialect is how the shared SQL is written for SQLite.
func dialect() sqlcommon.Dialect {
	return sqlcommon.Dialect{Name: "sqlite", UserColumn: "user", RowID: "rowid", OctetLength: "LENGTH", OneRowInserts: true}
}

// querier adapts a read transaction or the read pool to
// sqlcommon.Querier.
type querier struct{ tx queryer }

// queryer is what *sql.DB and *sql.Tx have in common for reading.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (q querier) QueryRow(ctx context.Context, text string, args ...any) sqlcommon.Row {
	return q.tx.QueryRowContext(ctx, text, args...)
}

func (q querier) Query(ctx context.Context, text string, args ...any) (sqlcommon.Rows, error) {
	rows, err := q.tx.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (querier) NoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// sqlRows is *sql.Rows with the Close of sqlcommon.Rows.
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// writer adapts the write path (group commit, or the transaction of
// InTx) to sqlcommon.Execer.
type writer struct{ db *DB }

func (w writer) Exec(ctx context.Context, text string, args ...any) (int64, error) {
	res, err := w.db.exec(ctx, text, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// txer adapts a transaction of the writer to sqlcommon.Tx. A statement
// prepared on the writer (stmts) runs prepared: a transaction cannot
// prepare one for later, its connection being the writer's only one.
type txer struct {
	querier
	tx    *sql.Tx
	stmts *sync.Map // query -> *sql.Stmt prepared on the writer
}

func (t txer) Exec(ctx context.Context, text string, args ...any) (int64, error) {
	var (
		res sql.Result
		err error
	)
	if st, ok := t.stmts.Load(text); ok {
		res, err = t.tx.StmtContext(ctx, st.(*sql.Stmt)).ExecContext(ctx, args...)
	} else {
		res, err = t.tx.ExecContext(ctx, text, args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// transact is db.tx (the group commit) as a sqlcommon.Transact.
func (db *DB) transact(ctx context.Context, fn func(tx sqlcommon.Tx) error) error {
	return db.tx(ctx, func(tx *sql.Tx) error { return fn(txer{querier{tx}, tx, &db.wq.stmts}) })
}

// prepared adapts the read pool's prepared statements (db.query and
// db.queryRow) to sqlcommon.Querier.
type prepared struct{ db *DB }

func (p prepared) QueryRow(ctx context.Context, text string, args ...any) sqlcommon.Row {
	return p.db.queryRow(ctx, text, args...)
}

func (p prepared) Query(ctx context.Context, text string, args ...any) (sqlcommon.Rows, error) {
	rows, err := p.db.query(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (prepared) NoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// Stores returns the stores of db; every field is db itself.
func (db *DB) Stores() storage.Stores { return sqlcommon.StoresOf(db) }

// snapshot runs fn in a read-only transaction of the read pool: its
// reads see one snapshot (WAL).
func (db *DB) snapshot(ctx context.Context, fn func(q sqlcommon.Querier) error) error {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	return fn(querier{tx})
}

// share sets the shared stores of db, which run their statements on db's
// connections: reads through the read pool (constant ones prepared),
// writes through the group commit (or, inside InTx, the transaction).
func (db *DB) share() {
	db.Shared = sqlcommon.NewShared(sqlcommon.Conns{
		D: dialect(), Const: prepared{db}, Built: querier{db.r}, W: writer{db}, Tx: db.transact, Snap: db.snapshot, Log: db.log,
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
