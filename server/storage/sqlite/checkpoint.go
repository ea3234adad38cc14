package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// checkpointEvery is how often the background checkpointer copies the
// WAL into the database file.
const checkpointEvery = time.Second

// restartPages is the WAL length (in frames) past which the background
// checkpointer has the WAL start over (see checkpointer): 4 MiB of 4 KiB
// pages.
const restartPages = 1024

// catchUpFrames and catchUpPasses bound the catching up before a WAL
// restart: background checkpoints follow one another until one finds at
// most catchUpFrames new frames to copy, or catchUpPasses have run.
const (
	catchUpFrames = 256
	catchUpPasses = 4
)

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
// the per-user indexes) made them frequent.
//
// The WAL starts over only when a write transaction begins with every
// frame of it copied. Under steady writes that never happens by itself
// (the writer commits while each background checkpoint copies): the WAL
// grew to the writer's own bound and the writer then checkpointed inside
// a commit every caller waited for, copying up to a second of frames and
// syncing (about 18 % of the time of an archived chat run at saturation,
// in stalls of up to 700 ms). So once the WAL is past restartPages, the
// checkpointer catches up (more background checkpoints while they find
// many new frames), syncs the WAL file, and runs a last checkpoint while
// holding the writer (DB.alone: between two commits of the group
// commit): it copies only the few frames committed since and syncs
// little, and the writer's next transaction starts the WAL over.
type checkpointer struct {
	c      *sql.DB // one connection, writes allowed (checkpoints)
	cancel context.CancelFunc
	done   chan struct{}
	runs   atomic.Int64 // checkpoints run (for tests)
	path   string       // of the database
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
	cp := &checkpointer{c: c, cancel: cancel, done: make(chan struct{}), path: path}
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
		if err := cp.checkpoint(ctx, db); err != nil && ctx.Err() == nil {
			db.log.Warn("background WAL checkpoint failed; the writer checkpoints past its bound", "err", err)
		}
	}
}

// checkpoint runs one PASSIVE checkpoint and, when the WAL is past
// restartPages, has it start over (see checkpointer).
func (cp *checkpointer) checkpoint(ctx context.Context, db *DB) error {
	frames, copied, err := cp.passive(ctx)
	if err != nil || frames < restartPages {
		return err
	}
	for range catchUpPasses - 1 {
		before := copied
		if frames, copied, err = cp.passive(ctx); err != nil {
			return err
		}
		if copied < before || frames < restartPages {
			return nil // the WAL started over meanwhile
		}
		if copied-before <= catchUpFrames {
			break
		}
	}
	// What the writer appended since is on disk before the writer is held:
	// the held checkpoint's own sync of the WAL then has little to write.
	if f, err := os.OpenFile(cp.path+"-wal", os.O_RDWR, 0); err == nil {
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("sqlite: checkpoint: syncing the WAL: %w", err)
		}
	}
	return db.alone(ctx, func() error {
		_, _, err := cp.passive(ctx)
		return err
	})
}

// passive runs one PASSIVE checkpoint and returns the WAL's length and
// how many of its frames are copied, in frames.
func (cp *checkpointer) passive(ctx context.Context) (frames, copied int, err error) {
	var busy int
	if err := cp.c.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		return 0, 0, fmt.Errorf("sqlite: checkpoint: %w", err)
	}
	cp.runs.Add(1)
	return frames, copied, nil
}

// close stops the checkpointer and closes its connection.
func (cp *checkpointer) close() error {
	cp.cancel()
	<-cp.done
	return cp.c.Close()
}
