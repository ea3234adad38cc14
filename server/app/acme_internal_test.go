package app

import (
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
