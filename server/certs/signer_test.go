package certs_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/internal/testca"
	"github.com/parley-xmpp/parley/server/certs"
	"github.com/parley-xmpp/parley/server/certs/opensslkey"
)

// TestRSAKeysSignWithTheBuildsSigner checks that, in a build with
// -tags openssl, an RSA key (from a file or installed with Set) signs
// through OpenSSL and an ECDSA one stays Go's; in the default build every
// key stays Go's. Either way a client verifying the certificate completes
// a TLS 1.3 and a TLS 1.2 handshake.
func TestRSAKeysSignWithTheBuildsSigner(t *testing.T) {
	dir, ca := t.TempDir(), testca.New(t)
	rsaLeaf := testca.NewRSALeaf(t, "rsa.example", 2048)
	rsaFile := certs.File{Cert: filepath.Join(dir, "rsa.crt"), Key: filepath.Join(dir, "rsa.key")}
	rsaLeaf.WritePEM(t, rsaFile.Cert, rsaFile.Key)
	ecFile := writeCert(t, ca, dir, "ec", "ec.example")
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	s, err := certs.New(func() ([]certs.File, error) { return []certs.File{rsaFile, ecFile}, nil }, log)
	if err != nil {
		t.Fatal(err)
	}
	want := `rsa_signer="Go crypto/rsa"`
	if opensslkey.Available {
		want = `rsa_signer="OpenSSL 3.`
	}
	if !strings.Contains(logged.String(), want) {
		t.Errorf("the startup log lacks %s:\n%s", want, logged.String())
	}
	issued := testca.NewRSALeaf(t, "issued.example", 2048)
	ic := issued.TLS()
	if err := s.Set("acme", &ic); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"rsa.example", "issued.example"} {
		key := s.ForName(name).PrivateKey
		if opensslkey.Available {
			if _, ok := key.(*opensslkey.Signer); !ok {
				t.Errorf("%s: key is a %T, want the OpenSSL signer", name, key)
			}
		} else if _, ok := key.(*rsa.PrivateKey); !ok {
			t.Errorf("%s: key is a %T, want Go's *rsa.PrivateKey", name, key)
		}
	}
	if key := s.ForName("ec.example").PrivateKey; !isECDSA(key) {
		t.Errorf("ec.example: key is a %T, want Go's *ecdsa.PrivateKey", key)
	}
	for _, leaf := range []*testca.RSALeaf{rsaLeaf, issued} {
		for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			name := leaf.Cert.DNSNames[0]
			st, err := handshake(t, s.TLSConfig(tls.VersionTLS12), &tls.Config{RootCAs: leaf.Pool(), ServerName: name, MaxVersion: v})
			if err != nil {
				t.Errorf("%s, version %x: %v", name, v, err)
			} else if st.Version != v {
				t.Errorf("%s: negotiated version %x, want %x", name, st.Version, v)
			}
		}
	}
}

func isECDSA(key any) bool {
	_, ok := key.(*ecdsa.PrivateKey)
	return ok
}
