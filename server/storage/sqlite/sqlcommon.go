package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
)

// dialect is how the shared SQL is written for SQLite.
func dialect() sqlcommon.Dialect {
	return sqlcommon.Dialect{Name: "sqlite", UserColumn: "user", NoLimit: "-1"}
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
