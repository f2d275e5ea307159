package arch

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/airgate/airgate"

// allowed lists, for each package below internal/, the internal packages it
// may import. Imports flow one way: L0 nouns and pure tables import nothing
// internal; L1 stages import L0; server wires them; cli drives everything;
// cmd/airgate calls cli only. A package missing from this table fails the
// test until it is placed deliberately.
var allowed = map[string][]string{
	// L0
	"identity": {},
	"catalog":  {},
	"config":   {},
	"audit":    {},
	// audittest is the audit store conformance suite, for tests only.
	"audit/audittest": {"audit"},
	"secrets":         {"sqlstore"},
	"authz/policy":    {},
	"testutil":        {},
	"sqlstore":        {},
	"arch":            {},
	// L1
	"authn":            {"identity", "authn/jwks"},
	"authn/jwks":       {},
	"authz":            {"identity", "catalog", "authz/policy"},
	"session":          {"identity", "sqlstore"},
	"tokens":           {"identity", "authz", "catalog", "authz/policy", "sqlstore"},
	"secrets/rotation": {"secrets", "sqlstore"},
	"proxy":            {},
	"idp":              {},
	"airflowsim":       {},
	"directory":        {"identity"},
	// L2
	"server": {"identity", "catalog", "config", "audit", "secrets", "authz/policy",
		"authn", "authn/jwks", "authz", "session", "tokens", "secrets/rotation", "proxy", "directory", "sqlstore"},
	// L3: the demo composes a whole stack in one process.
	"demo": {"server", "config", "idp", "airflowsim", "authz", "authz/policy", "catalog", "identity", "audit", "secrets"},
	// L3
	"cli": {"server", "config", "idp", "audit", "secrets", "secrets/rotation", "catalog",
		"identity", "authz", "authz/policy", "authn", "authn/jwks", "tokens", "session", "proxy",
		"directory", "airflowsim", "demo", "sqlstore"},
}

// testOnly packages hold test helpers: production code never imports them.
var testOnly = map[string]bool{"testutil": true, "audit/audittest": true}

type pkg struct {
	ImportPath   string
	Name         string
	Doc          string
	Imports      []string
	TestImports  []string
	XTestImports []string
	GoFiles      []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 3 {
		t.Fatalf("go list found %d packages; want the whole module", len(pkgs))
	}
	return pkgs
}

func internalName(path string) (string, bool) {
	return strings.CutPrefix(path, module+"/internal/")
}

func TestImportDirection(t *testing.T) {
	for _, p := range listPackages(t) {
		if strings.HasSuffix(p.ImportPath, ".test") {
			continue
		}
		from, isInternal := internalName(p.ImportPath)
		var ok map[string]bool
		switch {
		case isInternal:
			list, known := allowed[from]
			if !known {
				t.Errorf("package internal/%s is not in the layering table of arch_test.go: place it", from)
				continue
			}
			ok = map[string]bool{}
			for _, a := range list {
				ok[a] = true
			}
		case p.ImportPath == module+"/cmd/airgate":
			ok = map[string]bool{"cli": true}
		case p.ImportPath == module+"/bench/cmd/airgate-bench":
			// The benchmark harness drives the airgate binary; it uses
			// the Entra emulator as its issuer and Graph (issue 9).
			ok = map[string]bool{"idp": true}
		default:
			ok = map[string]bool{} // third_party and tools import nothing internal
		}
		for _, imp := range p.Imports {
			to, isInt := internalName(imp)
			if !isInt {
				continue
			}
			if testOnly[to] {
				t.Errorf("%s imports internal/%s outside tests", p.ImportPath, to)
				continue
			}
			if !ok[to] {
				t.Errorf("%s imports internal/%s: not allowed by the layering (allowed: %v)", p.ImportPath, to, keys(ok))
			}
		}
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		if len(p.GoFiles) == 0 {
			continue
		}
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("%s has no package doc comment", p.ImportPath)
		}
	}
}

func TestLayeringTableIsAcyclic(t *testing.T) {
	// Every allowed edge must point at a package that is itself in the
	// table, and following edges must never come back.
	var visit func(name string, path []string)
	visit = func(name string, path []string) {
		for _, p := range path {
			if p == name {
				t.Fatalf("layering cycle: %s -> %s", strings.Join(path, " -> "), name)
			}
		}
		deps, ok := allowed[name]
		if !ok {
			t.Fatalf("layering table names unknown package %q (from %v)", name, path)
		}
		for _, d := range deps {
			visit(d, append(path, name))
		}
	}
	for name := range allowed {
		visit(name, nil)
	}
}
