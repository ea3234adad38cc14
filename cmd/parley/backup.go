package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/storage/sqlite"
)

// runBackup writes an online, consistent copy of the SQLite database. For
// PostgreSQL it points to pg_dump and exits with 2.
func runBackup(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	out := fs.String("out", "", "file to write the backup to (replaced atomically if it exists)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: parley backup --out FILE [--config FILE] [--data DIR]")
		fs.PrintDefaults()
	}
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	cfg, err := cf.load(env)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return exitCode(err)
	}
	if cfg.Storage.Kind == config.StoragePostgres {
		fmt.Fprintf(stderr, "parley: storage is PostgreSQL (%s): back it up with pg_dump, e.g. pg_dump --format=custom --file=%s DBNAME\n", cfg.Storage, *out)
		return 2
	}
	path := cfg.SQLitePath()
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintln(stderr, "parley: no database to back up:", err)
		return 1
	}
	db, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
	defer db.Close()
	if err := db.Backup(ctx, *out); err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
	fmt.Fprintf(stdout, "backed up %s to %s\n", path, *out)
	return 0
}
