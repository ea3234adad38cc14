package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/parley-xmpp/parley/server/admintoken"
)

// runAdmin implements "parley admin": administration of the admin HTTP
// listener.
func runAdmin(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "token":
			return runAdminToken(ctx, args[1:], env, stdout, stderr)
		case "-h", "--help", "-help", "help":
			adminUsage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "parley admin: unknown subcommand %q\n", args[0])
	}
	adminUsage(stderr)
	return 2
}

func adminUsage(w io.Writer) {
	fmt.Fprint(w, `usage: parley admin token [--name NAME] | --list | --revoke NAME

Manages the bearer tokens of the admin HTTP listener (docs/admin-api.md):
creates one (shown once; only its hash is stored in the data folder), lists
them or revokes one. A running server sees the change at once.
`)
}

// runAdminToken implements "parley admin token".
func runAdminToken(_ context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parley admin token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf commonFlags
	cf.register(fs)
	name := fs.String("name", "", `name of the new token (default "admin", or "admin-N" if taken)`)
	list := fs.Bool("list", false, "list the tokens (names and creation times)")
	revoke := fs.String("revoke", "", "revoke the token of this name")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: parley admin token [--config FILE] [--data DIR] [--name NAME] | --list | --revoke NAME")
		fs.PrintDefaults()
	}
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	modes := 0
	for _, set := range []bool{*name != "", *list, *revoke != ""} {
		if set {
			modes++
		}
	}
	if fs.NArg() != 0 || modes > 1 {
		fs.Usage()
		return 2
	}
	cfg, err := cf.load(env)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return exitCode(err)
	}
	store := admintoken.New(cfg.DataDir)
	switch {
	case *list:
		tokens, err := store.List()
		if err != nil {
			fmt.Fprintln(stderr, "parley:", err)
			return 1
		}
		if len(tokens) == 0 {
			fmt.Fprintln(stdout, "no tokens")
			return 0
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tCREATED")
		for _, t := range tokens {
			fmt.Fprintf(tw, "%s\t%s\n", t.Name, t.Created.Format(time.RFC3339))
		}
		tw.Flush()
		return 0
	case *revoke != "":
		if err := store.Revoke(*revoke); err != nil {
			fmt.Fprintln(stderr, "parley:", err)
			if errors.Is(err, admintoken.ErrNotFound) {
				return 2
			}
			return 1
		}
		fmt.Fprintf(stdout, "revoked %s\n", *revoke)
		return 0
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		fmt.Fprintln(stderr, "parley: creating the data folder:", err)
		return 1
	}
	n := *name
	if n == "" {
		n = freeName(store)
	}
	token, err := store.Create(n, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		if errors.Is(err, admintoken.ErrExists) || admintoken.CheckName(n) != nil {
			return 2
		}
		return 1
	}
	fmt.Fprintf(stderr, "created token %s; it is shown only now, store it safely:\n", n)
	fmt.Fprintln(stdout, token)
	return 0
}

// freeName returns "admin", or "admin-N" for the first N not taken.
func freeName(store *admintoken.Store) string {
	tokens, _ := store.List() // an unreadable file fails Create anyway
	taken := map[string]bool{}
	for _, t := range tokens {
		taken[t.Name] = true
	}
	n := "admin"
	for i := 2; taken[n]; i++ {
		n = fmt.Sprintf("admin-%d", i)
	}
	return n
}
