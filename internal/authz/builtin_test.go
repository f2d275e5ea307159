package authz

import (
	"testing"

	"github.com/airgate/airgate/internal/testutil"
)

// TestDemoPolicyGolden pins the demo policy compiled with Airflow's real
// built-in roles; it has no warnings.
func TestDemoPolicyGolden(t *testing.T) {
	p, err := ParsePolicy(demoPolicy(t))
	if err != nil {
		t.Fatal(err)
	}
	if w := p.Warnings(); len(w) != 0 {
		t.Errorf("demo Warnings() = %v, want none", w)
	}
	testutil.Golden(t, "demo_policy.txt", []byte(p.Describe()))
}

func TestLoadPolicy(t *testing.T) {
	if _, err := LoadPolicy("policy/testdata/demo.yaml"); err != nil {
		t.Errorf("LoadPolicy(demo) error = %v", err)
	}
	if _, err := LoadPolicy("policy/testdata/missing.yaml"); err == nil {
		t.Error("LoadPolicy(missing file) error = nil")
	}
}
