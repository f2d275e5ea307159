package authz

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/airgate/airgate/internal/testutil"
)

func TestExplainGolden(t *testing.T) {
	e := newEngine(t, demoPolicy(t))
	tests := []struct {
		name string
		in   Input
	}{
		{"team_a_operator_triggers_team_b", input(bob, "POST", "/api/v1/dags/team_b_daily/dagRuns")},
		{"nested_admin_denied", input(carol, "DELETE", "/api/v2/connections/aws")},
		{"admin_without_mfa", input(erin, "DELETE", "/api/v1/connections/aws")},
		{"viewer_reads_runs_v2", input(alice, "GET", "/api/v2/dags/team_a_daily/dagRuns")},
		{"team_a_lists_dags_v2", input(bob, "GET", "/api/v2/dags")},
		{"app_role_triggers", input(etl, "POST", "/api/v2/dags/team_a_daily/dagRuns")},
		{"public_health", input(nil, "GET", "/api/v1/health")},
		{"unknown_operation", input(alice, "GET", "/api/v1/nope")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, err := e.Explain(context.Background(), tc.in)
			if err != nil {
				t.Fatalf("Explain() error = %v", err)
			}
			d, _ := e.Decide(context.Background(), tc.in)
			if x.Decision.Allow != d.Allow || strings.Join(reasonStrings(x.Decision.Reasons), ",") != strings.Join(reasonStrings(d.Reasons), ",") {
				t.Errorf("Explain decision %v %v differs from Decide %v %v", x.Decision.Allow, x.Decision.Reasons, d.Allow, d.Reasons)
			}
			testutil.Golden(t, "explain/"+tc.name+".txt", []byte(x.Text()))
		})
	}
}

func TestExplainJSON(t *testing.T) {
	e := newEngine(t, demoPolicy(t))
	x, err := e.Explain(context.Background(), input(bob, "GET", "/api/v1/dags"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"allow":true`, `"filter":"readable_or_editable"`, `"kind":"mapping"`, `"kind":"requirement"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("Explain JSON lacks %s:\n%s", want, b)
		}
	}
}

func TestExplainConditionError(t *testing.T) {
	e := newEngine(t, []byte(conditionPolicy))
	in := input(nil, "GET", "/api/v1/connections")
	p := *etl
	p.AppRoles = []string{"Broken"}
	in.Principal = &p
	x, err := e.Explain(context.Background(), in)
	if err == nil {
		t.Fatal("Explain(broken condition) error = nil")
	}
	if last := x.Steps[len(x.Steps)-1]; last.Kind != StepCondition || last.Outcome != "error" {
		t.Errorf("last step = %+v, want the failing condition", last)
	}
}
