package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/storage/sqlite"
	"github.com/parley-xmpp/parley/server/transfer/transfertest"
)

// filledData creates a data folder whose SQLite database holds
// transfertest's data set.
func filledData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "parley.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	transfertest.Fill(t, db.Stores())
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestExportImportCommands(t *testing.T) {
	src := filledData(t)
	want := snapshot(t, "sqlite:"+filepath.Join(src, "parley.db"))
	dump := filepath.Join(t.TempDir(), "dump.xml")
	code, out, errOut := runT(t, nil, "", "export", "--data", src, "--out", dump)
	if code != 0 || !strings.Contains(out, "exported 4 accounts to "+dump) || !strings.Contains(out, "21 archived messages") {
		t.Fatalf("export: %d %q %q", code, out, errOut)
	}
	fi, err := os.Stat(dump)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("dump file: %v %v; want mode 0600", fi, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(dump))
	if len(entries) != 1 {
		t.Fatalf("export left %d files", len(entries))
	}
	// --out - writes the same document to the standard output.
	code, stdoutDump, _ := runT(t, nil, "", "export", "--data", src, "--out", "-")
	fileDump, _ := os.ReadFile(dump)
	if code != 0 || stdoutDump != string(fileDump) {
		t.Fatalf("export to stdout: %d, same as the file: %v", code, stdoutDump == string(fileDump))
	}

	dst := t.TempDir()
	code, out, errOut = runT(t, nil, "", "import", "--data", dst, dump)
	if code != 0 || !strings.Contains(out, "imported 4 accounts from "+dump) || !strings.Contains(out, "2 invitations") {
		t.Fatalf("import: %d %q %q", code, out, errOut)
	}
	// The default configuration serves localhost only.
	if !strings.Contains(errOut, "example.org, 例え.jp not served") {
		t.Fatalf("no warning about unserved domains: %q", errOut)
	}
	transfertest.Check(t, snapshot(t, "sqlite:"+filepath.Join(dst, "parley.db")), want)

	code, _, errOut = runT(t, nil, "", "import", "--data", dst, dump)
	if code != 1 || !strings.Contains(errOut, "7 records of the dump already exist; nothing was imported") ||
		!strings.Contains(errOut, "  account alice@localhost\n") || !strings.Contains(errOut, "  pubsub service pubsub.localhost\n") ||
		!strings.Contains(errOut, "--force") {
		t.Fatalf("second import: %d %q", code, errOut)
	}
	code, out, errOut = runT(t, nil, "", "import", "--force", "--data", dst, dump)
	if code != 0 || !strings.Contains(out, "4 accounts replaced") {
		t.Fatalf("import --force: %d %q %q", code, out, errOut)
	}
	transfertest.Check(t, snapshot(t, "sqlite:"+filepath.Join(dst, "parley.db")), want)
}

func TestExportImportUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"export", "--data", dir}, 2, "usage"},
		{[]string{"export", "--data", dir, "--out", "x", "extra"}, 2, "usage"},
		{[]string{"import", "--data", dir}, 2, "usage"},
		{[]string{"import", "--data", dir, filepath.Join(dir, "none.xml")}, 1, "no such file"},
		{[]string{"import", "--data", dir, dir}, 1, "no XEP-0227"},
		{[]string{"export", "--data", dir, "--out", filepath.Join(dir, "no", "such", "dir.xml")}, 1, "no such file"},
	} {
		code, _, errOut := runT(t, nil, "", c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: %d %q; want %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
}
