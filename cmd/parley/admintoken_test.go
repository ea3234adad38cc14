package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-xmpp/parley/server/admintoken"
)

// parley admin token creates a token that the store accepts and shows
// it once (only its hash is in the file), lists the tokens and revokes
// them; a name taken or unknown exits 2.
func TestAdminToken(t *testing.T) {
	data := t.TempDir()
	env := map[string]string{"PARLEY_DATA": data}
	code, out, stderr := runT(t, env, "", "admin", "token")
	if code != 0 {
		t.Fatalf("admin token: exit %d, %s", code, stderr)
	}
	token := strings.TrimSpace(out)
	if !strings.HasPrefix(token, admintoken.Prefix) || len(token) != len(admintoken.Prefix)+43 {
		t.Fatalf("stdout %q is not a token", out)
	}
	store := admintoken.New(data)
	if name, ok, err := store.Check(token); err != nil || !ok || name != "admin" {
		t.Fatalf("the printed token: name %q, ok %v, err %v", name, ok, err)
	}
	file, err := os.ReadFile(filepath.Join(data, admintoken.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(file), token[len(admintoken.Prefix):]) {
		t.Errorf("the token itself is in %s", admintoken.FileName)
	}
	if fi, err := os.Stat(filepath.Join(data, admintoken.FileName)); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("the tokens file is readable by others: %v %v", fi.Mode(), err)
	}

	if code, out, stderr = runT(t, env, "", "admin", "token"); code != 0 {
		t.Fatalf("second token: exit %d, %s", code, stderr)
	}
	second := strings.TrimSpace(out)
	if name, ok, _ := store.Check(second); !ok || name != "admin-2" {
		t.Errorf("the second default name: %q %v, want admin-2", name, ok)
	}
	if code, _, stderr = runT(t, env, "", "admin", "token", "--name", "grafana"); code != 0 {
		t.Fatalf("--name grafana: exit %d, %s", code, stderr)
	}
	if code, _, stderr = runT(t, env, "", "admin", "token", "--name", "grafana"); code != 2 || !strings.Contains(stderr, "exists") {
		t.Errorf("a taken name: exit %d, %q; want 2", code, stderr)
	}
	if code, _, stderr = runT(t, env, "", "admin", "token", "--name", "no spaces"); code != 2 {
		t.Errorf("a bad name: exit %d, %q; want 2", code, stderr)
	}
	code, out, _ = runT(t, env, "", "admin", "token", "--list")
	if code != 0 || !strings.Contains(out, "admin-2") || !strings.Contains(out, "grafana") || strings.Contains(out, token) {
		t.Errorf("--list: exit %d, %q", code, out)
	}
	if code, _, stderr = runT(t, env, "", "admin", "token", "--revoke", "admin"); code != 0 {
		t.Errorf("--revoke admin: exit %d, %s", code, stderr)
	}
	if _, ok, _ := store.Check(token); ok {
		t.Error("the revoked token is still accepted")
	}
	if _, ok, _ := store.Check(second); !ok {
		t.Error("revoking one token revoked another")
	}
	if code, _, _ = runT(t, env, "", "admin", "token", "--revoke", "admin"); code != 2 {
		t.Errorf("revoking an unknown token: exit %d, want 2", code)
	}
	if code, _, _ = runT(t, env, "", "admin", "token", "--list", "--revoke", "x"); code != 2 {
		t.Errorf("two modes at once: exit %d, want 2", code)
	}
}
