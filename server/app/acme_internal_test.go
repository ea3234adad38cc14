package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/parley-xmpp/parley/internal/testca"
	"github.com/parley-xmpp/parley/server/config"
	"github.com/parley-xmpp/parley/server/s2s/certid"
)

func TestCertificateNamesGroupServicesUnderTheirDomain(t *testing.T) {
	got := certificateNames([]string{"example.org", "chat.example"},
		[]string{"conference.example.org", "irc.other.net", "upload.chat.example", "example.org"})
	want := [][]string{{"example.org", "conference.example.org"}, {"chat.example", "upload.chat.example"}, {"irc.other.net"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("certificateNames = %v, want %v", got, want)
	}
}

func TestImportedCertificatesReplaceTheSelfSignedOne(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	files, self, err := certificateFiles(cfg)
	if err != nil || !self || len(files) != 1 {
		t.Fatalf("without certificates: %v self=%v %v", files, self, err)
	}
	ca := testca.New(t)
	dir := filepath.Join(cfg.ImportedDir(), "localhost")
	os.MkdirAll(dir, 0o700)
	ca.Issue(t, "localhost", certid.Identities{DNS: []string{"localhost"}}, nil).
		WritePEM(t, filepath.Join(dir, ImportedCert), filepath.Join(dir, ImportedKey))
	files, self, err = certificateFiles(cfg)
	if err != nil || self || len(files) != 1 || files[0].Cert != filepath.Join(dir, ImportedCert) {
		t.Fatalf("with an imported certificate: %v self=%v %v", files, self, err)
	}
}

// A running server serves an imported certificate after Reload, on the
// next connection, and the server-to-server side presents it too.
func TestReloadServesAnImportedCertificate(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Listeners = []config.Listener{{Type: config.ListenerC2STLS, Address: "127.0.0.1:0"}}
	a, err := Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Start(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	defer a.Stop(context.Background())
	addr := a.Addrs(config.ListenerC2STLS)[0].String()
	leaf := func() *x509.Certificate {
		t.Helper()
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0]
	}
	if got := leaf(); got.Subject.Organization[0] != "Parley self-signed" {
		t.Fatalf("before the import: %v", got.Subject)
	}
	ca := testca.New(t)
	dir := filepath.Join(cfg.ImportedDir(), "localhost")
	os.MkdirAll(dir, 0o700)
	issued := ca.Issue(t, "localhost", certid.Identities{DNS: []string{"localhost"}}, nil)
	issued.WritePEM(t, filepath.Join(dir, ImportedCert), filepath.Join(dir, ImportedKey))
	if err := a.Certificates().Reload(); err != nil {
		t.Fatal(err)
	}
	if got := leaf(); got.Subject.CommonName != "localhost" || got.Subject.Organization != nil {
		t.Errorf("after Reload: %v", got.Subject)
	}
	if c := a.certs.ForName("localhost"); c == nil || c.Leaf.Subject.Organization != nil {
		t.Error("the server-to-server side does not see the imported certificate")
	}
}
