package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// sharedHelpers are the helpers xmpptest provides (Send, Expect,
// NextMessage); a module's tests use those instead of a copy of their own.
var sharedHelpers = map[string]string{"send": "xmpptest.Send", "expect": "xmpptest.Expect", "next": "xmpptest.NextMessage"}

// sleepAllowed lists the module test files that may call time.Sleep,
// each with the reason it is not synchronisation.
var sleepAllowed = map[string]string{
	// Random pauses between a stress client's actions vary the
	// interleaving under test; nothing waits for the server with them.
	"server/mod/muc/stress_integration_test.go": "random jitter between stress actions",
}

// TestModuleTestsUseSharedHelpers checks that the tests of server/mod/*
// neither redefine xmpptest's helpers nor sleep to wait for the server
// (xmpptest.Sync, Expect, Eventually, WaitSessionEnded and the injectable
// Clock do that without guessing a duration).
func TestModuleTestsUseSharedHelpers(t *testing.T) {
	root := filepath.Join(repoRoot, "server", "mod")
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		files++
		rel, _ := filepath.Rel(repoRoot, path)
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				if use, ok := sharedHelpers[n.Name.Name]; ok && n.Recv == nil {
					t.Errorf("%s: func %s redefines a shared helper; use %s", fset.Position(n.Pos()), n.Name.Name, use)
				}
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok && x.Name == "time" && n.Sel.Name == "Sleep" {
					if _, ok := sleepAllowed[rel]; !ok {
						t.Errorf("%s: time.Sleep in a module test; wait with xmpptest.Sync, Expect, Eventually or WaitSessionEnded, or step an xmpptest.Clock", fset.Position(n.Pos()))
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 20 {
		t.Fatalf("only %d test files under server/mod", files)
	}
}
