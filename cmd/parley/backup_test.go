package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
	"github.com/parley-xmpp/parley/server/transfer"
	"github.com/parley-xmpp/parley/server/transfer/transfertest"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

func TestBackupWhileWriting(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"PARLEY_DATA": data}
	ctx := t.Context()
	// The "server": another handle on the database, writing all along.
	db, err := sqlite.Open(ctx, filepath.Join(data, "parley.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	transfertest.Fill(t, db.Stores())
	u := jid.MustParse("alice@localhost")
	var (
		stop    atomic.Bool
		written atomic.Int64
		wg      sync.WaitGroup
	)
	wg.Go(func() {
		for !stop.Load() {
			if err := db.StoreOffline(ctx, u, []byte("<message><body>storm</body></message>"), 0); err != nil {
				t.Errorf("StoreOffline during backup: %v", err)
				return
			}
			written.Add(1)
		}
	})
	for written.Load() < 50 {
		runtime.Gosched() // let the writer get going
	}
	before := written.Load()
	out := filepath.Join(t.TempDir(), "backup.db")
	code, stdout, stderr := runT(t, env, "", "backup", "--out", out)
	after := written.Load()
	stop.Store(true)
	wg.Wait()
	if code != 0 || !strings.Contains(stdout, "backed up") {
		t.Fatalf("backup: %d %q %q", code, stdout, stderr)
	}
	t.Logf("%d messages written during the backup", after-before)

	// The backup is a complete database on its own: no -wal beside it.
	if _, err := os.Stat(out + "-wal"); err == nil {
		t.Fatal("backup left a -wal file")
	}
	bak, err := sqlite.Open(ctx, out, nil)
	if err != nil {
		t.Fatalf("opening the backup: %v", err)
	}
	defer bak.Close()
	users, err := bak.ListAccounts(ctx, "")
	if err != nil || len(users) != 4 {
		t.Fatalf("backup accounts = %v, %v; want 4", users, err)
	}
	want := dumpAccount(t, db.Stores(), jid.MustParse("bob@example.org"))
	if got := dumpAccount(t, bak.Stores(), jid.MustParse("bob@example.org")); !sameData(got, want) {
		t.Fatalf("bob's data in the backup differs:\n got %+v\nwant %+v", got, want)
	}
	// alice's offline messages: the 5 of the fixture plus the storm up to
	// some point between the start and the end of the backup, in order.
	n, err := bak.OfflineCount(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if int64(n) < 5+before || int64(n) > 5+after {
		t.Fatalf("backup holds %d offline messages for alice; want between %d and %d", n, 5+before, 5+after)
	}
	// A second backup replaces the first.
	if code, _, stderr := runT(t, env, "", "backup", "--out", out); code != 0 {
		t.Fatalf("second backup: %d %q", code, stderr)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Fatalf("backup left a temporary file %s", e.Name())
		}
	}
}

func dumpAccount(t *testing.T, s storage.Stores, u jid.JID) *transfer.Account {
	t.Helper()
	d, err := transfer.ReadAccount(t.Context(), s, u)
	if err != nil {
		t.Fatal(err)
	}
	return transfer.Normalise(d)
}

func sameData(a, b *transfer.Account) bool { return transfer.Equal(a, b) }

func TestBackupRefusals(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runT(t, map[string]string{"PARLEY_DATA": dir}, "", "backup"); code != 2 || !strings.Contains(stderr, "usage") {
		t.Fatalf("no --out: %d %q", code, stderr)
	}
	if code, _, stderr := runT(t, map[string]string{"PARLEY_DATA": dir}, "", "backup", "--out", filepath.Join(dir, "b.db")); code != 1 || !strings.Contains(stderr, "no database") {
		t.Fatalf("no database: %d %q", code, stderr)
	}
	cfg := filepath.Join(dir, "parley.yaml")
	if err := os.WriteFile(cfg, []byte("storage: postgres://parley:secret@db.example/parley\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runT(t, nil, "", "backup", "--config", cfg, "--data", dir, "--out", filepath.Join(dir, "b.dump"))
	if code != 2 || !strings.Contains(stderr, "pg_dump") || strings.Contains(stderr, "secret") {
		t.Fatalf("postgres: %d %q", code, stderr)
	}
}
