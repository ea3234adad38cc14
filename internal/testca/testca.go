// Package testca is a certificate authority for tests: a root made on the
// spot, and leaf or intermediate certificates it signs, with the XMPP
// names of RFC 6120 §13.7.1 (DNS names, SRV names, xmppAddr).
package testca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/server/s2s/certid"
)

// CA is a certificate authority: a root, or an intermediate made by Sub.
type CA struct {
	// Cert is the CA's certificate.
	Cert *x509.Certificate
	// Key is its private key.
	Key *ecdsa.PrivateKey
	// Pool holds the root of the CA's chain: the one to trust.
	Pool *x509.CertPool

	serial *atomic.Int64
}

// New returns a root CA valid from an hour ago to an hour from now.
func New(t testing.TB) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Parley test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	cert := create(t, tmpl, tmpl, &key.PublicKey, key)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	serial := new(atomic.Int64)
	serial.Store(1)
	return &CA{Cert: cert, Key: key, Pool: pool, serial: serial}
}

// Sub returns an intermediate CA signed by c, trusted through c's root.
func (c *CA) Sub(t testing.TB) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(c.serial.Add(1)), Subject: pkix.Name{CommonName: "Parley test intermediate"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	return &CA{Cert: create(t, tmpl, c.Cert, &key.PublicKey, c.Key), Key: key, Pool: c.Pool, serial: c.serial}
}

// Leaf is a certificate the CA issued, with its key.
type Leaf struct {
	// Cert is the certificate.
	Cert *x509.Certificate
	// Key is its private key.
	Key *ecdsa.PrivateKey
	// Chain is Cert followed by the intermediates up to the root
	// (excluded), as a peer sends it.
	Chain []*x509.Certificate
}

// TLS returns the leaf as a certificate for tls.Config.
func (l *Leaf) TLS() tls.Certificate {
	c := tls.Certificate{PrivateKey: l.Key, Leaf: l.Cert}
	for _, x := range l.Chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

// Issue makes a leaf certificate for the names in ids, with the subject
// common name cn, usable for TLS server authentication; edit, when not
// nil, adjusts the template before signing (validity, key usage...).
func (c *CA) Issue(t testing.TB, cn string, ids certid.Identities, edit func(*x509.Certificate)) *Leaf {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(c.serial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if len(ids.DNS)+len(ids.SRV)+len(ids.XmppAddr) > 0 {
		ext, err := certid.Extension(ids)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{ext}
	}
	if edit != nil {
		edit(tmpl)
	}
	cert := create(t, tmpl, c.Cert, &key.PublicKey, c.Key)
	chain := []*x509.Certificate{cert}
	if c.Cert.Issuer.CommonName != c.Cert.Subject.CommonName { // an intermediate
		chain = append(chain, c.Cert)
	}
	return &Leaf{Cert: cert, Key: key, Chain: chain}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func create(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// WritePEM writes the CA's certificate to file, as a trust anchor for
// other programs (mode 0644).
func (c *CA) WritePEM(t testing.TB, file string) {
	t.Helper()
	writeFile(t, file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw}), 0o644)
}

// WritePEM writes the leaf's chain to certFile and its key to keyFile
// (PKCS #8), for other programs; the key file is readable by all, as
// suits a throwaway test key used by servers running as other users.
func (l *Leaf) WritePEM(t testing.TB, certFile, keyFile string) {
	t.Helper()
	var chain []byte
	for _, c := range l.Chain {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	writeFile(t, certFile, chain, 0o644)
	der, err := x509.MarshalPKCS8PrivateKey(l.Key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o644)
}

func writeFile(t testing.TB, name string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(name, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
}
