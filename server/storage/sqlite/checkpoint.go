package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"time"
)

// checkpointEvery is how often the background checkpointer copies the
// WAL into the database file.
const checkpointEvery = time.Second

// writerCheckpointPages is the WAL size (in pages) at which the writer
// checkpoints itself, after its commit: a backstop for when the
// background checkpointer falls behind. 64 MiB.
const writerCheckpointPages = 16384

// checkpointer copies the WAL into the database file from a connection of
// its own, in the background (PASSIVE checkpoints, which never wait for
// the writer nor hold it up), so that the writer's commits do not stop
// for a checkpoint's copying and fsyncs: with the writer checkpointing
// after its own commits every caller of the group commit waited for
// them, and message archiving (two rows per chat message, scattered over
// the per-user indexes) made them frequent. Once a checkpoint has copied
// every frame, the writer's next transaction starts the WAL over.
type checkpointer struct {
	c      *sql.DB // one connection, writes allowed (checkpoints)
	cancel context.CancelFunc
	done   chan struct{}
	runs   atomic.Int64 // checkpoints run (for tests)
}

// startCheckpointer opens the checkpointer's connection to path with the
// pragmas dsn and starts it.
func startCheckpointer(path, dsn string, db *DB) (*checkpointer, error) {
	c, err := sql.Open("sqlite", path+"?"+dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s for checkpoints: %w", path, err)
	}
	c.SetMaxOpenConns(1)
	c.SetMaxIdleConns(1)
	c.SetConnMaxIdleTime(0)
	c.SetConnMaxLifetime(0)
	ctx, cancel := context.WithCancel(context.Background())
	cp := &checkpointer{c: c, cancel: cancel, done: make(chan struct{})}
	go cp.run(ctx, db)
	return cp, nil
}

// run checkpoints every checkpointEvery until ctx ends.
func (cp *checkpointer) run(ctx context.Context, db *DB) {
	defer close(cp.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := cp.checkpoint(ctx); err != nil && ctx.Err() == nil {
			db.log.Warn("background WAL checkpoint failed; the writer checkpoints past its bound", "err", err)
		}
	}
}

// checkpoint runs one PASSIVE checkpoint.
func (cp *checkpointer) checkpoint(ctx context.Context) error {
	var busy, log, copied int
	if err := cp.c.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &copied); err != nil {
		return fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	cp.runs.Add(1)
	return nil
}

// close stops the checkpointer and closes its connection.
func (cp *checkpointer) close() error {
	cp.cancel()
	<-cp.done
	return cp.c.Close()
}
