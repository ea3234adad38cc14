package main

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/storage/postgres/pgtest"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
	"github.com/parley-xmpp/parley/xmpp/jid"
)

// fillStores writes a bit of every kind of data for a few users.
func fillStores(t *testing.T, s storage.Stores) {
	t.Helper()
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 987654321, time.UTC)
	users := []string{"alice@localhost", "bob@example.org", "ĵürgen@例え.jp", "empty@localhost"}
	for i, us := range users {
		u := jid.MustParse(us)
		keys := []storage.SCRAMKey{
			{Hash: "SHA-256", Salt: []byte{byte(i), 1, 2}, Iterations: 4096 + i, StoredKey: []byte{3, byte(i)}, ServerKey: []byte{4, byte(i)}},
			{Hash: "SHA-1", Salt: []byte{9}, Iterations: 4096, StoredKey: []byte{5}, ServerKey: []byte{6}},
		}
		must(s.Accounts.CreateAccount(ctx, u, keys))
		if us == "empty@localhost" {
			continue
		}
		for j, c := range []string{"romeo@montague.lit", "juliet@capulet.lit", "σωκράτης@αθήνα.gr"} {
			_, err := s.Roster.PutRosterItem(ctx, u, storage.RosterItem{
				Contact: jid.MustParse(c), Name: fmt.Sprintf("C%d ✓", j), Groups: []string{"Friends", "Верона"}[:j%3],
				Subscription: storage.Subscription(j % 4), AskOut: j == 1, PreApproved: j == 2,
			})
			must(err)
		}
		_, err := s.Roster.DeleteRosterItem(ctx, u, jid.MustParse("juliet@capulet.lit"))
		must(err)
		for j, f := range []string{"z@x.example", "a@x.example"} {
			must(s.Roster.AddSubscriptionRequest(ctx, u, storage.SubscriptionRequest{
				From: jid.MustParse(f), Stanza: []byte(fmt.Sprintf(`<presence type="subscribe" id="%d"/>`, j)), At: t0.Add(time.Duration(j) * time.Second),
			}))
		}
		for j := range 5 {
			must(s.Offline.StoreOffline(ctx, u, []byte(fmt.Sprintf("<message><body>%s %d ünï</body></message>", us, j)), 0))
		}
		must(s.VCards.SetVCard(ctx, u, []byte(`<vCard xmlns="vcard-temp"><FN>`+us+`</FN></vCard>`)))
		must(s.Private.SetPrivateXML(ctx, u, "storage:bookmarks storage", []byte(`<storage xmlns="storage:bookmarks"/>`)))
		must(s.Private.SetPrivateXML(ctx, u, "x:y ë", []byte(`<ë xmlns="x:y"/>`)))
		must(s.Blocking.Block(ctx, u, []jid.JID{jid.MustParse("spam.example"), jid.MustParse("eve@evil.example/res")}))
		must(s.Last.SetLastActivity(ctx, u, t0.Add(time.Duration(i)*time.Hour), "gone 🎣"))
	}
}

// dumpStores reads all data of all accounts, normalised for comparison.
func dumpStores(t *testing.T, spec string) []accountData {
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
	users, err := s.Accounts.ListAccounts(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	var out []accountData
	for _, u := range users {
		d, err := readAccount(t.Context(), s, u)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, normalise(d))
	}
	return out
}

// newSQLite creates a SQLite file filled with fillStores and returns its spec.
func newSQLite(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "src.db")
	db, err := sqlite.Open(t.Context(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	fillStores(t, db.Stores())
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return "sqlite:" + p
}

func checkRoundTrip(t *testing.T, via string) {
	src := newSQLite(t)
	want := dumpStores(t, src)
	if len(want) != 4 || len(want[0].Offline) != 5 || want[0].RosterVersion != 4 {
		t.Fatalf("fixture: %d accounts, first %+v", len(want), want[0])
	}
	back := "sqlite:" + filepath.Join(t.TempDir(), "sub", "back.db")
	for _, step := range [][2]string{{src, via}, {via, back}} {
		code, out, errOut := runT(t, nil, "", "migrate", "--from", step[0], "--to", step[1])
		if code != 0 || !strings.Contains(out, "migrated 4 accounts") || !strings.Contains(out, "15 offline messages") {
			t.Fatalf("migrate %s → %s: %d %q %q", step[0], step[1], code, out, errOut)
		}
	}
	for _, spec := range []string{via, back} {
		if got := dumpStores(t, spec); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s differs from the source:\n got %+v\nwant %+v", spec, got, want)
		}
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
	if got := dumpStores(t, back); !reflect.DeepEqual(got, want) {
		t.Fatalf("after --force the target differs from the source")
	}
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
