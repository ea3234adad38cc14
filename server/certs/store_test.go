package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-xmpp/parley/internal/testca"
	"github.com/parley-xmpp/parley/server/certs"
	"github.com/parley-xmpp/parley/server/s2s/certid"
)

// writeCert writes a certificate for names, issued by ca, and returns
// its files.
func writeCert(t *testing.T, ca *testca.CA, dir, base string, names ...string) certs.File {
	t.Helper()
	f := certs.File{Cert: filepath.Join(dir, base+".crt"), Key: filepath.Join(dir, base+".key")}
	ca.Issue(t, names[0], certid.Identities{DNS: names}, nil).WritePEM(t, f.Cert, f.Key)
	return f
}

// served does a real handshake with cfg for serverName and returns the
// leaf the server presented.
func served(t *testing.T, cfg *tls.Config, serverName string, protos ...string) (*x509.Certificate, error) {
	t.Helper()
	st, err := handshake(t, cfg, &tls.Config{InsecureSkipVerify: true, ServerName: serverName, NextProtos: protos})
	if err != nil {
		return nil, err
	}
	return st.PeerCertificates[0], nil
}

// handshake does a real handshake between a server with cfg and a client
// with client.
func handshake(t *testing.T, cfg, client *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() {
		_ = tls.Server(b, cfg).Handshake()
		b.Close()
	}()
	c := tls.Client(a, client)
	if err := c.Handshake(); err != nil {
		return tls.ConnectionState{}, err
	}
	return c.ConnectionState(), nil
}

func TestStoreSelectsBySNIAndReloads(t *testing.T) {
	dir, ca := t.TempDir(), testca.New(t)
	a := writeCert(t, ca, dir, "a", "a.example", "conference.a.example")
	b := writeCert(t, ca, dir, "b", "b.example", "*.b.example")
	s, err := certs.New(func() ([]certs.File, error) { return []certs.File{a, b}, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.TLSConfig(tls.VersionTLS12)
	for name, want := range map[string]string{"a.example": "a.example", "conference.a.example": "a.example",
		"upload.b.example": "b.example", "B.Example": "b.example", "": "a.example", "other.example": "a.example"} {
		leaf, err := served(t, cfg, name)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if leaf.Subject.CommonName != want {
			t.Errorf("%q got the certificate of %s, want %s", name, leaf.Subject.CommonName, want)
		}
	}
	before, _ := served(t, cfg, "b.example")
	if s.Changed() {
		t.Error("Changed before any change")
	}
	// A renewal on disk (certbot's): Changed sees it, Reload serves it.
	later := time.Now().Add(time.Minute)
	writeCert(t, ca, dir, "b", "b.example")
	os.Chtimes(b.Cert, later, later)
	if !s.Changed() {
		t.Error("Changed missed the new file")
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	after, _ := served(t, cfg, "b.example")
	if after.SerialNumber.Cmp(before.SerialNumber) == 0 {
		t.Error("Reload did not swap the certificate")
	}
	// A broken file: Reload fails and the certificates in use stay.
	os.WriteFile(b.Cert, []byte("garbage"), 0o600)
	if err := s.Reload(); err == nil {
		t.Error("Reload of a broken file succeeded")
	}
	still, err := served(t, cfg, "b.example")
	if err != nil || still.SerialNumber.Cmp(after.SerialNumber) != 0 {
		t.Errorf("after a failed reload: %v, %v", still, err)
	}
}

func TestStoreIssuedWinsAndALPNChallenge(t *testing.T) {
	dir, ca := t.TempDir(), testca.New(t)
	self := writeCert(t, ca, dir, "self", "a.example", "*.a.example")
	s, err := certs.New(func() ([]certs.File, error) { return []certs.File{self}, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.TLSConfig(tls.VersionTLS12)
	issuedFile := writeCert(t, ca, dir, "issued", "a.example")
	kp, err := tls.LoadX509KeyPair(issuedFile.Cert, issuedFile.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set("a.example", &kp); err != nil {
		t.Fatal(err)
	}
	leaf, err := served(t, cfg, "a.example")
	if err != nil || leaf.SerialNumber.Cmp(certs.Leaf(&kp).SerialNumber) != 0 {
		t.Errorf("the issued certificate is not served: %v", err)
	}
	// TLS-ALPN-01: refused without a pending challenge, answered with it.
	if _, err := served(t, cfg, "a.example", certs.ALPNProto); err == nil {
		t.Error("acme-tls/1 handshake without a pending challenge succeeded")
	}
	chal := writeCert(t, ca, dir, "chal", "a.example")
	ck, _ := tls.LoadX509KeyPair(chal.Cert, chal.Key)
	s.SetChallenge("a.example", &ck)
	leaf, err = served(t, cfg, "a.example", certs.ALPNProto)
	if err != nil || leaf.SerialNumber.Cmp(certs.Leaf(&ck).SerialNumber) != 0 {
		t.Errorf("the challenge certificate is not served: %v", err)
	}
	// Other clients still get the real certificate, whatever ALPN they offer.
	leaf, err = served(t, cfg, "a.example", "xmpp-client")
	if err != nil || leaf.SerialNumber.Cmp(certs.Leaf(&kp).SerialNumber) != 0 {
		t.Errorf("an xmpp-client handshake: %v", err)
	}
	s.SetChallenge("a.example", nil)
	if _, err := served(t, cfg, "a.example", certs.ALPNProto); err == nil {
		t.Error("acme-tls/1 handshake after the challenge ended succeeded")
	}
}

func TestStoreChangedSeesNewFiles(t *testing.T) {
	dir, ca := t.TempDir(), testca.New(t)
	a := writeCert(t, ca, dir, "a", "a.example")
	files := []certs.File{a}
	s, err := certs.New(func() ([]certs.File, error) { return files, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Changed() {
		t.Fatal("Changed before any change")
	}
	files = append(files, writeCert(t, ca, dir, "b", "b.example"))
	if !s.Changed() {
		t.Fatal("Changed missed a new certificate")
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if s.ForName("b.example") == nil || s.Changed() {
		t.Errorf("after Reload: %v, changed %v", s.Names(), s.Changed())
	}
}
