// Package certs holds the certificates the server presents and swaps
// them while it runs: certificate files (configured, imported or
// self-signed) re-read on Reload or when they change on disk, and
// certificates an ACME client installs. Its TLS configuration picks the
// certificate by the client's server name and answers ACME TLS-ALPN-01
// challenges (RFC 8737).
package certs

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parley-xmpp/parley/server/certs/opensslkey"
)

// ALPNProto is the ALPN protocol of TLS-ALPN-01 challenges (RFC 8737 §6.2).
const ALPNProto = "acme-tls/1"

// File is a PEM certificate chain and its private key on disk.
type File struct {
	// Cert is the certificate chain, leaf first.
	Cert string
	// Key is the private key.
	Key string
}

// Loader returns the certificate files to serve; a Store calls it on
// every Reload, so that a loader may look for new files (an imported
// folder) or create missing ones (a self-signed certificate).
type Loader func() ([]File, error)

// Store holds the certificates in use. The zero value is not usable; use
// New. It is safe for concurrent use.
type Store struct {
	load Loader
	log  *slog.Logger

	mu sync.RWMutex
	// files are the certificates of the files, in the loader's order;
	// stamps the files' modification times when read.
	files  []*tls.Certificate
	stamps map[string]time.Time
	// issued are the certificates installed with Set, by key.
	issued map[string]*tls.Certificate
	// byName maps each DNS name (and wildcard) to the certificate that
	// serves it: issued ones win over files. first is the fallback for a
	// name none covers.
	byName map[string]*tls.Certificate
	first  *tls.Certificate
	// challenges are the TLS-ALPN-01 certificates of pending
	// validations, by domain.
	challenges map[string]*tls.Certificate
}

// New returns a store that serves the files load returns. It loads them
// once; an error there is returned.
func New(load Loader, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{load: load, log: log, issued: map[string]*tls.Certificate{}, challenges: map[string]*tls.Certificate{}}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	log.Info("RSA certificate keys sign with "+RSASigner(), "rsa_signer", RSASigner())
	return s, nil
}

// RSASigner names what makes the signatures of RSA certificate keys in
// this build: OpenSSL's libcrypto in one built with -tags openssl (see
// server/certs/opensslkey), else Go's crypto/rsa. ECDSA and Ed25519 keys
// always sign in Go.
func RSASigner() string {
	if opensslkey.Available {
		return opensslkey.Library()
	}
	return "Go crypto/rsa"
}

// useOpenSSL makes c's key sign through OpenSSL when it is an RSA key and
// the build has OpenSSL; any other key, or one OpenSSL does not take
// (logged), stays Go's.
func (s *Store) useOpenSSL(c *tls.Certificate, name string) {
	key, ok := c.PrivateKey.(*rsa.PrivateKey)
	if !ok || !opensslkey.Available {
		return
	}
	signer, err := opensslkey.New(key)
	if err != nil {
		s.log.Error("RSA key cannot sign through OpenSSL: Go's crypto/rsa signs with it", "cert", name, "err", err)
		return
	}
	c.PrivateKey = signer
}

// Reload re-reads the certificate files (configured, imported or
// self-signed) and serves them from the next handshake on; connections
// already up keep theirs. On an error the certificates in use stay. It
// is what the server's reload (SIGHUP, `parley reload`) should call.
func (s *Store) Reload() error {
	files, err := s.load()
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	certs := make([]*tls.Certificate, 0, len(files))
	stamps := make(map[string]time.Time, 2*len(files))
	for _, f := range files {
		for _, p := range []string{f.Cert, f.Key} {
			if st, err := os.Stat(p); err == nil {
				stamps[p] = st.ModTime()
			}
		}
		kp, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return fmt.Errorf("loading certificate %s: %w", f.Cert, err)
		}
		s.useOpenSSL(&kp, f.Cert)
		certs = append(certs, &kp)
	}
	s.mu.Lock()
	s.files, s.stamps = certs, stamps
	s.index()
	s.mu.Unlock()
	return nil
}

// Changed reports whether the certificate files changed since they were
// read: the loader lists other files (a certificate was imported), or one
// of them has another modification time, or appeared or vanished.
func (s *Store) Changed() bool {
	files, err := s.load()
	if err != nil {
		return true // Reload reports it
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	seen := make(map[string]bool, len(s.stamps))
	for _, f := range files {
		for _, p := range []string{f.Cert, f.Key} {
			at, ok := s.stamps[p]
			if !ok {
				return true
			}
			seen[p] = true
			if st, err := os.Stat(p); err != nil || !st.ModTime().Equal(at) {
				return true
			}
		}
	}
	return len(seen) != len(s.stamps)
}

// Watch reloads the files whenever one changes on disk, checking every
// interval, until ctx ends: certificates renewed by another program
// (certbot) are taken up without a reload. A failed reload is logged
// and the certificates in use stay.
func (s *Store) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.Changed() {
			continue
		}
		if err := s.Reload(); err != nil {
			s.log.Error("certificate files changed but cannot be loaded; keeping the ones in use", "err", err)
			continue
		}
		s.log.Info("certificate files changed on disk: reloaded")
	}
}

