package sqlite

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
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
