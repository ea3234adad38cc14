package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/parley-xmpp/parley/server/storage"
)

var _ storage.Transactor = (*DB)(nil)

// InTx implements storage.Transactor: one BEGIN IMMEDIATE transaction on
// the writer connection, which every write of the stores given to fn
// joins as a savepoint of its own (so a failed call leaves nothing
// behind and fn may go on). The writer has a single connection, so the
// DB's other writers wait until InTx returns. Reads go to the read pool
// as usual and see the data as committed before InTx began, not fn's
// writes.
func (db *DB) InTx(ctx context.Context, fn func(storage.Stores) error) error {
	if db.outer != nil {
		return errors.New("sqlite: InTx inside InTx")
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	tdb := &DB{w: db.w, r: db.r, log: db.log, outer: tx, parent: db}
	tdb.share()
	if err := fn(tdb.Stores()); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return errors.Join(err, fmt.Errorf("sqlite: rollback: %w", rerr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// inOuter runs fn inside a savepoint of the InTx transaction: released
// when fn succeeds, rolled back to when it fails.
func (db *DB) inOuter(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if _, err := db.outer.ExecContext(ctx, `SAVEPOINT call`); err != nil {
		return fmt.Errorf("sqlite: savepoint: %w", err)
	}
	if err := fn(db.outer); err != nil {
		if _, rerr := db.outer.ExecContext(context.WithoutCancel(ctx), `ROLLBACK TO call`); rerr != nil {
			return errors.Join(err, fmt.Errorf("sqlite: rollback to savepoint: %w", rerr))
		}
		if _, rerr := db.outer.ExecContext(context.WithoutCancel(ctx), `RELEASE call`); rerr != nil {
			return errors.Join(err, fmt.Errorf("sqlite: release savepoint: %w", rerr))
		}
		return err
	}
	if _, err := db.outer.ExecContext(ctx, `RELEASE call`); err != nil {
		return fmt.Errorf("sqlite: release savepoint: %w", err)
	}
	return nil
}
