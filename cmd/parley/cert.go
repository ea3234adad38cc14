package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/config"
)

const certUsage = `usage: parley cert import [--config FILE] [--data DIR] [--link] DIR
       parley cert list [--config FILE] [--data DIR]

import takes certificates in Let's Encrypt's (certbot's) layout: DIR is one
certificate's folder holding fullchain.pem and privkey.pem
(/etc/letsencrypt/live/example.org) or a folder of such folders
(/etc/letsencrypt/live). Each is checked (the key must match) and copied
into the data folder (tls/imported/NAME/), or linked there with --link so
that certbot's renewals are served too; a running server serves them
within 30 seconds (or at once on reload). It then reports which domains
and service domains a certificate covers.
list reports the same coverage for the certificates in use.
`

// runCert implements "parley cert".
func runCert(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, certUsage)
		return 2
	}
	switch args[0] {
	case "import", "list":
	case "-h", "--help", "-help", "help":
		fmt.Fprint(stdout, certUsage)
		return 0
	default:
		fmt.Fprintf(stderr, "parley cert: unknown subcommand %q\n", args[0])
		fmt.Fprint(stderr, certUsage)
		return 2
	}
	fset := flag.NewFlagSet("parley cert "+args[0], flag.ContinueOnError)
	var cf commonFlags
	cf.register(fset)
	link := false
	if args[0] == "import" {
		fset.BoolVar(&link, "link", false, "link the files instead of copying them (certbot's renewals are then served too)")
	}
	fset.Usage = func() {
		fmt.Fprint(fset.Output(), certUsage)
		fset.PrintDefaults()
	}
	if code := parseFlags(fset, args[1:], stdout, stderr); code >= 0 {
		return code
	}
	if (args[0] == "import") != (fset.NArg() == 1) {
		fset.Usage()
		return 2
	}
	cfg, err := cf.load(env)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return exitCode(err)
	}
	if args[0] == "import" {
		if err := importCerts(cfg, fset.Arg(0), link, stdout); err != nil {
			fmt.Fprintln(stderr, "parley: cert import:", err)
			return 1
		}
	}
	if err := reportCoverage(ctx, cfg, stdout); err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
	return 0
}

// importCerts checks and copies (or links) the certificates of dir into
// the data folder.
func importCerts(cfg *config.Config, dir string, link bool, stdout io.Writer) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	var sources []string
	if _, err := os.Stat(filepath.Join(dir, app.ImportedCert)); err == nil {
		sources = []string{dir}
	} else {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			sub := filepath.Join(dir, e.Name())
			if _, err := os.Stat(filepath.Join(sub, app.ImportedCert)); err == nil {
				sources = append(sources, sub)
			}
		}
	}
	if len(sources) == 0 {
		return fmt.Errorf("no %s in %s nor in its folders", app.ImportedCert, dir)
	}
	// Every certificate must load before any is imported.
	leaves := make([]*x509.Certificate, len(sources))
	for i, src := range sources {
		kp, err := tls.LoadX509KeyPair(filepath.Join(src, app.ImportedCert), filepath.Join(src, app.ImportedKey))
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		if leaves[i], err = x509.ParseCertificate(kp.Certificate[0]); err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		if time.Now().After(leaves[i].NotAfter) {
			return fmt.Errorf("%s: the certificate expired on %s", src, leaves[i].NotAfter.Format(time.DateOnly))
		}
	}
	for i, src := range sources {
		dst := filepath.Join(cfg.ImportedDir(), filepath.Base(src))
		if err := os.MkdirAll(dst, 0o700); err != nil {
			return err
		}
		for _, f := range []struct {
			name string
			mode os.FileMode
		}{{app.ImportedCert, 0o644}, {app.ImportedKey, 0o600}} {
			if err := placeFile(filepath.Join(src, f.name), filepath.Join(dst, f.name), f.mode, link); err != nil {
				return err
			}
		}
		how := "copied"
		if link {
			how = "linked"
		}
		fmt.Fprintf(stdout, "%s %s to %s: %s, valid until %s\n", how, src, dst,
			strings.Join(leaves[i].DNSNames, ", "), leaves[i].NotAfter.Format(time.DateOnly))
	}
	return nil
}

// placeFile copies src to dst (replacing it atomically), or links it.
func placeFile(src, dst string, mode os.FileMode, link bool) error {
	tmp := dst + ".tmp"
	_ = os.Remove(tmp)
	if link {
		if err := os.Symlink(src, tmp); err != nil {
			return err
		}
	} else {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(tmp, b, mode); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("placing %s: %w", dst, err)
	}
	return nil
}

// reportCoverage prints, for every served domain and service domain,
// the certificate file that covers it, or that none does.
func reportCoverage(ctx context.Context, cfg *config.Config, stdout io.Writer) error {
	services, err := app.ServiceDomains(ctx, cfg)
	if err != nil {
		return err
	}
	type cert struct {
		file string
		leaf *x509.Certificate
	}
	var certs []cert
	files := []string{}
	for _, c := range cfg.TLS.Certificates {
		files = append(files, c.Cert)
	}
	entries, err := os.ReadDir(cfg.ImportedDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		files = append(files, filepath.Join(cfg.ImportedDir(), e.Name(), app.ImportedCert))
	}
	if cfg.TLS.ACME.Enabled {
		acme, _ := filepath.Glob(filepath.Join(cfg.ACMEDir(), "*.crt"))
		files = append(files, acme...)
	}
	for _, f := range files {
		leaf, err := readLeaf(f)
		if err != nil {
			fmt.Fprintf(stdout, "  %s: unreadable: %v\n", f, err)
			continue
		}
		certs = append(certs, cert{f, leaf})
	}
	names := append(append([]string(nil), cfg.Domains...), services...)
	uncovered := 0
	fmt.Fprintln(stdout, "coverage:")
	for _, n := range names {
		i := slices.IndexFunc(certs, func(c cert) bool { return c.leaf.VerifyHostname(n) == nil && time.Now().Before(c.leaf.NotAfter) })
		if i < 0 {
			uncovered++
			fmt.Fprintf(stdout, "  %-30s NOT COVERED\n", n)
			continue
		}
		fmt.Fprintf(stdout, "  %-30s %s (until %s)\n", n, certs[i].file, certs[i].leaf.NotAfter.Format(time.DateOnly))
	}
	if uncovered > 0 {
		how := "the self-signed certificate"
		if cfg.TLS.ACME.Enabled {
			how = "the self-signed certificate until ACME issues one"
		}
		fmt.Fprintf(stdout, "%d of %d names are covered by no certificate: they get %s.\n", uncovered, len(names), how)
	}
	return nil
}

// readLeaf returns the first certificate of a PEM chain file.
func readLeaf(file string) (*x509.Certificate, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return nil, fmt.Errorf("%s holds no certificate", file)
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
}
