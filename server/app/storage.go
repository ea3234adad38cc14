package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/metrics"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/postgres"
	"github.com/parley-xmpp/parley/server/storage/sqlcommon"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
)

// OpenStorage opens the backend cfg.Storage selects (SQLite in
// cfg.SQLitePath(), or PostgreSQL at cfg.Storage.URL, whose pool_*
// parameters tune the pool) and returns its stores and the function that
// closes it. Administration commands need nothing else.
func OpenStorage(ctx context.Context, cfg *config.Config, log *slog.Logger) (storage.Stores, func() error, error) {
	return openStorage(ctx, cfg, log, nil)
}

// openStorage is OpenStorage with the shared stores' statements timed
// into m (nil: not timed).
func openStorage(ctx context.Context, cfg *config.Config, log *slog.Logger, m *metrics.Metrics) (storage.Stores, func() error, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var timer sqlcommon.Timer
	if m != nil {
		timer = storageTimer{m}
	}
	switch cfg.Storage.Kind {
	case config.StorageSQLite:
		db, err := sqlite.Open(ctx, cfg.SQLitePath(), log)
		if err != nil {
			return storage.Stores{}, nil, fmt.Errorf("opening storage %s: %w", cfg.Storage, err)
		}
		db.Instrument(timer)
		return db.Stores(), db.Close, nil
	case config.StoragePostgres:
		db, err := postgres.Open(ctx, cfg.Storage.URL, postgres.Options{}, log)
		if err != nil {
			return storage.Stores{}, nil, fmt.Errorf("opening storage %s: %w", cfg.Storage, err)
		}
		db.Instrument(timer)
		return db.Stores(), db.Close, nil
	}
	return storage.Stores{}, nil, fmt.Errorf("opening storage: unknown backend %q", cfg.Storage.Kind)
}

// storageTimer times storage work into the metrics
// (parley_storage_operation_duration_seconds).
type storageTimer struct{ m *metrics.Metrics }

// TimeStorage implements sqlcommon.Timer.
func (t storageTimer) TimeStorage(op sqlcommon.Op, d time.Duration) {
	switch op {
	case sqlcommon.OpQuery:
		t.m.Storage(metrics.StorageQuery, d)
	case sqlcommon.OpExec:
		t.m.Storage(metrics.StorageExec, d)
	case sqlcommon.OpTx:
		t.m.Storage(metrics.StorageTx, d)
	case sqlcommon.OpSnapshot:
		t.m.Storage(metrics.StorageSnapshot, d)
	}
}
