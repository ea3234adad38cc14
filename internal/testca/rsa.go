package testca

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// RSALeaf is a self-signed server certificate with an RSA key, for tests
// of RSA signatures (the CA's certificates have ECDSA keys).
type RSALeaf struct {
	// Cert is the certificate, for the DNS name it was made for.
	Cert *x509.Certificate
	// Key is its private key.
	Key *rsa.PrivateKey
}

// NewRSALeaf returns a self-signed server certificate for name with a new
// RSA key of bits, valid from an hour ago to an hour from now.
func NewRSALeaf(t testing.TB, name string, bits int) *RSALeaf {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	return &RSALeaf{Cert: create(t, tmpl, tmpl, &key.PublicKey, key), Key: key}
}

// TLS returns the certificate for a tls.Config, signing with its Go key.
func (l *RSALeaf) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{l.Cert.Raw}, PrivateKey: l.Key, Leaf: l.Cert}
}

// Pool returns a pool trusting the certificate.
func (l *RSALeaf) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(l.Cert)
	return p
}

// WritePEM writes the certificate to certFile and its key to keyFile
// (PKCS #1, "RSA PRIVATE KEY", as `openssl genrsa` wrote them for years).
func (l *RSALeaf) WritePEM(t testing.TB, certFile, keyFile string) {
	t.Helper()
	writeFile(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.Cert.Raw}), 0o644)
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(l.Key)}), 0o600)
}
