// Package acmecert obtains and renews certificates from an ACME
// certificate authority (RFC 8555), such as Let's Encrypt, answering its
// TLS-ALPN-01 (RFC 8737) and HTTP-01 challenges, and installs them in a
// certs.Store as they arrive, so that renewed certificates are served
// without a restart.
package acmecert

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/parley-xmpp/parley/server/certs"
)

// Challenge types (RFC 8555 §8.3, RFC 8737).
const (
	HTTP01    = "http-01"
	TLSALPN01 = "tls-alpn-01"
)

// Options configure a Manager.
type Options struct {
	// Directory is the ACME directory URL.
	Directory string
	// Email is the account's contact address; empty: none.
	Email string
	// HTTPClient talks to the certificate authority; nil is
	// http.DefaultClient.
	HTTPClient *http.Client
	// Challenges are the challenge types to answer, by preference.
	Challenges []string
	// Dir keeps the account key and the certificates.
	Dir string
	// Certificates are the certificates to keep, each a list of DNS
	// names; the first name names its files.
	Certificates [][]string
	// Store serves the certificates and the TLS-ALPN-01 challenges.
	Store *certs.Store
	// RetryAfter is the wait after a failure, doubled per failure up to
	// maxRetry.
	RetryAfter time.Duration
	// Log receives the manager's events; nil discards them.
	Log *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// maxRetry caps the wait after repeated failures.
const maxRetry = 24 * time.Hour

// maxAttempt bounds one issuance, validations included.
const maxAttempt = 5 * time.Minute

// Manager keeps certificates issued and renewed. Run does the work;
// HTTPHandler answers HTTP-01 challenges.
type Manager struct {
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	tokens map[string]string // HTTP-01: path → key authorization
	client *acme.Client      // set up by the first attempt
}

// New returns a manager; Run starts it.
func New(opts Options) *Manager {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = time.Minute
	}
	return &Manager{opts: opts, log: opts.Log, tokens: map[string]string{}}
}

// HTTPHandler answers HTTP-01 challenges under
// /.well-known/acme-challenge/ and passes every other request to next (a
// 404 when nil).
func (m *Manager) HTTPHandler(next http.Handler) http.Handler {
	if next == nil {
		next = http.NotFoundHandler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			next.ServeHTTP(w, r)
			return
		}
		m.mu.Lock()
		resp, ok := m.tokens[r.URL.Path]
		m.mu.Unlock()
		if !ok {
			m.log.Warn("HTTP-01 request for an unknown ACME challenge", "path", r.URL.Path, "remote", r.RemoteAddr)
			http.NotFound(w, r)
			return
		}
		m.log.Info("answering an ACME HTTP-01 validation", "host", r.Host, "remote", r.RemoteAddr)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(resp))
	})
}

