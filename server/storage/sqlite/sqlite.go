package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
)

// busyTimeout is how long a connection waits for a lock held by another
// connection (or process) before failing with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// DB is an open SQLite database implementing every store of
// [storage.Stores]. It is safe for concurrent use.
type DB struct {
	// Shared are the stores whose SQL is shared with PostgreSQL (set by
	// share); the methods DB defines itself hide theirs.
	sqlcommon.Shared

	w   *sql.DB // the single writer connection; transactions are BEGIN IMMEDIATE
	r   *sql.DB // the read pool (query_only)
	log *slog.Logger
	// timer times the shared stores' statements (Instrument); nil: none.
	timer sqlcommon.Timer
	wq    writeQueue    // group commit of the writes (groupcommit.go)
	ckpt  *checkpointer // background WAL checkpoints (checkpoint.go)
	rs    readStmts     // statements prepared on r (readstmt.go)

	// Inside InTx (tx.go): the transaction every write joins, and the DB
	// InTx was called on, whose read statements are shared.
	outer  *sql.Tx
	parent *DB
}

// The optional interfaces DB implements (Stores checks the others).
var _ interface {
	storage.LoginReader
	storage.IterationCounter
} = (*DB)(nil)

// Open opens (creating it if needed) the database file at path and brings
// its schema up to date. log may be nil.
func Open(ctx context.Context, path string, log *slog.Logger) (*DB, error) {
	return open(ctx, path, log, migrations)
}

// open is Open with the list of migrations to apply.
func open(ctx context.Context, path string, log *slog.Logger, migs []string) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sqlite: open: invalid path %q", path)
	}
	common := url.Values{}
	common.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	common.Add("_pragma", "foreign_keys(1)")

	wq := url.Values{}
	for k, v := range common {
		wq[k] = append([]string(nil), v...)
	}
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Add("_pragma", "synchronous(NORMAL)")
	// The writer's cache holds the index pages every archived message
	// touches (per user, so scattered), and a longer WAL lets a
	// checkpoint copy each often-rewritten page once rather than once per
	// 1,000 frames: 1.45x faster archiving with 1,000 users
	// (BenchmarkAppendArchive). The cache fills only as pages are used.
	wq.Add("_pragma", "cache_size(-16384)") // KiB
	// The checkpoints run in the background (checkpoint.go); the writer
	// checkpoints itself only past this bound.
	wq.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", writerCheckpointPages))
	wq.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db := &DB{w: w, log: log.With("component", "sqlite", "path", path)}
	if err := db.migrate(ctx, migs); err != nil {
		w.Close()
		return nil, err
	}

	rq := common
	rq.Add("_pragma", "query_only(1)")
	// Each of the eight readers has a private page cache: with SQLite's
	// default of 2 MiB a login storm made every reader cache the same
	// account pages, up to 16 MiB of resident memory. Pages a small cache
	// misses come from the OS page cache, shared by all. (Memory-mapped
	// reads would share them too, but turn a disk I/O error into SIGBUS.)
	rq.Add("_pragma", "cache_size(-1024)") // KiB
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	db.r = r
	db.share()
	if err := db.wq.prepare(ctx, w); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	// Each message of an archive batch is one run of this statement in
	// the batch's transaction (sqlcommon.Dialect.OneRowInserts), which
	// can run it prepared only if it is prepared before.
	if _, err := db.prepared(ctx, sqlcommon.ArchiveRowInsert(dialect())); err != nil {
		db.wq.closeStmts()
		r.Close()
		w.Close()
		return nil, err
	}
	cq := url.Values{}
	cq.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	if db.ckpt, err = startCheckpointer(path, cq.Encode(), db); err != nil {
		db.wq.closeStmts()
		r.Close()
		w.Close()
		return nil, err
	}
	return db, nil
}

// Close stops the background checkpoints and closes the connections.
func (db *DB) Close() error {
	var ckpt error
	if db.ckpt != nil {
		ckpt = db.ckpt.close()
	}
	err := errors.Join(ckpt, db.wq.closeStmts(), db.rs.close(), db.r.Close(), db.w.Close())
	if err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// SchemaVersion returns the schema version recorded in the database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}

// migrate applies, in one transaction, every migration of migs newer than
// the database's schema version.
func (db *DB) migrate(ctx context.Context, migs []string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at INTEGER NOT NULL
		)`); err != nil {
			return fmt.Errorf("sqlite: migrate: creating schema_migrations: %w", err)
		}
		var cur int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
			return fmt.Errorf("sqlite: migrate: reading version: %w", err)
		}
		if cur > len(migs) {
			return fmt.Errorf("sqlite: migrate: database schema version %d is newer than this binary supports (%d)", cur, len(migs))
		}
		for v := cur + 1; v <= len(migs); v++ {
			if _, err := tx.ExecContext(ctx, migs[v-1]); err != nil {
				return fmt.Errorf("sqlite: migrate: applying version %d: %w", v, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)`,
				v, time.Now().UTC().UnixNano()); err != nil {
				return fmt.Errorf("sqlite: migrate: recording version %d: %w", v, err)
			}
			db.log.InfoContext(ctx, "applied schema migration", "version", v)
		}
		return nil
	})
}
