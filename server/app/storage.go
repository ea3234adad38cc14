package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/postgres"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
)

// OpenStorage opens the backend cfg.Storage selects (SQLite in
// cfg.SQLitePath(), or PostgreSQL at cfg.Storage.URL, whose pool_*
// parameters tune the pool) and returns its stores and the function that
// closes it. Administration commands need nothing else.
func OpenStorage(ctx context.Context, cfg *config.Config, log *slog.Logger) (storage.Stores, func() error, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch cfg.Storage.Kind {
	case config.StorageSQLite:
		db, err := sqlite.Open(ctx, cfg.SQLitePath(), log)
		if err != nil {
			return storage.Stores{}, nil, fmt.Errorf("opening storage %s: %w", cfg.Storage, err)
		}
		return db.Stores(), db.Close, nil
	case config.StoragePostgres:
		db, err := postgres.Open(ctx, cfg.Storage.URL, postgres.Options{}, log)
		if err != nil {
			return storage.Stores{}, nil, fmt.Errorf("opening storage %s: %w", cfg.Storage, err)
		}
		return db.Stores(), db.Close, nil
	}
	return storage.Stores{}, nil, fmt.Errorf("opening storage: unknown backend %q", cfg.Storage.Kind)
}
