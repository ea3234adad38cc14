package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/postgres/pgtest"
	"github.com/parley-xmpp/parley/server/storage/storagetest"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// schemas hands out fresh schemas in one test database.
type schemas struct {
	url string
	n   atomic.Int64
}

func newSchemas(t *testing.T) *schemas {
	return &schemas{url: pgtest.Database(t)}
}

// next returns the URL of a new, empty schema.
func (s *schemas) next(t *testing.T) string {
	return pgtest.WithSearchPath(t, s.url, fmt.Sprintf("s%d", s.n.Add(1)))
}

// openURL opens url and closes it when t ends.
func openURL(t *testing.T, url string) *DB {
	t.Helper()
	db, err := Open(t.Context(), url, Options{MaxConns: 4}, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	s := newSchemas(t)
	storagetest.Run(t, func(t *testing.T) storage.Stores { return openURL(t, s.next(t)).Stores() })
}

func TestConcurrentMigrations(t *testing.T) {
	// Several nodes starting at once on a fresh database: every Open
	// succeeds and the migrations are applied once.
	url := pgtest.Database(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	dbs := make([]*DB, 8)
	for i := range dbs {
		wg.Go(func() {
			dbs[i], errs[i] = Open(t.Context(), url, Options{MaxConns: 2}, nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	var rows int
	if err := dbs[0].pool.QueryRow(t.Context(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil || rows != len(migrations) {
		t.Fatalf("schema_migrations rows = %d, %v; want %d", rows, err, len(migrations))
	}
	if v, err := dbs[3].SchemaVersion(t.Context()); err != nil || v != len(migrations) {
		t.Fatalf("SchemaVersion = %d, %v", v, err)
	}
}

func TestMigrationUpgrade(t *testing.T) {
	ctx := t.Context()
	url := pgtest.Database(t)
	db, err := Open(ctx, url, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := jid.MustParse("persist@example.org")
	if err := db.CreateAccount(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()

	newer := append(migrations[:len(migrations):len(migrations)], `CREATE TABLE upgrade_probe (x INTEGER);`)
	db, err = open(ctx, url, Options{}, nil, newer)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if v, _ := db.SchemaVersion(ctx); v != len(newer) {
		t.Fatalf("version after upgrade = %d, want %d", v, len(newer))
	}
	if _, err := db.pool.Exec(ctx, `SELECT x FROM upgrade_probe`); err != nil {
		t.Fatalf("upgrade migration not applied: %v", err)
	}
	if ok, err := db.AccountExists(ctx, u); err != nil || !ok {
		t.Fatalf("account lost across upgrade: %v, %v", ok, err)
	}
	db.Close()

	if _, err := Open(ctx, url, Options{}, nil); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("older binary opening newer schema: err = %v, want a 'newer' error", err)
	}

	broken := append(newer[:len(newer):len(newer)], `CREATE TABLE half (x INTEGER); THIS IS NOT SQL;`)
	if _, err := open(ctx, url, Options{}, nil, broken); err == nil {
		t.Fatal("broken migration succeeded")
	}
	db, err = open(ctx, url, Options{}, nil, newer)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, _ := db.SchemaVersion(ctx); v != len(newer) {
		t.Fatalf("version after failed migration = %d, want %d", v, len(newer))
	}
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'half'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("failed migration left table behind: %d, %v", n, err)
	}
}

func TestPoolOptions(t *testing.T) {
	url := pgtest.Database(t)
	// URL parameters are honoured...
	db := openURLOpts(t, url+"&pool_max_conns=3&pool_min_conns=1", Options{})
	if got := db.root.Config().MaxConns; got != 3 {
		t.Fatalf("MaxConns from URL = %d, want 3", got)
	}
	// ...and Options override them.
	db = openURLOpts(t, url+"&pool_max_conns=3", Options{MaxConns: 7, MinConns: 2})
	if c := db.root.Config(); c.MaxConns != 7 || c.MinConns != 2 {
		t.Fatalf("pool = max %d min %d, want 7, 2", c.MaxConns, c.MinConns)
	}
	if _, err := Open(t.Context(), url, Options{MaxConns: 1, MinConns: 2}, nil); err == nil {
		t.Fatal("MinConns > MaxConns accepted")
	}
}

func openURLOpts(t *testing.T, url string, o Options) *DB {
	t.Helper()
	db, err := Open(t.Context(), url, o, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestOpenErrors(t *testing.T) {
	// These need no server.
	if _, err := Open(t.Context(), "postgres://u:secret@[::1", Options{}, nil); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("invalid URL: err = %v (want an error not quoting the password)", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Open(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=1", Options{}, nil); err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
}

func TestConcurrentOfflineQuota(t *testing.T) {
	s := newSchemas(t)
	db := openURL(t, s.next(t))
	u := jid.MustParse("quota@example.org")
	const limit, writers = 10, 40
	var (
		wg     sync.WaitGroup
		ok, qu atomic.Int64
	)
	for range writers {
		wg.Go(func() {
			err := db.StoreOffline(t.Context(), u, []byte("<message/>"), limit)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, storage.ErrQuota):
				qu.Add(1)
			default:
				t.Errorf("StoreOffline: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != limit || qu.Load() != writers-limit {
		t.Fatalf("stored %d, refused %d; want %d, %d", ok.Load(), qu.Load(), limit, writers-limit)
	}
	if n, err := db.OfflineCount(t.Context(), u); err != nil || n != limit {
		t.Fatalf("OfflineCount = %d, %v; want %d", n, err, limit)
	}
}

func TestConcurrentRosterVersions(t *testing.T) {
	s := newSchemas(t)
	db := openURL(t, s.next(t))
	u := jid.MustParse("roster@example.org")
	const n = 30
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[int64]bool{}
	)
	for i := range n {
		wg.Go(func() {
			v, err := db.PutRosterItem(t.Context(), u, storage.RosterItem{Contact: jid.MustParse(fmt.Sprintf("c%d@example.org", i))})
			if err != nil {
				t.Errorf("PutRosterItem: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[v] {
				t.Errorf("version %d returned twice", v)
			}
			seen[v] = true
		})
	}
	wg.Wait()
	if _, v, err := db.RosterItems(t.Context(), u); err != nil || v != n {
		t.Fatalf("final version = %d, %v; want %d", v, err, n)
	}
}

func TestDeleteAccountIsAtomic(t *testing.T) {
	s := newSchemas(t)
	db := openURL(t, s.next(t))
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
	// Concurrent deletes: exactly one wins.
	var (
		wg      sync.WaitGroup
		won, nf atomic.Int64
	)
	for range 5 {
		wg.Go(func() {
			switch err := db.DeleteAccount(t.Context(), u); {
			case err == nil:
				won.Add(1)
			case errors.Is(err, storage.ErrNotFound):
				nf.Add(1)
			default:
				t.Errorf("DeleteAccount: %v", err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 || nf.Load() != 4 {
		t.Fatalf("concurrent deletes: %d won, %d not found; want 1, 4", won.Load(), nf.Load())
	}
}
