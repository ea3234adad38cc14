package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/internal/testca"
	"github.com/parley-xmpp/parley/server/s2s/certid"
)

func TestCertImportCertbotLayout(t *testing.T) {
	ca := testca.New(t)
	live := filepath.Join(t.TempDir(), "live")
	for _, d := range []string{"localhost", "other"} {
		os.MkdirAll(filepath.Join(live, d), 0o700)
	}
	ca.Issue(t, "localhost", certid.Identities{DNS: []string{"localhost", "conference.localhost", "pubsub.localhost"}}, nil).
		WritePEM(t, filepath.Join(live, "localhost", "fullchain.pem"), filepath.Join(live, "localhost", "privkey.pem"))
	ca.Issue(t, "upload.localhost", certid.Identities{DNS: []string{"upload.localhost"}}, nil).
		WritePEM(t, filepath.Join(live, "other", "fullchain.pem"), filepath.Join(live, "other", "privkey.pem"))
	os.WriteFile(filepath.Join(live, "README"), []byte("certbot's"), 0o644)
	data := t.TempDir()
	env := map[string]string{"PARLEY_DATA": data}

	code, out, errOut := runT(t, env, "", "cert", "import", live)
	if code != 0 {
		t.Fatalf("cert import: %d\n%s%s", code, out, errOut)
	}
	imported := filepath.Join(data, "tls", "imported")
	for _, want := range []string{
		"copied " + filepath.Join(live, "localhost") + " to " + filepath.Join(imported, "localhost") + ": localhost, conference.localhost, pubsub.localhost",
		"localhost                      " + filepath.Join(imported, "localhost", "fullchain.pem"),
		"conference.localhost           " + filepath.Join(imported, "localhost", "fullchain.pem"),
		"upload.localhost               " + filepath.Join(imported, "other", "fullchain.pem"),
		"proxy.localhost                NOT COVERED",
		"1 of 5 names are covered by no certificate",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	if st, err := os.Stat(filepath.Join(imported, "localhost", "privkey.pem")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the key copy: %v %v", st, err)
	}

	// --link of one certificate's folder: a symbolic link, so that
	// certbot's renewals are served too.
	code, out, errOut = runT(t, env, "", "cert", "import", "--link", filepath.Join(live, "other"))
	if code != 0 || !strings.Contains(out, "linked ") {
		t.Fatalf("cert import --link: %d\n%s%s", code, out, errOut)
	}
	if target, err := os.Readlink(filepath.Join(imported, "other", "fullchain.pem")); err != nil || target != filepath.Join(live, "other", "fullchain.pem") {
		t.Errorf("linked to %q, %v", target, err)
	}

	// A key that does not match its certificate: nothing is imported.
	bad := filepath.Join(t.TempDir(), "bad.example")
	os.MkdirAll(bad, 0o700)
	ca.Issue(t, "bad.example", certid.Identities{DNS: []string{"bad.example"}}, nil).WritePEM(t, filepath.Join(bad, "fullchain.pem"), filepath.Join(t.TempDir(), "k.pem"))
	b, _ := os.ReadFile(filepath.Join(live, "other", "privkey.pem"))
	os.WriteFile(filepath.Join(bad, "privkey.pem"), b, 0o600)
	code, _, errOut = runT(t, env, "", "cert", "import", bad)
	if code != 1 || !strings.Contains(errOut, "private key does not match") {
		t.Errorf("mismatched key: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(imported, "bad.example")); err == nil {
		t.Error("a certificate with a mismatched key was imported")
	}
	if code, _, _ := runT(t, env, "", "cert", "import"); code != 2 {
		t.Errorf("no folder: exit %d, want 2", code)
	}
}
