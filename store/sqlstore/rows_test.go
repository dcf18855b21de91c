package sqlstore

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestRowLoopsCheckErr: every loop over *sql.Rows in this package ends with the iteration's
// error checked (rowsDone, or rows.Err()). Close does not report it: without the check, an
// error that ends the rows early (a statement's error that comes after its first rows, a lost
// connection) would pass as a shorter result.
func TestRowLoopsCheckErr(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	loops := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			checked := map[string]bool{} // variables whose Err is checked in fn
			var nexts []*ast.ForStmt
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.ForStmt:
					if v := nextLoop(n); v != "" {
						nexts = append(nexts, n)
					}
				case *ast.CallExpr:
					if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "rowsDone" && len(n.Args) == 1 {
						if a, ok := n.Args[0].(*ast.Ident); ok {
							checked[a.Name] = true
						}
					}
					if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Err" {
						if x, ok := sel.X.(*ast.Ident); ok {
							checked[x.Name] = true
						}
					}
				}
				return true
			})
			for _, loop := range nexts {
				loops++
				if v := nextLoop(loop); !checked[v] {
					t.Errorf("%s: %s loops over %s.Next() without checking %s.Err() (end the loop with rowsDone(%s))",
						fset.Position(loop.Pos()), fn.Name.Name, v, v, v)
				}
			}
		}
	}
	if loops < 20 {
		t.Fatalf("found %d row loops; the test no longer sees this package's code", loops)
	}
}

// nextLoop returns the variable of a `for v.Next() {` loop, or "".
func nextLoop(f *ast.ForStmt) string {
	call, ok := f.Cond.(*ast.CallExpr)
	if !ok || len(call.Args) != 0 {
		return ""
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Next" {
		return ""
	}
	if x, ok := sel.X.(*ast.Ident); ok {
		return x.Name
	}
	return ""
}
