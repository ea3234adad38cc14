package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/storage/postgres/pgtest"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
	"github.com/parley-xmpp/parley/server/transfer/transfertest"
)

// snapshot reads everything the storage spec names holds.
func snapshot(t *testing.T, spec string) transfertest.Snapshot {
	t.Helper()
	st, err := parseStorageSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	s, closeFn, err := openSpec(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	return transfertest.Take(t, s)
}

// newSQLite creates a SQLite file filled with fillStores and returns its spec.
func newSQLite(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "src.db")
	db, err := sqlite.Open(t.Context(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	transfertest.Fill(t, db.Stores())
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return "sqlite:" + p
}

func checkRoundTrip(t *testing.T, via string) {
	src := newSQLite(t)
	want := snapshot(t, src)
	back := "sqlite:" + filepath.Join(t.TempDir(), "sub", "back.db")
	for _, step := range [][2]string{{src, via}, {via, back}} {
		code, out, errOut := runT(t, nil, "", "migrate", "--from", step[0], "--to", step[1])
		if code != 0 || !strings.Contains(out, "migrated 4 accounts") || !strings.Contains(out, "15 offline messages") ||
			!strings.Contains(out, "21 archived messages") || !strings.Contains(out, "6 PEP nodes with 18 items") ||
			!strings.Contains(out, "6 push registrations") || !strings.Contains(out, "9 FAST tokens") ||
			!strings.Contains(out, "1 disabled accounts") || !strings.Contains(out, "1 pubsub services with 1 nodes") ||
			!strings.Contains(out, "2 invitations") {
			t.Fatalf("migrate %s → %s: %d %q %q", step[0], step[1], code, out, errOut)
		}
	}
	for _, spec := range []string{via, back} {
		transfertest.Check(t, snapshot(t, spec), want)
	}

	// The target now has accounts: refused without --force...
	code, _, errOut := runT(t, nil, "", "migrate", "--from", src, "--to", back)
	if code != 1 || !strings.Contains(errOut, "--force") {
		t.Fatalf("migrate into a non-empty target: %d %q", code, errOut)
	}
	// ...and with --force the accounts are replaced, not duplicated.
	code, out, errOut := runT(t, nil, "", "migrate", "--force", "--from", src, "--to", back)
	if code != 0 || !strings.Contains(out, "4 accounts replaced") {
		t.Fatalf("migrate --force: %d %q %q", code, out, errOut)
	}
	transfertest.Check(t, snapshot(t, back), want)
}

func TestMigrateSQLiteRoundTrip(t *testing.T) {
	checkRoundTrip(t, "sqlite:"+filepath.Join(t.TempDir(), "mid.db"))
}

func TestMigratePostgresRoundTrip(t *testing.T) {
	checkRoundTrip(t, pgtest.Database(t))
}

func TestMigrateUsage(t *testing.T) {
	src := newSQLite(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"migrate"}, 2, "usage"},
		{[]string{"migrate", "--from", src}, 2, "usage"},
		{[]string{"migrate", "--from", "mysql://x", "--to", src}, 2, "sqlite:PATH"},
		{[]string{"migrate", "--from", src, "--to", "sqlite:"}, 2, "sqlite:PATH"},
		{[]string{"migrate", "--from", src, "--to", src}, 2, "same storage"},
		{[]string{"migrate", "--from", "sqlite:" + filepath.Join(t.TempDir(), "none.db"), "--to", "sqlite:" + filepath.Join(t.TempDir(), "x.db")}, 1, "no such file"},
	} {
		code, _, errOut := runT(t, nil, "", c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: %d %q; want %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
}

func TestParseStorageSpec(t *testing.T) {
	if s, err := parseStorageSpec("sqlite:/a/b.db"); err != nil || s.Kind != config.StorageSQLite || s.Path != "/a/b.db" {
		t.Fatalf("sqlite: %+v %v", s, err)
	}
	if s, err := parseStorageSpec("postgresql://h/db"); err != nil || s.Kind != config.StoragePostgres {
		t.Fatalf("postgres: %+v %v", s, err)
	}
}
