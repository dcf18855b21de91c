package storetest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/symbiont/symbiont/store"
)

// TestEveryTxMethodIsCalled holds the suite to every method of store.Tx and store.Store: a method no file of
// the suite calls is a method the two engines may disagree on unnoticed. Calls are matched by
// name (x.Method(…)), which is enough to catch a method added to Tx and forgotten here.
func TestEveryTxMethodIsCalled(t *testing.T) {
	called := map[string]bool{}
	fset := token.NewFileSet()
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		name := f.Name()
		if f.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		n++
		ast.Inspect(file, func(node ast.Node) bool {
			if call, ok := node.(*ast.CallExpr); ok {
				if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
					called[sel.Sel.Name] = true
				}
			}
			return true
		})
	}
	if n == 0 {
		t.Fatal("no source files of store/storetest found: run the test from its package directory")
	}
	for _, iface := range []reflect.Type{reflect.TypeFor[store.Tx](), reflect.TypeFor[store.Store]()} {
		var missing []string
		for m := range iface.Methods() {
			if !called[m.Name] {
				missing = append(missing, m.Name)
			}
		}
		slices.Sort(missing)
		for _, m := range missing {
			t.Errorf("%s.%s is called by no file of store/storetest: add a conformance test in store/storetest that calls it "+
				"(and register it in Run), so that both engines are held to its behaviour", iface, m)
		}
	}
}
