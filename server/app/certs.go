package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/parley-xmpp/parley/server/certs"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/tickets"
)

// certificateFiles returns the certificate files to serve: the
// configured ones and those `parley cert import` put in the data folder,
// else a self-signed certificate for every served domain, created in the
// data folder on first start and re-created when the domains change or it
// nears expiry. self reports the latter.
func certificateFiles(cfg *config.Config) (files []certs.File, self bool, err error) {
	for _, c := range cfg.TLS.Certificates {
		files = append(files, certs.File{Cert: c.Cert, Key: c.Key})
	}
	imported, err := importedFiles(cfg.ImportedDir())
	if err != nil {
		return nil, false, err
	}
	if files = append(files, imported...); len(files) > 0 {
		return files, false, nil
	}
	certFile, keyFile := cfg.SelfSignedFiles()
	if kp, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && coversDomains(kp, cfg.Domains) {
		return []certs.File{{Cert: certFile, Key: keyFile}}, true, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("loading self-signed certificate %s: %w", certFile, err)
	}
	if _, err := writeSelfSigned(certFile, keyFile, cfg.Domains); err != nil {
		return nil, false, err
	}
	return []certs.File{{Cert: certFile, Key: keyFile}}, true, nil
}

// importedFiles lists the certificates in dir: one folder per
// certificate, holding fullchain.pem and privkey.pem (`parley cert
// import`). A missing dir holds none.
func importedFiles(dir string) ([]certs.File, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading imported certificates: %w", err)
	}
	var out []certs.File
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		if st, err := os.Stat(sub); err != nil || !st.IsDir() {
			continue
		}
		out = append(out, certs.File{Cert: filepath.Join(sub, ImportedCert), Key: filepath.Join(sub, ImportedKey)})
	}
	return out, nil
}

// The files of an imported certificate, as certbot names them.
const (
	ImportedCert = "fullchain.pem"
	ImportedKey  = "privkey.pem"
)

// openCertificates sets up the certificate store and, with tls.acme
// enabled, the ACME manager (started by startACME once the service
// domains are known).
func (a *App) openCertificates() error {
	_, self, err := certificateFiles(a.cfg)
	if err != nil {
		return err
	}
	a.certCfg.Store(a.cfg)
	store, err := certs.New(func() ([]certs.File, error) {
		files, _, err := certificateFiles(a.certCfg.Load())
		return files, err
	}, a.log.With("component", "certs"))
	if err != nil {
		return err
	}
	a.certs, a.self = store, self
	return nil
}

// openTicketKeys makes every TLS listener (they all derive their
// configuration from a.tls) seal session tickets with keys kept in the
// data folder, so that clients resume their sessions across restarts.
func (a *App) openTicketKeys() error {
	st := a.cfg.TLS.SessionTickets
	if !st.Enabled {
		return nil
	}
	file, wrapKey := a.cfg.TicketKeyFiles()
	keys, err := tickets.Open(tickets.Options{
		File:        file,
		WrapKeyFile: wrapKey,
		Rotate:      st.RotateEvery,
		Lifetime:    st.Lifetime,
		Now:         a.now,
		Log:         a.log.With("component", "tickets"),
	})
	if err != nil {
		return fmt.Errorf("TLS session ticket keys: %w", err)
	}
	keys.Install(a.tls)
	return nil
}

// Certificates returns the certificate store; its Reload re-reads the
// certificate files. Nil before Start.
func (a *App) Certificates() *certs.Store { return a.certs }

func coversDomains(kp tls.Certificate, domains []string) bool {
	leaf := kp.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(kp.Certificate[0]); err != nil {
			return false
		}
	}
	if time.Until(leaf.NotAfter) < 30*24*time.Hour {
		return false
	}
	for _, d := range domains {
		if !slices.Contains(leaf.DNSNames, d) {
			return false
		}
	}
	return true
}

func writeSelfSigned(certFile, keyFile string, domains []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating serial: %w", err)
	}
	var names []string
	for _, d := range domains {
		names = append(names, d, "*."+d)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: domains[0], Organization: []string{"Parley self-signed"}},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(2, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("creating certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("encoding key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(certFile), 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("creating certificate folder: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("writing %s: %w", keyFile, err)
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("writing %s: %w", certFile, err)
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// loadSecret returns the server's persistent random secret (used for the
// fake SCRAM salts of unknown users), creating it on first start.
func loadSecret(dir string) ([]byte, error) {
	path := filepath.Join(dir, "secret")
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generating secret: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return b, nil
}
