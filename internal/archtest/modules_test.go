package archtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModulesGetNoStorageBundle: modules reach storage only through the
// feature stores of module.Host.Stores (module.Stores) and the services of
// server/module, never through server/storage's whole bundle
// (storage.Stores), which holds the account and credential stores.
func TestModulesGetNoStorageBundle(t *testing.T) {
	root := filepath.Join("..", "..", "server", "mod")
	n := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		n++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "storage.Stores") {
			t.Errorf("%s uses storage.Stores; use module.Host.Stores (module.Stores) or a service", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("only %d module files found under %s", n, root)
	}
}
