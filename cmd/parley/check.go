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
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/parley-xmpp/parley/server/app"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/storage/postgres"
)

// defaultCheckTimeout bounds each network step of "parley check": the
// storage connection, a DNS query, a connection to a listener.
const defaultCheckTimeout = 5 * time.Second

// checkSections are the parts of "parley check", in the order a bare
// "parley check" runs them.
var checkSections = []string{"config", "certs", "dns", "connectivity"}

// Exit statuses of "parley check" (as a monitoring plugin's): 0 all
// good, 1 warnings only, 2 at least one error (a configuration that does
// not load included).
const (
	checkOK      = 0
	checkWarning = 1
	checkError   = 2
)

// runCheck implements "parley check [config] [certs] [dns]
// [connectivity]". It changes nothing: no data folder, no self-signed
// certificate, no schema migration.
func runCheck(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("parley check", flag.ContinueOnError)
	var cf commonFlags
	cf.register(fset)
	timeout := fset.Duration("timeout", defaultCheckTimeout, "how long to wait for each answer: the storage, a DNS query, a listener")
	dnsServer := fset.String("dns-server", "", "ask this DNS server (host:port) instead of the system's resolver")
	caFile := fset.String("ca", "", "PEM file of CA certificates to trust besides the system's")
	fset.Usage = func() {
		fmt.Fprintln(fset.Output(), "usage: parley check [flags] [config] [certs] [dns] [connectivity]")
		fmt.Fprintln(fset.Output(), `Checks what a server needs (all four parts when none is named):
  config        the configuration, the certificate and key files, the storage
  certs         a certificate covers each served domain and service domain and is not expiring
  dns           SRV and A/AAAA records of each domain point at this machine
  connectivity  each configured listener answers on this machine with its protocol
Exit status: 0 all good, 1 warnings only, 2 errors.`)
		fset.PrintDefaults()
	}
	// Flags may come before, between or after the parts named.
	var sections []string
	for {
		if code := parseFlags(fset, args, stdout, stderr); code >= 0 {
			return code
		}
		if fset.NArg() == 0 {
			break
		}
		sections = append(sections, fset.Arg(0))
		args = fset.Args()[1:]
	}
	if len(sections) == 0 {
		sections = checkSections
	}
	for _, s := range sections {
		if !slices.Contains(checkSections, s) {
			fmt.Fprintf(stderr, "parley check: unknown part %q (known: %s)\n", s, strings.Join(checkSections, ", "))
			return 2
		}
	}
	cfg, err := cf.load(env)
	if err != nil {
		fmt.Fprintln(stderr, "parley:", err)
		return checkError
	}
	c := &checker{
		cfg:        cfg,
		out:        &report{w: stdout},
		now:        time.Now(),
		timeout:    *timeout,
		resolver:   net.DefaultResolver,
		localAddrs: interfaceAddrs,
	}
	if *dnsServer != "" {
		c.resolver = resolverAt(*dnsServer)
	}
	if *caFile != "" {
		if c.roots, err = loadRoots(*caFile); err != nil {
			fmt.Fprintln(stderr, "parley:", err)
			return 2
		}
	}
	for _, s := range sections {
		switch s {
		case "config":
			c.checkConfig(ctx)
		case "certs":
			c.checkCerts(ctx)
		case "dns":
			c.checkDNS(ctx)
		case "connectivity":
			c.checkConnectivity(ctx)
		}
	}
	return c.out.finish(stderr)
}

// checker runs the parts of "parley check" on one configuration. Its
// network and trust dependencies are fields, so that tests give it a DNS
// server of their own, the machine's addresses and a CA.
type checker struct {
	cfg        *config.Config
	out        *report
	now        time.Time
	timeout    time.Duration
	resolver   *net.Resolver
	localAddrs func() ([]netip.Addr, error)
	roots      *x509.CertPool // nil: the system's

	services []string // the service domains, once listed
}

// report prints the findings of "parley check" and counts them.
type report struct {
	w                io.Writer
	warnings, errors int
}

func (r *report) section(title string) { fmt.Fprintf(r.w, "%s:\n", title) }

func (r *report) ok(format string, args ...any) {
	fmt.Fprintf(r.w, "  ok: %s\n", fmt.Sprintf(format, args...))
}

func (r *report) note(format string, args ...any) {
	fmt.Fprintf(r.w, "  note: %s\n", fmt.Sprintf(format, args...))
}

func (r *report) warn(format string, args ...any) {
	r.warnings++
	fmt.Fprintf(r.w, "  warning: %s\n", fmt.Sprintf(format, args...))
}

