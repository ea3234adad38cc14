package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sessionPkg is the package of the session type, the Directory interface
// and the concrete table of the sessions bound on this node.
const sessionPkg = modulePath + "/server/session"

// concreteTable names what only the router, transports and the
// composition root may use: the table itself, not the Directory.
var concreteTable = map[string]bool{"Table": true, "NewTable": true}

// TestModulesUseTheDirectory checks that no module (server/mod/*, tests
// aside) names the concrete session table: modules see sessions through
// module.Host.Sessions, a session.Directory, so that a cluster-wide directory
// can take the table's place. Modules must import the session package for
// the Session type, which lives beside the table, so the rule is on names
// rather than imports.
func TestModulesUseTheDirectory(t *testing.T) {
	root := filepath.Join(repoRoot, "server", "mod")
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		for _, use := range concreteTableUses(fset, f) {
			t.Errorf("%s: a module names the concrete session table; use module.Host.Sessions (a session.Directory)", use)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 20 {
		t.Fatalf("only %d module files parsed", files)
	}
}

// concreteTableUses returns the positions where f names the concrete
// session table through its import of sessionPkg.
func concreteTableUses(fset *token.FileSet, f *ast.File) []string {
	name := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == sessionPkg {
			name = p[strings.LastIndex(p, "/")+1:]
			if imp.Name != nil {
				name = imp.Name.Name
			}
		}
	}
	if name == "" || name == "_" {
		return nil
	}
	var uses []string
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == name && concreteTable[sel.Sel.Name] {
			uses = append(uses, fset.Position(sel.Pos()).String())
		}
		return true
	})
	return uses
}

func TestConcreteTableUses(t *testing.T) {
	for _, tc := range []struct {
		src  string
		uses int
	}{
		{`package m; import "` + sessionPkg + `"; func f(h interface{ Sessions() session.Directory }) *session.Session { return h.Sessions().Get(session.Session{}.JID()) }`, 0},
		{`package m; import "` + sessionPkg + `"; var t = session.NewTable(0)`, 1},
		{`package m; import "` + sessionPkg + `"; func f(d session.Directory) bool { _, ok := d.(*session.Table); return ok }`, 1},
		{`package m; import s "` + sessionPkg + `"; var t *s.Table`, 1},
		{`package m; import "other/sm"; var t *session.Table`, 0},
	} {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "m.go", tc.src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		if got := concreteTableUses(fset, f); len(got) != tc.uses {
			t.Errorf("%s: %d uses (%v), want %d", tc.src, len(got), got, tc.uses)
		}
	}
}
