package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/transfer"
)

const exportUsage = `usage: parley export --out FILE [--config FILE] [--data DIR]

Writes every account with its data (SCRAM keys, roster, subscription
requests, offline messages, vCard, private XML, PEP nodes, archive, block
list and Parley's own data), the pubsub services and the invitations as a
XEP-0227 file. The file holds credentials: it is created readable by its
owner only. --out - writes to the standard output.
`

// runExport writes a XEP-0227 dump of the configured storage.
func runExport(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), exportUsage); fs.PrintDefaults() }
	var cf commonFlags
	cf.register(fs)
	out := fs.String("out", "", "file to write (replaced atomically if it exists), or - for the standard output")
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
	stores, closeFn, err := app.OpenStorage(ctx, cfg, nil)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
	defer closeFn()
	if *out == "-" {
		if _, err := transfer.Export(ctx, stores, stdout, transfer.ExportOptions{}); err != nil {
			fmt.Fprintln(stderr, "parley: export:", err)
			return 1
		}
		return 0
	}
	st, err := exportFile(ctx, *out, func(w io.Writer) (transfer.Stats, error) {
		return transfer.Export(ctx, stores, w, transfer.ExportOptions{})
	})
	if err != nil {
		fmt.Fprintln(stderr, "parley: export:", err)
		return 1
	}
	fmt.Fprintf(stdout, "exported %d accounts to %s: %s\n", st.Accounts, *out, st)
	return 0
}

// exportFile writes through write into a temporary file beside path,
// readable by its owner only, syncs it and renames it over path.
func exportFile(ctx context.Context, path string, write func(io.Writer) (transfer.Stats, error)) (transfer.Stats, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return transfer.Stats{}, fmt.Errorf("creating %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly after the rename
	st, err := write(f)
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return st, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return st, fmt.Errorf("renaming to %s: %w", path, err)
	}
	return st, nil
}
