package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/storagetest"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

func openTemp(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "parley.db"), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Stores { return openTemp(t).Stores() })
}

func TestPragmas(t *testing.T) {
	db := openTemp(t)
	ctx := t.Context()
	var mode string
	if err := db.w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if !strings.EqualFold(mode, "wal") {
		t.Fatalf("journal_mode = %q, want wal", mode)
	}
	var fk, busy int
	if err := db.r.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("reader foreign_keys = %d, %v; want 1", fk, err)
	}
	if err := db.w.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("writer foreign_keys = %d, %v; want 1", fk, err)
	}
	if err := db.w.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil || busy <= 0 {
		t.Fatalf("busy_timeout = %d, %v; want > 0", busy, err)
	}
	// The read pool refuses writes.
	if _, err := db.r.ExecContext(ctx, `INSERT INTO vcards(user, vcard) VALUES ('x@y', x'00')`); err == nil {
		t.Fatal("write through the read pool succeeded")
	}
	// Deleting an account cascades its keys through the foreign key even
	// when deleted directly.
	u := jid.MustParse("fk@example.org")
	if err := db.CreateAccount(ctx, u, []storage.SCRAMKey{{Hash: "SHA-1", Salt: []byte{1}, Iterations: 1, StoredKey: []byte{2}, ServerKey: []byte{3}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(ctx, `DELETE FROM accounts WHERE user = ?`, u.String()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM scram_keys`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("scram_keys rows after deleting the account = %d, %v; want 0", n, err)
	}
}

func TestMigrationsIdempotentAndPersistent(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "p.db")
	u := jid.MustParse("persist@example.org")

	db, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := db.SchemaVersion(ctx); err != nil || v != len(migrations) {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, len(migrations))
	}
	if err := db.CreateAccount(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.StoreOffline(ctx, u, []byte("<message/>"), 0); err != nil {
		t.Fatal(err)
	}
	// A second handle on the same open file: migrations are a no-op.
	db2, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	if err := db2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	var rows int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil || rows != len(migrations) {
		t.Fatalf("schema_migrations rows = %d, %v; want %d", rows, err, len(migrations))
	}
	if ok, err := db.AccountExists(ctx, u); err != nil || !ok {
		t.Fatalf("account lost across Close/Open: %v, %v", ok, err)
	}
	if n, err := db.OfflineCount(ctx, u); err != nil || n != 1 {
		t.Fatalf("offline messages lost across Close/Open: %d, %v", n, err)
	}
}

func TestMigrationUpgrade(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "up.db")
	db, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// A "newer binary" with one more migration upgrades the file.
	newer := append(migrations[:len(migrations):len(migrations)], `CREATE TABLE upgrade_probe (x INTEGER);`)
	db, err = open(ctx, path, nil, newer)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if v, _ := db.SchemaVersion(ctx); v != len(newer) {
		t.Fatalf("version after upgrade = %d, want %d", v, len(newer))
	}
	if _, err := db.r.ExecContext(ctx, `SELECT x FROM upgrade_probe`); err != nil {
		t.Fatalf("upgrade migration not applied: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// The older binary refuses the newer file.
	if _, err := Open(ctx, path, nil); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("older binary opening newer schema: err = %v, want a 'newer' error", err)
	}

	// A failing migration rolls back completely.
	broken := append(newer[:len(newer):len(newer)], `CREATE TABLE half (x INTEGER); THIS IS NOT SQL;`)
	if _, err := open(ctx, path, nil, broken); err == nil {
		t.Fatal("broken migration succeeded")
	}
	db, err = open(ctx, path, nil, newer)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, _ := db.SchemaVersion(ctx); v != len(newer) {
		t.Fatalf("version after failed migration = %d, want %d", v, len(newer))
	}
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("failed migration left table behind: %d, %v", n, err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(t.Context(), "", nil); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
	if _, err := Open(t.Context(), filepath.Join(t.TempDir(), "no", "such", "dir", "x.db"), nil); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
}

func TestDeleteAccountIsAtomic(t *testing.T) {
	db := openTemp(t)
	ctx, cancel := context.WithCancel(t.Context())
	u := jid.MustParse("atomic@example.org")
	if err := db.CreateAccount(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := db.DeleteAccount(ctx, u); err == nil {
		t.Fatal("DeleteAccount with a cancelled context succeeded")
	}
	if ok, err := db.AccountExists(t.Context(), u); err != nil || !ok {
		t.Fatalf("account after failed delete: %v, %v", ok, err)
	}
	if err := db.DeleteAccount(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteAccount(t.Context(), u); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("second DeleteAccount: %v, want ErrNotFound", err)
	}
}