func (r *report) fail(format string, args ...any) {
	r.errors++
	fmt.Fprintf(r.w, "  error: %s\n", fmt.Sprintf(format, args...))
}

// advise follows a warning or an error with what to do about it.
func (r *report) advise(format string, args ...any) {
	fmt.Fprintf(r.w, "    fix: %s\n", fmt.Sprintf(format, args...))
}

// finish prints the verdict and returns the exit status.
func (r *report) finish(stderr io.Writer) int {
	switch {
	case r.errors > 0:
		fmt.Fprintf(stderr, "parley: check failed: %d errors, %d warnings\n", r.errors, r.warnings)
		return checkError
	case r.warnings > 0:
		fmt.Fprintf(r.w, "check passed with %d warnings\n", r.warnings)
		return checkWarning
	}
	fmt.Fprintln(r.w, "all checks OK")
	return checkOK
}

// checkConfig reports what "parley check config" finds: the
// configuration loaded (else runCheck stopped before), every certificate
// loads with its key, the storage is reachable.
func (c *checker) checkConfig(ctx context.Context) {
	c.out.section("config")
	c.out.ok("configuration valid: domains %s, %d listeners, data in %s", strings.Join(c.cfg.Domains, ", "), len(c.cfg.Listeners), c.cfg.DataDir)
	certs, err := loadCertificateFiles(c.cfg)
	switch {
	case err != nil:
		for _, e := range unjoin(err) {
			c.out.fail("%s", oneLine(e.Error()))
		}
	case len(certs) == 0:
		c.out.ok("a self-signed certificate (made at the first start if missing)")
	default:
		c.out.ok("%d certificates load with their keys", len(certs))
	}
	for _, sc := range certs {
		if c.now.After(sc.leaf.NotAfter) {
			c.out.fail("certificate %s expired on %s", sc.file, sc.leaf.NotAfter.UTC().Format(time.DateOnly))
		}
	}
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := checkStorage(cctx, c.cfg); err != nil {
		c.out.fail("%s", oneLine(err.Error()))
		c.out.advise("start the database or correct the storage setting; the server cannot start without it")
		return
	}
	c.out.ok("storage %s reachable", c.cfg.Storage)
}

// servedCert is a loaded certificate with its files.
type servedCert struct {
	file  string
	leaf  *x509.Certificate
	chain []*x509.Certificate // after the leaf
	self  bool                // the generated self-signed one
}

// loadCertificateFiles loads every configured certificate with its key,
// or the self-signed one when none is configured (none yet is no error:
// the server makes it at its first start). The errors name the files: a
// file missing or unreadable, a key that does not match its certificate.
func loadCertificateFiles(cfg *config.Config) ([]servedCert, error) {
	type pair struct {
		cert, key string
		self      bool
	}
	var pairs []pair
	for _, c := range cfg.TLS.Certificates {
		pairs = append(pairs, pair{c.Cert, c.Key, false})
	}
	if len(pairs) == 0 {
		certFile, keyFile := cfg.SelfSignedFiles()
		pairs = append(pairs, pair{certFile, keyFile, true})
	}
	var out []servedCert
	var errs []error
	for _, p := range pairs {
		kp, err := tls.LoadX509KeyPair(p.cert, p.key)
		if p.self && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			what := "certificate"
			if p.self {
				what = "self-signed certificate"
			}
			errs = append(errs, fmt.Errorf("%s %s with key %s: %w", what, p.cert, p.key, err))
			continue
		}
		var chain []*x509.Certificate
		for i, der := range kp.Certificate {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				errs = append(errs, fmt.Errorf("certificate %s, entry %d: %w", p.cert, i+1, err))
				break
			}
			chain = append(chain, c)
		}
		if len(chain) == len(kp.Certificate) {
			out = append(out, servedCert{file: p.cert, leaf: chain[0], chain: chain[1:], self: p.self})
		}
	}
	return out, errors.Join(errs...)
}

// unjoin splits an errors.Join result into its errors.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
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

// serviceDomains returns the service domains the configuration serves
// (conference., upload. …, the components'), listed once.
func (c *checker) serviceDomains(ctx context.Context) []string {
	if c.services == nil {
		s, err := app.ServiceDomains(ctx, c.cfg)
		if err != nil {
			c.out.fail("listing the service domains: %s", oneLine(err.Error()))
		}
		c.services = append([]string{}, s...)
	}
	return c.services
}

// loadRoots returns the system's CA pool with the certificates of file.
func loadRoots(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", file)
	}
	return pool, nil
}
