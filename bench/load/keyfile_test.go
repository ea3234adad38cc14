package load

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/parley-xmpp/parley/xmpp/sasl"
)

// TestKeyFileRoundTrip: keys saved by one run are found by the next
// without deriving them again, the file is private and holds no password.
func TestKeyFileRoundTrip(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys.json")
	empty, err := LoadKeyCache(file)
	if err != nil || empty.Len() != 0 {
		t.Fatalf("missing file: %d entries, %v", empty.Len(), err)
	}
	creds, err := sasl.NewCredentials(sasl.SHA1, "secret-password", 4096)
	if err != nil {
		t.Fatal(err)
	}
	want, err := empty.Get(sasl.ScramSHA1, "secret-password", creds.Salt, creds.Iterations)
	if err != nil {
		t.Fatal(err)
	}
	if err := empty.Save(file); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", fi.Mode(), err)
	}
	data, _ := os.ReadFile(file)
	if bytes.Contains(data, []byte("secret-password")) {
		t.Fatal("the key file holds the password")
	}

	loaded, err := LoadKeyCache(file)
	if err != nil || loaded.Len() != 1 {
		t.Fatalf("loaded %d entries, %v", loaded.Len(), err)
	}
	got, err := loaded.Get(sasl.ScramSHA1, "secret-password", creds.Salt, creds.Iterations)
	if err != nil || !bytes.Equal(got.ClientKey, want.ClientKey) || !bytes.Equal(got.StoredKey, creds.StoredKey) || !bytes.Equal(got.ServerKey, creds.ServerKey) {
		t.Fatalf("loaded keys differ: %v", err)
	}
	if loaded.Len() != 1 {
		t.Error("a saved key was derived again")
	}
	// Another password with the same salt is not taken for it.
	if _, err := loaded.Get(sasl.ScramSHA1, "other", creds.Salt, creds.Iterations); err != nil || loaded.Len() != 2 {
		t.Errorf("another password: %d entries, %v", loaded.Len(), err)
	}

	if err := os.WriteFile(file, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyCache(file); err == nil {
		t.Error("a corrupt key file was accepted")
	}
}
