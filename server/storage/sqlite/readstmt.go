package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// readStmts holds the statements prepared on the read pool, by query text.
// A [sql.Stmt] of a pool is prepared once per connection, lazily, and kept:
// without it every read on the login path (SCRAM keys, disabled flag,
// roster, offline messages, vCard) parsed and planned its SQL again, 8 % of
// the server's CPU in a login storm. Only constant query texts go here, so
// the map is bounded.
type readStmts struct {
	m sync.Map // query -> *sql.Stmt prepared on db.r
}

// readStmt returns query prepared on the read pool.
func (db *DB) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if db.parent != nil {
		return db.parent.readStmt(ctx, query)
	}
	if st, ok := db.rs.m.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.rs.m.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// query runs the constant query on the read pool with a cached statement.
//
// The constant reads are the short ones, by key, of one account's rows
// (SCRAM keys, roster, offline messages, vCard: the login path), so once
// ctx is checked they run without its cancellation (uncancellable): a
// cancellable context costs two goroutines per query, database/sql's
// watch of the Rows and modernc.org/sqlite's interrupt watch, and a
// progress handler, for a read that an interrupt would not shorten.
// Reads that can take long (archive searches) are built, not constant,
// and keep their context; the longest constant ones (an account's
// archive usage, the administrator's count of accounts per iteration
// count) run to their end once started.
func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read: %w", err)
	}
	ctx = context.WithoutCancel(ctx)
	st, err := db.readStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRow is query for one row.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if ctx.Err() != nil {
		// Let database/sql report the context's error through the Row.
		return db.r.QueryRowContext(ctx, query, args...)
	}
	ctx = context.WithoutCancel(ctx)
	st, err := db.readStmt(ctx, query)
	if err != nil {
		// Let database/sql report the error through the Row.
		return db.r.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// close closes the statements prepared on the read pool.
func (s *readStmts) close() error {
	var errs []error
	s.m.Range(func(k, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		s.m.Delete(k)
		return true
	})
	return errors.Join(errs...)
}
