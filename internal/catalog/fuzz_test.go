package catalog

import (
	"fmt"
	"strings"
	"testing"
)

// minimalEncode percent-encodes only what cannot stand in a raw path.
func minimalEncode(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' || c == '#' || c == '?' || c <= 0x20 || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// reEncode percent-encodes, on top of minimalEncode, every byte whose bit is
// set in mask (cycled), in upper or lower case hex as the mask says.
func reEncode(p string, mask []byte) string {
	if len(mask) == 0 {
		return minimalEncode(p)
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		m := mask[i%len(mask)]
		if i == 0 {
			m = 0 // the leading slash starts the request target
		}
		if c == '%' || c == '#' || c == '?' || c <= 0x20 || c >= 0x7f || m&1 == 1 {
			if m&2 == 2 {
				fmt.Fprintf(&b, "%%%02x", c)
			} else {
				fmt.Fprintf(&b, "%%%02X", c)
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func fuzzSeeds(f *testing.F, cat *Catalog) {
	for _, op := range cat.Operations() {
		f.Add(op.Method, SamplePath(op), []byte{0})
		f.Add(op.Method, SamplePath(op), []byte{1, 0, 3})
	}
	for _, p := range []string{"/api/v1/dags/~/dagRuns", "/api/v2/variables/a/../b", "/api/v1/dags/caf\u00e9", "/api/v1/dags/a;b", "/api/v1//dags", "/api/v2/pools/p/"} {
		f.Add("GET", p, []byte{1})
	}
}

// FuzzClassifyEncoding checks that no encoded form of a path classifies as a
// different operation, DAG or parameter than its canonical form.
func FuzzClassifyEncoding(f *testing.F) {
	cat := syntheticCatalog(f)
	fuzzSeeds(f, cat)
	f.Fuzz(func(t *testing.T, method, canonical string, mask []byte) {
		if !strings.HasPrefix(canonical, "/") {
			canonical = "/" + canonical
		}
		want := cat.Classify(method, minimalEncode(canonical), "")
		got := cat.Classify(method, reEncode(canonical, mask), "")
		if got != want {
			t.Fatalf("encoded %q classifies as %s/%s dag %q, canonical %q as %s/%s dag %q",
				reEncode(canonical, mask), opID(got), got.Reason, got.DAGID, canonical, opID(want), want.Reason, want.DAGID)
		}
		checkInvariants(t, got)
	})
}

// FuzzClassifyRaw feeds arbitrary raw paths and queries: no panic, and every
// known classification is consistent.
func FuzzClassifyRaw(f *testing.F) {
	cat := syntheticCatalog(f)
	for _, op := range cat.Operations() {
		f.Add(op.Method, SamplePath(op), "dag_id=etl")
	}
	f.Add("GET", "/api/v1/eventLogs", "dag_id=a&dag_id=b")
	f.Add("GET", "/api/v1/eventLogs", "dag%5Fid=%zz")
	f.Fuzz(func(t *testing.T, method, raw, query string) {
		c := cat.Classify(method, raw, query)
		checkInvariants(t, c)
		if c.Known() && c.Op.Method != method {
			t.Fatalf("%s %s matched %s %s", method, raw, c.Op.Method, c.Op.Path)
		}
	})
}

func checkInvariants(t *testing.T, c Classification) {
	t.Helper()
	if !c.Known() {
		if c.DAGID != "" || c.Scope != "" || c.Reason == "" {
			t.Fatalf("unknown classification carries DAG %q scope %q reason %q", c.DAGID, c.Scope, c.Reason)
		}
		return
	}
	switch c.Scope {
	case ScopeOne:
		if !ValidDAGID(c.DAGID) {
			t.Fatalf("scope one with invalid DAG id %q", c.DAGID)
		}
	case ScopeAll, ScopeNone:
		if c.DAGID != "" && c.DAGID != "~" {
			t.Fatalf("scope %s names DAG %q", c.Scope, c.DAGID)
		}
	default:
		t.Fatalf("bad scope %q", c.Scope)
	}
	for i, p := range c.Op.params {
		if c.params[i] == "" {
			t.Fatalf("empty parameter %s", p.name)
		}
		if !p.rest && strings.Contains(c.params[i], "/") {
			t.Fatalf("one-segment parameter %s holds %q", p.name, c.params[i])
		}
	}
}

func opID(c Classification) string {
	if c.Op == nil {
		return "unknown"
	}
	return c.Op.ID
}
