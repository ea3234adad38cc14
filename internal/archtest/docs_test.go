package archtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the module's root, relative to this package.
const repoRoot = "../.."

// TestArchitectureListsEveryPackage checks that the package table of
// docs/architecture.md has one row for every package of the module and no
// row for a package that does not exist.
func TestArchitectureListsEveryPackage(t *testing.T) {
	cmd := exec.Command("go", "list", "./...")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []string
	for _, p := range strings.Fields(string(out)) {
		pkgs = append(pkgs, strings.TrimPrefix(p, modulePath+"/"))
	}
	if len(pkgs) < 10 {
		t.Fatalf("only %d packages listed", len(pkgs))
	}
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	listed := packageTable(string(doc))
	if len(listed) == 0 {
		t.Fatal("docs/architecture.md has no package table under its \"## Packages\" heading")
	}
	for _, p := range pkgs {
		if !slices.Contains(listed, p) {
			t.Errorf("docs/architecture.md does not list package %s: add a row to its package table", p)
		}
	}
	for _, p := range listed {
		if !slices.Contains(pkgs, p) {
			t.Errorf("docs/architecture.md lists %s, which is not a package of the module", p)
		}
	}
}

// tableRow matches a row of the package table: | `path` | job |.
var tableRow = regexp.MustCompile("^\\| `([^`]+)` \\|")

// packageTable returns the first column of the table in the "## Packages"
// section of the architecture document.
func packageTable(doc string) []string {
	_, section, ok := strings.Cut(doc, "\n## Packages\n")
	if !ok {
		return nil
	}
	if end := strings.Index(section, "\n#"); end >= 0 {
		section = section[:end]
	}
	var out []string
	for _, line := range strings.Split(section, "\n") {
		if m := tableRow.FindStringSubmatch(line); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

// mdLink matches the target of a Markdown link.
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocsStayInsideTheRepository checks that the documentation stands
// alone: every relative link of every Markdown file resolves to a file
// of the repository, and no document or source file refers to a path
// above the repository's root.
func TestDocsStayInsideTheRepository(t *testing.T) {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	// Built from parts so that this file does not trip its own check.
	outside := []string{".." + "/shared", "/work" + "/"}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "node_modules", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(path)
		if !slices.Contains([]string{".md", ".go", ".yaml", ".yml", ".sh", ".py", ".js", ".in"}, ext) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, o := range outside {
			if strings.Contains(string(b), o) {
				t.Errorf("%s refers to %q, outside the repository", rel, o)
			}
		}
		if ext != ".md" {
			return nil
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			abs := filepath.Join(filepath.Dir(path), filepath.FromSlash(target))
			if r, err := filepath.Rel(root, abs); err != nil || strings.HasPrefix(r, "..") {
				t.Errorf("%s links to %s, outside the repository", rel, m[1])
				continue
			}
			if _, err := os.Stat(abs); err != nil {
				t.Errorf("%s links to %s, which does not exist", rel, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
