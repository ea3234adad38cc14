package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/transfer"
)

const migrateUsage = `usage: parley migrate --from SOURCE --to TARGET [--force]

Copies every account with all its data (credentials, disabled flag,
roster, subscription requests, offline messages, vCard, private XML,
block list, last activity, archive, PEP nodes, push registrations, FAST
tokens), the pubsub services and the invitations from one storage
backend to another.
SOURCE and TARGET are sqlite:PATH or postgres://user:pass@host/db URLs.
Stop the server first. The target may not hold accounts unless --force
is given; then accounts present in both are replaced by the source's.
`

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), migrateUsage); fs.PrintDefaults() }
	from := fs.String("from", "", "source storage: sqlite:PATH or postgres://…")
	to := fs.String("to", "", "target storage: sqlite:PATH or postgres://…")
	force := fs.Bool("force", false, "write into a target that already has accounts, replacing those also in the source")
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if *from == "" || *to == "" || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	src, err := parseStorageSpec(*from)
	if err != nil {
		fmt.Fprintln(stderr, "parley: --from:", err)
		return 2
	}
	dst, err := parseStorageSpec(*to)
	if err != nil {
		fmt.Fprintln(stderr, "parley: --to:", err)
		return 2
	}
	if src == dst {
		fmt.Fprintln(stderr, "parley: --from and --to are the same storage")
		return 2
	}
	if src.Kind == config.StorageSQLite {
		// Opening would create an empty file: a typo must not "migrate"
		// nothing successfully.
		if _, err := os.Stat(src.Path); err != nil {
			fmt.Fprintln(stderr, "parley: --from:", err)
			return 1
		}
	}
	st, err := migrate(ctx, src, dst, *force)
	if err != nil {
		fmt.Fprintln(stderr, "parley: migrate:", err)
		return exitCode(err)
	}
	fmt.Fprintf(stdout, "migrated %d accounts from %s to %s: %s; target verified\n", st.Accounts, src, dst, st)
	return 0
}

// parseStorageSpec parses sqlite:PATH or a postgres:// URL.
func parseStorageSpec(s string) (config.Storage, error) {
	switch {
	case strings.HasPrefix(s, "sqlite:") && len(s) > len("sqlite:"):
		return config.Storage{Kind: config.StorageSQLite, Path: strings.TrimPrefix(s, "sqlite:")}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return config.Storage{Kind: config.StoragePostgres, URL: s}, nil
	}
	return config.Storage{}, fmt.Errorf("%q: want sqlite:PATH or postgres://user:pass@host/db", s)
}

// openSpec opens the storage s names, creating a SQLite file's folder.
func openSpec(ctx context.Context, s config.Storage) (storage.Stores, func() error, error) {
	if s.Kind == config.StorageSQLite {
		if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
			return storage.Stores{}, nil, fmt.Errorf("creating folder of %s: %w", s.Path, err)
		}
	}
	return app.OpenStorage(ctx, &config.Config{Storage: s}, nil)
}

// migrate copies every account of src into dst with all its data, the
// pubsub services and the invitations, and checks that the target then
// holds exactly the source's data.
func migrate(ctx context.Context, src, dst config.Storage, force bool) (transfer.Stats, error) {
	from, closeFrom, err := openSpec(ctx, src)
	if err != nil {
		return transfer.Stats{}, err
	}
	defer closeFrom()
	to, closeTo, err := openSpec(ctx, dst)
	if err != nil {
		return transfer.Stats{}, err
	}
	defer closeTo()
	st, err := transfer.Copy(ctx, from, to, transfer.CopyOptions{Force: force})
	if errors.Is(err, transfer.ErrTargetNotEmpty) {
		return st, &exitError{code: 1, err: fmt.Errorf("target %s already has accounts; use --force to write into it anyway", dst)}
	}
	return st, err
}
