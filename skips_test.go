package symbiont_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// skipAllowed are the functions that may skip under CI=true, and why.
var skipAllowed = map[string]string{
	"web.TestScreenshots": "writes docs/screenshots when asked (SYMBIONT_SCREENSHOTS=1); it checks nothing",
}

// TestNoSkipUnderCI: under CI=true nothing skips (README.md). Every t.Skip, Skipf or SkipNow in
// the module is in a function that consults $CI (and fails instead under CI=true), or inside a
// fuzz target (skipping an input is not skipping a test) or a benchmark, or is listed in
// skipAllowed.
func TestNoSkipUnderCI(t *testing.T) {
	fset := token.NewFileSet()
	skips := 0
	for pkg, p := range listPackages(t) {
		files := slices.Concat(p.TestGoFiles, p.XTestGoFiles)
		if pkg == "/store/storetest" { // test helpers in non-test files
			files = append(files, p.GoFiles...)
		}
		for _, name := range files {
			path := filepath.Join(p.Dir, name)
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(src), "Skip") {
				continue
			}
			f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				fn, ok := d.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				// A fuzz target skips inputs, not the test; benchmarks are not part of the suite.
				consultsCI, fuzz := false, strings.HasPrefix(fn.Name.Name, "Fuzz") || strings.HasPrefix(fn.Name.Name, "Benchmark")
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && lit.Value == `"CI"` {
						consultsCI = true
					}
					return true
				})
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					call, ok := n.(*ast.CallExpr)
					if !ok {
						return true
					}
					sel, ok := call.Fun.(*ast.SelectorExpr)
					if !ok || (sel.Sel.Name != "Skip" && sel.Sel.Name != "Skipf" && sel.Sel.Name != "SkipNow") {
						return true
					}
					skips++
					key := strings.TrimPrefix(pkg, "/") + "." + fn.Name.Name
					if consultsCI || fuzz || skipAllowed[key] != "" {
						return true
					}
					t.Errorf("%s: %s skips without consulting $CI: under CI=true it must fail instead (see sdkUnavailable in e2e, needBrowser in web)",
						fset.Position(call.Pos()), key)
					return true
				})
			}
		}
	}
	if skips == 0 {
		t.Fatal("found no Skip call at all: the test reads nothing")
	}
}
