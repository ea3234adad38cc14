package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Ping connects to the database at url, checks that it answers and closes
// the connection. Unlike Open it changes nothing: no pool, no migration.
// ctx bounds the whole attempt.
func Ping(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// The error may quote the URL with its password: do not wrap it.
		return errors.New("postgres: invalid connection URL")
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: connecting to %s: %w", where, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: %s does not answer: %w", where, err)
	}
	return nil
}
