package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
)

// migrationLock is the advisory lock key that serialises schema
// migrations across nodes ("PARLEYMG"). The one-key form lives in a key
// space of its own, apart from the two-key per-user locks
// (sqlcommon.LockClass).
const migrationLock int64 = 0x5041524c45594d47

// Options tunes the connection pool. A zero field keeps the value given
// by the URL's pool_* parameters (pool_max_conns, pool_min_conns,
// pool_max_conn_lifetime, pool_max_conn_idle_time), or pgx's default.
type Options struct {
	// MaxConns is the largest number of open connections.
	MaxConns int32
	// MinConns is the number of connections kept open when idle.
	MinConns int32
	// MaxConnLifetime closes connections older than this.
	MaxConnLifetime time.Duration
	// MaxConnIdleTime closes connections idle for longer than this.
	MaxConnIdleTime time.Duration
}

// DB is an open PostgreSQL database implementing every store of
// [storage.Stores]. It is safe for concurrent use.
type DB struct {
	// Shared are the stores whose SQL is shared with SQLite (set by
	// share); the methods DB defines itself hide theirs.
	sqlcommon.Shared

	// pool runs the statements: the connection pool (root), or the
	// transaction of InTx (tx.go).
	pool querier
	root *pgxpool.Pool
	log  *slog.Logger
	// timer times the shared stores' statements (Instrument); nil: none.
	timer sqlcommon.Timer
}

// The optional interfaces DB implements (Stores checks the others).
var _ interface {
	storage.LoginReader
	storage.IterationCounter
} = (*DB)(nil)

// Open connects to the database at url (a postgres:// URL or a libpq
// key=value string), checks the connection and brings the schema up to
// date. log may be nil.
func Open(ctx context.Context, url string, opts Options, log *slog.Logger) (*DB, error) {
	return open(ctx, url, opts, log, migrations)
}

// open is Open with the list of migrations to apply.
func open(ctx context.Context, url string, opts Options, log *slog.Logger, migs []string) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The error may quote the URL with its password: do not wrap it.
		return nil, errors.New("postgres: open: invalid connection URL")
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.MinConns > 0 {
		cfg.MinConns = opts.MinConns
	}
	if cfg.MinConns > cfg.MaxConns {
		return nil, fmt.Errorf("postgres: open: min conns %d > max conns %d", cfg.MinConns, cfg.MaxConns)
	}
	if opts.MaxConnLifetime > 0 {
		cfg.MaxConnLifetime = opts.MaxConnLifetime
	}
	if opts.MaxConnIdleTime > 0 {
		cfg.MaxConnIdleTime = opts.MaxConnIdleTime
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	db := &DB{pool: pool, root: pool, log: log.With("component", "postgres", "database", where)}
	db.share()
	if err := db.migrate(ctx, migs); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the pool, waiting for connections in use to be released.
func (db *DB) Close() error {
	if db.root != nil {
		db.root.Close()
	}
	return nil
}

// SchemaVersion returns the schema version recorded in the database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}

// migrate applies, in one transaction holding the migration advisory
// lock, every migration of migs newer than the database's schema version.
func (db *DB) migrate(ctx context.Context, migs []string) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("postgres: migrate: taking the migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at BIGINT NOT NULL
		)`); err != nil {
			return fmt.Errorf("postgres: migrate: creating schema_migrations: %w", err)
		}
		var cur int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
			return fmt.Errorf("postgres: migrate: reading version: %w", err)
		}
		if cur > len(migs) {
			return fmt.Errorf("postgres: migrate: database schema version %d is newer than this binary supports (%d)", cur, len(migs))
		}
		for v := cur + 1; v <= len(migs); v++ {
			if _, err := tx.Exec(ctx, migs[v-1]); err != nil {
				return fmt.Errorf("postgres: migrate: applying version %d: %w", v, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations(version, applied_at) VALUES ($1, $2)`,
				v, sqlcommon.Nanos(time.Now())); err != nil {
				return fmt.Errorf("postgres: migrate: recording version %d: %w", v, err)
			}
			db.log.InfoContext(ctx, "applied schema migration", "version", v)
		}
		return nil
	})
}

// tx runs fn in a read-committed transaction, committing if fn returns nil
// and rolling back otherwise.
func (db *DB) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return db.txOpts(ctx, pgx.TxOptions{}, fn)
}

// txOpts is tx with explicit transaction options.
func (db *DB) txOpts(ctx context.Context, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit: %w", err)
	}
	return nil
}
