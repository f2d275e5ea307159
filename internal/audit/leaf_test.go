package audit

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLeafPackage: audit imports no other airgate package (STYLE.md §1: L0),
// and has a package doc comment.
func TestLeafPackage(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := false
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		doc = doc || af.Doc != nil && strings.HasPrefix(af.Doc.Text(), "Package audit ")
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/airgate/airgate/") {
				t.Errorf("%s imports %s: audit must stay a leaf package", f, path)
			}
		}
	}
	if !doc {
		t.Error("no package doc comment starting with \"Package audit \"")
	}
}
