package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/storage/postgres"
)

// defaultCheckTimeout bounds the storage connection attempt of "parley check".
const defaultCheckTimeout = 5 * time.Second

// runCheck implements "parley check": the configuration must parse and
// validate (exit 2 otherwise), every configured certificate must load with
// its key, and the storage must be reachable (exit 1 otherwise). It
// changes nothing: no data folder, no self-signed certificate, no schema
// migration.
func runCheck(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("parley check", flag.ContinueOnError)
	var cf commonFlags
	cf.register(fset)
	timeout := fset.Duration("timeout", defaultCheckTimeout, "how long to wait for the storage to answer")
	fset.Usage = func() {
		fmt.Fprintln(fset.Output(), "usage: parley check [--config FILE] [--data DIR] [--timeout 5s]")
		fmt.Fprintln(fset.Output(), "Validates the configuration, loads every certificate with its key and connects to the storage.")
		fset.PrintDefaults()
	}
	if code := parseFlags(fset, args, stdout, stderr); code >= 0 {
		return code
	}
	if fset.NArg() != 0 {
		fset.Usage()
		return 2
	}
	cfg, err := cf.load(env)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return exitCode(err)
	}
	var problems []error
	certs, warnings, err := checkCertificates(cfg, time.Now())
	if err != nil {
		problems = append(problems, err)
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "parley: warning:", w)
	}
	cctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := checkStorage(cctx, cfg); err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, "parley: check failed:", oneLine(p.Error()))
		}
		return 1
	}
	fmt.Fprintf(stdout, "configuration OK: domains %v, %s, storage %s reachable, data in %s\n", cfg.Domains, certs, cfg.Storage, cfg.DataDir)
	return 0
}

// checkCertificates loads every configured certificate with its key. It
// returns a description of what serves TLS, warnings (a domain no
// certificate names, a certificate expiring within 30 days) and the
// errors: a file that is missing or unreadable, a key that does not match
// its certificate, a certificate already expired.
func checkCertificates(cfg *config.Config, now time.Time) (string, []string, error) {
	if len(cfg.TLS.Certificates) == 0 {
		// The server makes one when the files are missing, but refuses
		// to start on files it cannot read.
		certFile, keyFile := cfg.SelfSignedFiles()
		if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", nil, fmt.Errorf("self-signed certificate %s with key %s: %w", certFile, keyFile, err)
		}
		return "a self-signed certificate (made at the first start if missing)", nil, nil
	}
	var errs []error
	var warnings []string
	var leaves []*x509.Certificate
	for _, c := range cfg.TLS.Certificates {
		kp, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			errs = append(errs, fmt.Errorf("certificate %s with key %s: %w", c.Cert, c.Key, err))
			continue
		}
		leaf := kp.Leaf
		if leaf == nil {
			if leaf, err = x509.ParseCertificate(kp.Certificate[0]); err != nil {
				errs = append(errs, fmt.Errorf("certificate %s: %w", c.Cert, err))
				continue
			}
		}
		switch {
		case now.After(leaf.NotAfter):
			errs = append(errs, fmt.Errorf("certificate %s expired on %s", c.Cert, leaf.NotAfter.Format(time.DateOnly)))
			continue
		case now.Before(leaf.NotBefore):
			errs = append(errs, fmt.Errorf("certificate %s is not valid before %s", c.Cert, leaf.NotBefore.Format(time.DateTime)))
			continue
		case leaf.NotAfter.Sub(now) < 30*24*time.Hour:
			warnings = append(warnings, fmt.Sprintf("certificate %s expires on %s", c.Cert, leaf.NotAfter.Format(time.DateOnly)))
		}
		leaves = append(leaves, leaf)
	}
	if len(errs) > 0 {
		return "", warnings, errors.Join(errs...)
	}
	for _, d := range cfg.Domains {
		if !slices.ContainsFunc(leaves, func(l *x509.Certificate) bool { return l.VerifyHostname(d) == nil }) {
			warnings = append(warnings, fmt.Sprintf("no certificate names %s: clients will refuse it", d))
		}
	}
	return fmt.Sprintf("%d certificates", len(leaves)), warnings, nil
}

// checkStorage checks that the storage can be reached without changing
// it: PostgreSQL must answer within ctx; for SQLite an existing database
// file must be readable and writable.
func checkStorage(ctx context.Context, cfg *config.Config) error {
	switch cfg.Storage.Kind {
	case config.StoragePostgres:
		if err := postgres.Ping(ctx, cfg.Storage.URL); err != nil {
			return fmt.Errorf("storage %s: %w", cfg.Storage, err)
		}
	case config.StorageSQLite:
		f, err := os.OpenFile(cfg.SQLitePath(), os.O_RDWR, 0)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Created at the first start.
		case err != nil:
			return fmt.Errorf("storage %s: %w", cfg.Storage, err)
		default:
			f.Close()
		}
	}
	return nil
}
