package sqlite

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// TestBackgroundCheckpoint checks that the WAL reaches the database file
// without the writer checkpointing: after some archived messages and a
// background checkpoint, the database file alone (no WAL) holds them.
func TestBackgroundCheckpoint(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "parley.db")
	db, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var auto int
	if err := db.w.QueryRowContext(t.Context(), `PRAGMA wal_autocheckpoint`).Scan(&auto); err != nil || auto != writerCheckpointPages {
		t.Fatalf("writer wal_autocheckpoint = %d, %v; want %d", auto, err, writerCheckpointPages)
	}
	owner := jid.MustParse("a@example.org")
	for i := range 50 {
		m := storage.ArchivedMessage{ID: fmt.Sprint(i), With: jid.MustParse("b@example.org"), At: time.Unix(int64(i), 0), Stanza: []byte("<message/>")}
		if err := db.AppendArchive(t.Context(), owner, m); err != nil {
			t.Fatal(err)
		}
	}
	runs := db.ckpt.runs.Load()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for db.ckpt.runs.Load() < runs+1 {
		if time.Now().After(deadline) {
			t.Fatal("no background checkpoint within 10 s")
		}
		<-tick.C
	}
	// The database file alone, as a copy without its WAL.
	alone := filepath.Join(t.TempDir(), "alone.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := sql.Open("sqlite", alone)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var n int
	if err := c.QueryRow(`SELECT COUNT(*) FROM archive`).Scan(&n); err != nil || n != 50 {
		t.Fatalf("database file alone holds %d archived messages (%v), want 50", n, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-db.ckpt.done:
	default:
		t.Fatal("the checkpointer still runs after Close")
	}
}

// TestCheckpointRestartsWAL: under steady writes (several writers, the
// writer never idle) a background checkpoint past restartPages makes the
// WAL start over, where checkpoints that never hold the writer leave it
// growing to the writer's own bound.
func TestCheckpointRestartsWAL(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "parley.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var written atomic.Int64
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				owner := jid.MustParse(fmt.Sprintf("u%d@example.org", (i*8+w)%500))
				m := storage.ArchivedMessage{ID: fmt.Sprintf("%d-%d", w, i), With: jid.MustParse("b@example.org"), At: time.Unix(int64(i), 0), Stanza: []byte("<message/>")}
				if err := db.AppendArchive(ctx, owner, m); err != nil {
					t.Error(err)
					return
				}
				written.Add(1)
			}
		})
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	walFrames := func() int {
		t.Helper()
		var busy, log, copied int
		if err := db.ckpt.c.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &copied); err != nil {
			t.Fatal(err)
		}
		return log
	}
	deadline := time.Now().Add(30 * time.Second)
	for walFrames() < 2*restartPages {
		if time.Now().After(deadline) {
			t.Fatal("the WAL did not reach twice restartPages within 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := db.ckpt.checkpoint(ctx, db); err != nil {
		t.Fatal(err)
	}
	// The writer's next transactions write from the WAL's start.
	n := written.Load()
	for written.Load() < n+10 {
		time.Sleep(time.Millisecond)
	}
	if f := walFrames(); f >= restartPages {
		t.Fatalf("the WAL holds %d frames after a checkpoint past %d: it did not start over", f, restartPages)
	}
}
