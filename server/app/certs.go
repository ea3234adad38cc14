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

	"github.com/parley-xmpp/parley/server/config"
)

// loadCertificates returns the configured certificates, or a self-signed
// one for every served domain, created in the data folder on first start
// and re-created when the domains change or it nears expiry.
func loadCertificates(cfg *config.Config) ([]tls.Certificate, bool, error) {
	if len(cfg.TLS.Certificates) > 0 {
		var out []tls.Certificate
		for _, c := range cfg.TLS.Certificates {
			kp, err := tls.LoadX509KeyPair(c.Cert, c.Key)
			if err != nil {
				return nil, false, fmt.Errorf("loading certificate %s: %w", c.Cert, err)
			}
			out = append(out, kp)
		}
		return out, false, nil
	}
	certFile, keyFile := cfg.SelfSignedFiles()
	if kp, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && coversDomains(kp, cfg.Domains) {
		return []tls.Certificate{kp}, true, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("loading self-signed certificate %s: %w", certFile, err)
	}
	kp, err := writeSelfSigned(certFile, keyFile, cfg.Domains)
	if err != nil {
		return nil, false, err
	}
	return []tls.Certificate{kp}, true, nil
}

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
