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
	"github.com/parley-xmpp/parley/server/transfer"
)

const importUsage = `usage: parley import [--force] [--config FILE] [--data DIR] DUMP...

Imports XEP-0227 dumps into the configured storage. DUMP is a file (its
XInclude references are followed) or a folder, whose *.xml files with a
<server-data/> root are imported (Prosody's prosody-migrator output, or
ejabberd's export_piefxis folder). Plaintext passwords are converted to
SCRAM keys. Stop the server first. Everything is imported in one
transaction: on any error nothing is. Accounts, pubsub services,
invitations and rooms that already exist are listed and stop the import
unless --force is given, which replaces them.
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
	stats, err := transfer.ImportPaths(ctx, stores, fs.Args(), opts)
	if err != nil {
		var ce *transfer.ConflictError
		if errors.As(err, &ce) {
			fmt.Fprintf(stderr, "parley: import: %d records of the dump already exist; nothing was imported:\n", ce.Total)
			for _, r := range ce.Records {
				fmt.Fprintln(stderr, "  "+r)
			}
			if more := ce.Total - len(ce.Records); more > 0 {
				fmt.Fprintf(stderr, "  … and %d more\n", more)
			}
			fmt.Fprintln(stderr, "parley: run again with --force to replace them")
			return 1
		}
		fmt.Fprintf(stderr, "parley: import: %v; nothing was imported\n", err)
		return 1
	}
	for i, path := range fs.Args() {
		st := stats[i]
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
