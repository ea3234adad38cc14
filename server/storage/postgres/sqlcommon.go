package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
)

// dialect is how the shared SQL is written for PostgreSQL.
func dialect() sqlcommon.Dialect {
	return sqlcommon.Dialect{Name: "postgres", Numbered: true, UserColumn: "username", Arrays: true, NullLimit: true}
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

// writer adapts a querier to sqlcommon.Execer.
type writer struct{ q querier }

func (w writer) Exec(ctx context.Context, text string, args ...any) (int64, error) {
	tag, err := w.q.Exec(ctx, text, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
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
