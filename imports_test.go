package symbiont_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// module is this module's path.
const module = "github.com/symbiont/symbiont"

// TestImportRules holds the layering of docs/architecture.md to the code, from `go list`:
// dependencies point inward, to the domain.
//
//   - Domain packages (the root and one package per concept) import no HTTP and no concrete
//     store: they see the store only through their narrow Tx interfaces.
//   - package store (the interfaces) imports no concrete store.
//   - The edges (api, web, demo) import no concrete store: they reach data through services.
//   - Nothing imports cmd/, and only cmd/ (and demo, which seeds a running platform) imports
//     platform, the composition root.
func TestImportRules(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goTool, "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 {
			imports[strings.TrimPrefix(f[0], module)] = f[1:]
		}
	}
	if len(imports) < 20 {
		t.Fatalf("go list named %d packages; want the whole module", len(imports))
	}
	concrete := []string{module + "/store/sqlite", module + "/store/postgres", module + "/store/sqlstore"}
	domain := []string{"", "/access", "/consent", "/identity", "/ingest", "/ledger", "/rewards", "/segment", "/tcf", "/tenant", "/vault"}
	forbid := func(pkg string, why string, bad ...string) {
		deps, ok := imports[pkg]
		if !ok {
			t.Errorf("package %q is not in the module any more: update this test", module+pkg)
			return
		}
		for _, d := range deps {
			if slices.Contains(bad, d) {
				t.Errorf("%s imports %s: %s", module+pkg, d, why)
			}
		}
	}
	for _, pkg := range domain {
		forbid(pkg, "a domain package takes no HTTP and no concrete store", append([]string{"net/http"}, concrete...)...)
	}
	for pkg := range imports { // nor do packages beneath a concept's (an HTTP client belongs with api)
		for _, d := range domain[1:] {
			if strings.HasPrefix(pkg, d+"/") {
				forbid(pkg, "a package beneath a domain package takes no HTTP and no concrete store", append([]string{"net/http"}, concrete...)...)
			}
		}
	}
	forbid("/store", "the store's interfaces know no engine", concrete...)
	for _, pkg := range []string{"/api", "/web", "/demo"} {
		forbid(pkg, "the edges reach data through the services", concrete...)
	}
	for pkg, deps := range imports {
		for _, d := range deps {
			if strings.HasPrefix(d, module+"/cmd/") {
				t.Errorf("%s imports %s: cmd/ only wires", module+pkg, d)
			}
			if d == module+"/platform" && !strings.HasPrefix(pkg, "/cmd/") && pkg != "/demo" {
				t.Errorf("%s imports the composition root %s: only cmd/ does", module+pkg, d)
			}
		}
	}
}
