package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for names and its key into
// dir as name.crt and name.key.
func writeCert(t *testing.T, dir, name string, notAfter time.Time, names ...string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestCheckFindsBrokenCertificatesAndStorage runs "parley check" on
// configurations that parse but cannot serve: each must fail with exit 2
// naming the problem; a sound one passes.
func TestCheckFindsBrokenCertificatesAndStorage(t *testing.T) {
	dir := t.TempDir()
	year := time.Now().Add(365 * 24 * time.Hour)
	goodCert, goodKey := writeCert(t, dir, "good", year, "localhost")
	_, otherKey := writeCert(t, dir, "other", year, "localhost")
	expiredCert, expiredKey := writeCert(t, dir, "expired", time.Now().Add(-time.Minute), "localhost")
	unreadable := filepath.Join(dir, "unreadable.key")
	if err := os.WriteFile(unreadable, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadPG := "postgres://parley@" + closedPort(t) + "/parley?sslmode=disable"
	certs := func(pairs ...string) string {
		s := "tls:\n  certificates:\n"
		for i := 0; i < len(pairs); i += 2 {
			s += "    - {cert: " + pairs[i] + ", key: " + pairs[i+1] + "}\n"
		}
		return s
	}
	for _, tc := range []struct {
		name, yaml string
		code       int
		want       []string
	}{
		{"sound", certs(goodCert, goodKey), 0, []string{"all checks OK", "1 certificates load"}},
		{"self-signed", "", 0, []string{"all checks OK", "self-signed"}},
		{"missing certificate", certs(filepath.Join(dir, "missing.crt"), goodKey), 2, []string{"missing.crt", "no such file"}},
		{"missing key", certs(goodCert, filepath.Join(dir, "missing.key")), 2, []string{"missing.key", "no such file"}},
		{"key of another certificate", certs(goodCert, otherKey), 2, []string{"good.crt", "does not match"}},
		{"key that is no key", certs(goodCert, unreadable), 2, []string{"unreadable.key"}},
		{"expired", certs(expiredCert, expiredKey), 2, []string{"expired.crt", "expired on"}},
		{"PostgreSQL unreachable", "storage: " + deadPG + "\n", 2, []string{"storage postgres://", "connect"}},
		{"both", certs(goodCert, otherKey) + "storage: " + deadPG + "\n", 2, []string{"does not match", "storage postgres://"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "parley.yaml")
			if err := os.WriteFile(cfg, []byte("domains: [localhost]\n"+tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			data := t.TempDir()
			start := time.Now()
			code, stdout, stderr := runT(t, nil, "", "check", "--config", cfg, "--data", data, "--timeout", "3s", "config")
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tc.code, stdout, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout+stderr, w) {
					t.Errorf("output lacks %q: stdout %q stderr %q", w, stdout, stderr)
				}
			}
			if tc.code != 0 && strings.Contains(stdout, "OK") {
				t.Errorf("stdout %q says OK", stdout)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("check took %v", d)
			}
			if entries, _ := os.ReadDir(data); len(entries) != 0 {
				t.Errorf("check wrote into the data folder: %v", entries)
			}
		})
	}
	// A self-signed certificate the server cannot read stops it too.
	data := t.TempDir()
	if err := os.MkdirAll(filepath.Join(data, "tls"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(t.TempDir(), "parley.yaml")
	if err := os.WriteFile(cfgFile, []byte("domains: [localhost]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runT(t, nil, "", "check", "--config", cfgFile, "--data", data, "config"); code != 0 {
		t.Fatalf("no self-signed files yet: exit %d %q", code, stderr)
	}
	self, _ := writeCert(t, dir, "self", year, "localhost")
	if err := os.Rename(self, filepath.Join(data, "tls", "selfsigned-cert.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(otherKey, filepath.Join(data, "tls", "selfsigned-key.pem")); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runT(t, nil, "", "check", "--config", cfgFile, "--data", data, "config"); code != 2 || !strings.Contains(stdout, "error: self-signed certificate "+filepath.Join(data, "tls", "selfsigned-cert.pem")) {
		t.Errorf("broken self-signed certificate: exit %d %q %q", code, stdout, stderr)
	}
	if url := os.Getenv("PARLEY_TEST_POSTGRES"); url != "" {
		cfg := filepath.Join(t.TempDir(), "parley.yaml")
		if err := os.WriteFile(cfg, []byte("domains: [localhost]\nstorage: "+url+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, stdout, stderr := runT(t, nil, "", "check", "--config", cfg, "--data", t.TempDir(), "config"); code != 0 {
			t.Errorf("reachable PostgreSQL: exit %d, stdout %q stderr %q", code, stdout, stderr)
		}
	}
}

// TestCheckReportsModuleSections: the modules decode their own sections,
// and "parley check" reports their problems with those of the rest of the
// file, in file order, with exit 2.
func TestCheckReportsModuleSections(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "parley.yaml")
	src := "domains: [localhost]\nlimits:\n  max_depth: 1\nmodules:\n  mam:\n    default: sometimes\n  muc: {history: 50, max_history: 10}\n  nosuch: {}\n"
	if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runT(t, nil, "", "check", "--config", cfg, "--data", t.TempDir())
	if code != 2 {
		t.Fatalf("exit %d, want 2; stdout %q stderr %q", code, stdout, stderr)
	}
	want := []string{
		cfg + ":3:3: limits.max_depth: must be at least 4",
		cfg + `:6:5: modules.mam.default: must be "always", "roster" or "never", not "sometimes"`,
		cfg + ":7:9: modules.muc.history: must not exceed modules.muc.max_history (10)",
		cfg + ":8:3: modules.nosuch: unknown key (known keys: disabled, extdisco, mam, muc, privilege, proxy65, upload, version)",
	}
	at := 0
	for _, w := range want {
		i := strings.Index(stderr[at:], w)
		if i < 0 {
			t.Fatalf("stderr lacks %q after offset %d:\n%s", w, at, stderr)
		}
		at += i + len(w)
	}
}