// Run loads the kept certificates, obtains the missing ones, and renews
// each once two thirds of its lifetime have passed, until ctx ends. A
// failed attempt is logged and retried after RetryAfter, doubled per
// consecutive failure up to a day.
func (m *Manager) Run(ctx context.Context) {
	due := make([]time.Time, len(m.opts.Certificates))
	fails := make([]int, len(m.opts.Certificates))
	for i, names := range m.opts.Certificates {
		if c, err := m.loadKept(names); err == nil {
			if err := m.opts.Store.Set(names[0], c); err != nil {
				m.log.Error("installing a kept ACME certificate", "names", names, "err", err)
				continue
			}
			due[i] = renewAt(c.Leaf)
			m.log.Info("serving a kept ACME certificate", "names", names, "expires", c.Leaf.NotAfter, "renew_at", due[i])
		} else if !errors.Is(err, fs.ErrNotExist) {
			m.log.Warn("kept ACME certificate unusable; obtaining a new one", "names", names, "err", err)
		}
	}
	for {
		next := time.Time{}
		for i, names := range m.opts.Certificates {
			if m.opts.Now().Before(due[i]) {
				if next.IsZero() || due[i].Before(next) {
					next = due[i]
				}
				continue
			}
			if ctx.Err() != nil {
				return
			}
			leaf, err := m.obtain(ctx, names)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				wait := min(m.opts.RetryAfter<<min(fails[i], 20), maxRetry)
				fails[i]++
				due[i] = m.opts.Now().Add(wait)
				m.log.Error("obtaining an ACME certificate failed", "names", names, "err", err, "retry_in", wait)
			} else {
				fails[i] = 0
				due[i] = renewAt(leaf)
				m.log.Info("obtained an ACME certificate", "names", names, "expires", leaf.NotAfter, "renew_at", due[i])
			}
			if next.IsZero() || due[i].Before(next) {
				next = due[i]
			}
		}
		if next.IsZero() {
			return // no certificate to keep
		}
		t := time.NewTimer(max(next.Sub(m.opts.Now()), 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// renewAt is when a certificate is renewed: when a third of its lifetime
// is left.
func renewAt(leaf *x509.Certificate) time.Time {
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	return leaf.NotAfter.Add(-life / 3)
}

// files are where the certificate named after name is kept.
func (m *Manager) files(name string) (cert, key string) {
	base := filepath.Join(m.opts.Dir, strings.ReplaceAll(name, "/", "_"))
	return base + ".crt", base + ".key"
}

// loadKept reads the kept certificate of names; it must cover every name
// and not have expired.
func (m *Manager) loadKept(names []string) (*tls.Certificate, error) {
	certFile, keyFile := m.files(names[0])
	kp, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	leaf := certs.Leaf(&kp)
	if leaf == nil {
		return nil, fmt.Errorf("%s: the certificate does not parse", certFile)
	}
	if !m.opts.Now().Before(leaf.NotAfter) {
		return nil, fmt.Errorf("%s: expired on %s", certFile, leaf.NotAfter)
	}
	for _, n := range names {
		if !slices.Contains(leaf.DNSNames, n) {
			return nil, fmt.Errorf("%s does not cover %s", certFile, n)
		}
	}
	return &kp, nil
}

// acmeClient returns the ACME client with the account registered,
// creating the account key on first use.
func (m *Manager) acmeClient(ctx context.Context) (*acme.Client, error) {
	m.mu.Lock()
	c := m.client
	m.mu.Unlock()
	if c != nil {
		return c, nil
	}
	key, err := m.accountKey()
	if err != nil {
		return nil, err
	}
	c = &acme.Client{Key: key, DirectoryURL: m.opts.Directory, HTTPClient: m.opts.HTTPClient, UserAgent: "parley"}
	acct := &acme.Account{}
	if m.opts.Email != "" {
		acct.Contact = []string{"mailto:" + m.opts.Email}
	}
	if _, err := c.Register(ctx, acct, acme.AcceptTOS); err != nil && !errors.Is(err, acme.ErrAccountAlreadyExists) {
		return nil, fmt.Errorf("registering the ACME account at %s: %w", m.opts.Directory, err)
	}
	m.mu.Lock()
	m.client = c
	m.mu.Unlock()
	return c, nil
}

// accountKey reads the account key, creating it on first use.
func (m *Manager) accountKey() (crypto.Signer, error) {
	path := filepath.Join(m.opts.Dir, "account.key")
	if b, err := os.ReadFile(path); err == nil {
		return parseKey(b, path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading the ACME account key: %w", err)
	}
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, err
	}
	if err := writeFile(path, keyPEM, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

func newKey() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating a key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding a key: %w", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func parseKey(b []byte, path string) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s holds no PEM key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: unsupported key type %T", path, k)
	}
	return s, nil
}

// writeFile writes a file atomically (a temporary file renamed).
func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return nil
}

// obtain runs one order for names: it answers the challenges, has the
// certificate issued, keeps it on disk and installs it in the store.
func (m *Manager) obtain(ctx context.Context, names []string) (*x509.Certificate, error) {
	ctx, cancel := context.WithTimeout(ctx, maxAttempt)
	defer cancel()
	c, err := m.acmeClient(ctx)
	if err != nil {
		return nil, err
	}
	order, err := c.AuthorizeOrder(ctx, acme.DomainIDs(names...))
	if err != nil {
		return nil, fmt.Errorf("creating the order: %w", err)
	}
	for _, u := range order.AuthzURLs {
		if err := m.authorize(ctx, c, u); err != nil {
			return nil, err
		}
	}
	if order, err = c.WaitOrder(ctx, order.URI); err != nil {
		return nil, fmt.Errorf("waiting for the order: %w", err)
	}
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names}, key)
	if err != nil {
		return nil, fmt.Errorf("creating the certificate request: %w", err)
	}
	der, _, err := c.CreateCertFromOrder(ctx, order, csr, true)
	if err != nil {
		return nil, fmt.Errorf("finalizing the order: %w", err)
	}
	var chain bytes.Buffer
	for _, b := range der {
		_ = pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: b})
	}
	kp, err := tls.X509KeyPair(chain.Bytes(), keyPEM)
	if err != nil {
		return nil, fmt.Errorf("the issued certificate: %w", err)
	}
	leaf := certs.Leaf(&kp)
	if leaf == nil {
		return nil, errors.New("the issued certificate does not parse")
	}
	certFile, keyFile := m.files(names[0])
	if err := writeFile(keyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFile(certFile, chain.Bytes(), 0o644); err != nil {
		return nil, err
	}
	if err := m.opts.Store.Set(names[0], &kp); err != nil {
		return nil, err
	}
	return leaf, nil
}

// authorize completes one authorization with the first configured
// challenge type the certificate authority offers.
func (m *Manager) authorize(ctx context.Context, c *acme.Client, url string) error {
	z, err := c.GetAuthorization(ctx, url)
	if err != nil {
		return fmt.Errorf("fetching authorization %s: %w", url, err)
	}
	if z.Status == acme.StatusValid {
		return nil
	}
	domain := z.Identifier.Value
	var chal *acme.Challenge
	for _, typ := range m.opts.Challenges {
		for _, ch := range z.Challenges {
			if ch.Type == typ {
				chal = ch
				break
			}
		}
		if chal != nil {
			break
		}
	}
	if chal == nil {
		return fmt.Errorf("%s: the certificate authority offers none of the challenges %v", domain, m.opts.Challenges)
	}
	switch chal.Type {
	case TLSALPN01:
		cert, err := c.TLSALPN01ChallengeCert(chal.Token, domain)
		if err != nil {
			return fmt.Errorf("%s: creating the TLS-ALPN-01 certificate: %w", domain, err)
		}
		m.opts.Store.SetChallenge(domain, &cert)
		defer m.opts.Store.SetChallenge(domain, nil)
	case HTTP01:
		resp, err := c.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			return fmt.Errorf("%s: creating the HTTP-01 response: %w", domain, err)
		}
		path := c.HTTP01ChallengePath(chal.Token)
		m.mu.Lock()
		m.tokens[path] = resp
		m.mu.Unlock()
		defer func() {
			m.mu.Lock()
			delete(m.tokens, path)
			m.mu.Unlock()
		}()
	}
	m.log.Info("answering an ACME challenge", "domain", domain, "type", chal.Type)
	if _, err := c.Accept(ctx, chal); err != nil {
		return fmt.Errorf("%s: accepting the %s challenge: %w", domain, chal.Type, err)
	}
	if _, err := c.WaitAuthorization(ctx, z.URI); err != nil {
		return fmt.Errorf("%s: %s validation: %w", domain, chal.Type, err)
	}
	return nil
}
