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

// TestConfigKnowsNoModuleSettings: a module's settings are declared and
// decoded by the module (module.Configurable, config.Section.Decode);
// server/config knows only which modules are disabled, so no key under
// "modules." other than "modules.disabled" appears in its code (comments
// aside).
func TestConfigKnowsNoModuleSettings(t *testing.T) {
	root := filepath.Join("..", "..", "server", "config")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		n++
		b, err := os.ReadFile(filepath.Join(root, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue // documentation may give examples
			}
			for rest := line; ; {
				j := strings.Index(rest, `"modules.`)
				if j < 0 {
					break
				}
				rest = rest[j+len(`"modules.`):]
				if !strings.HasPrefix(rest, `disabled`) && !strings.HasPrefix(rest, `"`) && !strings.HasPrefix(rest, `<name>`) {
					t.Errorf("%s:%d: server/config names a module's key: %s", e.Name(), i+1, strings.TrimSpace(line))
				}
			}
		}
	}
	if n < 5 {
		t.Fatalf("only %d files found in %s", n, root)
	}
}
