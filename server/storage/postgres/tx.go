package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/parley-xmpp/parley/server/storage"
)

// querier is what the stores run their statements on: a *pgxpool.Pool,
// or inside InTx the transaction (txQuerier).
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// txQuerier runs statements in the transaction of InTx; a store's own
// transaction becomes a savepoint of it.
type txQuerier struct{ pgx.Tx }

// BeginTx starts a savepoint: the options of the outer transaction
// apply.
func (t txQuerier) BeginTx(ctx context.Context, _ pgx.TxOptions) (pgx.Tx, error) {
	return t.Begin(ctx)
}

var _ storage.Transactor = (*DB)(nil)

// InTx implements storage.Transactor with one PostgreSQL transaction;
// every store's own transaction inside it is a savepoint. A statement
// that fails outside such a savepoint aborts the transaction, and fn's
// later calls fail too.
func (db *DB) InTx(ctx context.Context, fn func(storage.Stores) error) error {
	if _, nested := db.pool.(txQuerier); nested {
		return errors.New("postgres: InTx inside InTx")
	}
	tx, err := db.root.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	tdb := &DB{pool: txQuerier{tx}, log: db.log}
	tdb.share()
	if err := fn(tdb.Stores()); err != nil {
		if rerr := tx.Rollback(context.WithoutCancel(ctx)); rerr != nil {
			return errors.Join(err, fmt.Errorf("postgres: rollback: %w", rerr))
		}
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}
