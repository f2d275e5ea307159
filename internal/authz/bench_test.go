package authz

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// benchPolicy is the demo policy plus nine team roles with DAG globs: a
// dozen roles, one CEL condition.
func benchPolicy(t testing.TB) []byte {
	var b strings.Builder
	b.Write(demoPolicy(t))
	roles := "roles:\n"
	for i := 0; i < 9; i++ {
		roles += fmt.Sprintf(`  team-%d:
    extends: [Viewer]
    permissions:
      - {resource: "DAGs", actions: [can_read, can_edit]}
      - {resource: "DAG Runs", actions: [can_read, can_create]}
      - {resource: "DAG.RUN", actions: [GET, POST]}
    dags: ["team_%d_*", "shared_%d"]
`, i, i, i)
	}
	doc := strings.Replace(b.String(), "roles:\n", roles, 1)
	for i := 0; i < 9; i++ {
		doc += fmt.Sprintf("  - group: 5555555%d-5555-4555-8555-555555555555\n    roles: [team-%d]\n", i, i)
	}
	return []byte(doc)
}

func BenchmarkDecide(b *testing.B) {
	e := newEngine(b, benchPolicy(b))
	if n := len(e.Policy().Roles()) - len(Builtins()); n != 12 {
		b.Fatalf("bench policy has %d roles, want 12", n)
	}
	busy := *bob
	busy.Groups = []string{"55555553-5555-4555-8555-555555555555", gTeamA, "55555557-5555-4555-8555-555555555555"}
	directGroups[&busy] = busy.Groups
	cases := []struct {
		name string
		in   Input
	}{
		{"v1_trigger_allowed", input(&busy, "POST", "/api/v1/dags/team_a_daily/dagRuns")},
		{"v2_trigger_allowed", input(&busy, "POST", "/api/v2/dags/team_a_daily/dagRuns")},
		{"v2_list_filtered", input(&busy, "GET", "/api/v2/dags")},
		{"v1_cel_condition", input(dave, "DELETE", "/api/v1/connections/aws")},
		{"v1_denied_out_of_scope", input(&busy, "POST", "/api/v1/dags/team_b_daily/dagRuns")},
	}
	ctx := context.Background()
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if _, err := e.Decide(ctx, c.in); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Decide(ctx, c.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