// Set installs an issued certificate under key (replacing the one
// installed under it before); from the next handshake on it serves the
// names it covers, before any file's.
func (s *Store) Set(key string, c *tls.Certificate) error {
	if c.Leaf == nil {
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			return fmt.Errorf("parsing certificate %s: %w", key, err)
		}
		c.Leaf = leaf
	}
	s.useOpenSSL(c, key)
	s.mu.Lock()
	s.issued[key] = c
	s.index()
	s.mu.Unlock()
	return nil
}

// index rebuilds byName and first. Call with mu held for writing.
func (s *Store) index() {
	s.byName = map[string]*tls.Certificate{}
	s.first = nil
	keys := make([]string, 0, len(s.issued))
	for k := range s.issued {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	all := make([]*tls.Certificate, 0, len(keys)+len(s.files))
	for _, k := range keys {
		all = append(all, s.issued[k])
	}
	all = append(all, s.files...)
	for _, c := range all {
		leaf := Leaf(c)
		if leaf == nil {
			continue
		}
		if s.first == nil {
			s.first = c
		}
		for _, n := range leaf.DNSNames {
			n = strings.ToLower(n)
			if _, ok := s.byName[n]; !ok {
				s.byName[n] = c
			}
		}
	}
}

// Leaf returns the parsed leaf of c, parsing it once; nil if it does not
// parse.
func Leaf(c *tls.Certificate) *x509.Certificate {
	if c.Leaf == nil && len(c.Certificate) > 0 {
		c.Leaf, _ = x509.ParseCertificate(c.Certificate[0])
	}
	return c.Leaf
}

// ForName returns the certificate serving a DNS name: one listing it,
// else one with a wildcard covering it, else nil.
func (s *Store) ForName(name string) *tls.Certificate {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	s.mu.RLock()
	defer s.mu.RUnlock()
	if c := s.byName[name]; c != nil {
		return c
	}
	if _, rest, ok := strings.Cut(name, "."); ok {
		return s.byName["*."+rest]
	}
	return nil
}

// GetCertificate is tls.Config.GetCertificate: the certificate for the
// client's server name, else the first one (for clients that send none,
// or a name no certificate covers).
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.ForName(hello.ServerName); c != nil {
		return c, nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.first == nil {
		return nil, errors.New("certs: no certificate")
	}
	return s.first, nil
}

// SetChallenge makes the store answer TLS-ALPN-01 validations of domain
// with cert, or stops answering them when cert is nil.
func (s *Store) SetChallenge(domain string, cert *tls.Certificate) {
	domain = strings.ToLower(domain)
	s.mu.Lock()
	defer s.mu.Unlock()
	if cert == nil {
		delete(s.challenges, domain)
		return
	}
	s.challenges[domain] = cert
}

// Names returns the DNS names the store's certificates cover, sorted.
func (s *Store) Names() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.byName))
	for n := range s.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// TLSConfig returns a server configuration taking its certificates from
// the store: every handshake gets the store's current certificate for its
// server name, and a handshake offering only ALPN "acme-tls/1" gets the
// pending TLS-ALPN-01 challenge certificate, or fails when there is none.
func (s *Store) TLSConfig(minVersion uint16) *tls.Config {
	return &tls.Config{
		MinVersion:     minVersion,
		GetCertificate: s.GetCertificate,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if !slices.Contains(hello.SupportedProtos, ALPNProto) {
				return nil, nil
			}
			name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
			s.mu.RLock()
			c := s.challenges[name]
			s.mu.RUnlock()
			if c == nil {
				s.log.Warn("TLS-ALPN-01 handshake for a domain without a pending ACME challenge", "server_name", name, "remote", addr(hello))
				return nil, fmt.Errorf("certs: no ACME challenge pending for %q", name)
			}
			s.log.Info("answering an ACME TLS-ALPN-01 validation", "domain", name, "remote", addr(hello))
			return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*c}, NextProtos: []string{ALPNProto}}, nil
		},
	}
}

func addr(hello *tls.ClientHelloInfo) string {
	if hello.Conn == nil {
		return ""
	}
	return hello.Conn.RemoteAddr().String()
}
