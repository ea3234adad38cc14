package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/storage"
	"github.com/parley-xmpp/parley/server/transfer"
)

const importUsage = `usage: parley import [--force] [--config FILE] [--data DIR] DUMP...

Imports XEP-0227 dumps into the configured storage. DUMP is a file (its
XInclude references are followed) or a folder, whose *.xml files with a
<server-data/> root are imported (Prosody's prosody-migrator output, or
ejabberd's export_piefxis folder). Plaintext passwords are converted to
SCRAM keys. Stop the server first. An account, pubsub service or
invitation that already exists stops the import unless --force is given,
which replaces it.
`

// runImport imports XEP-0227 dumps.
func runImport(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), importUsage); fs.PrintDefaults() }
	var cf commonFlags
	cf.register(fs)
	force := fs.Bool("force", false, "replace accounts, pubsub services and invitations that already exist")
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cfg, err := cf.load(env)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return exitCode(err)
	}
	log := newLogger(cfg, stderr)
	if cfg.Storage.Kind == config.StorageSQLite {
		if err := os.MkdirAll(filepath.Dir(cfg.SQLitePath()), 0o700); err != nil {
			fmt.Fprintln(stderr, "parley: creating the data folder:", err)
			return 1
		}
	}
	stores, closeFn, err := app.OpenStorage(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
	defer closeFn()
	opts := transfer.ImportOptions{Force: *force, Iterations: cfg.Auth.ScramIterations, Log: log}
	for _, path := range fs.Args() {
		st, err := transfer.ImportPath(ctx, stores, path, opts)
		if err != nil {
			fmt.Fprintf(stderr, "parley: import %s: %v\n", path, err)
			if errors.Is(err, storage.ErrExists) {
				fmt.Fprintln(stderr, "parley: accounts imported before the error were kept; run again with --force to replace them all")
			}
			return 1
		}
		fmt.Fprintf(stdout, "imported %d accounts from %s: %s\n", st.Accounts, path, st)
		var foreign []string
		for _, h := range st.Hosts {
			if !slices.Contains(cfg.Domains, h) {
				foreign = append(foreign, h)
			}
		}
		if len(foreign) > 0 {
			fmt.Fprintf(stderr, "parley: warning: %s not served (serving %s): add to domains in the configuration\n",
				strings.Join(foreign, ", "), strings.Join(cfg.Domains, ", "))
		}
	}
	return 0
}
