package tokens

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/airgate/airgate/internal/catalog"
	"github.com/airgate/airgate/internal/testutil"
)

func TestParseScope(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{"one", "dag:team_a_daily:trigger", []string{"dag:team_a_daily:trigger"}, ""},
		{"several and duplicates", " dag:team_a_daily:trigger  dag:team_a_daily:read dag:team_a_daily:trigger", []string{"dag:team_a_daily:trigger", "dag:team_a_daily:read"}, ""},
		{"glob", "dag:team_a_*:read dag:x?y:edit", []string{"dag:team_a_*:read", "dag:x?y:edit"}, ""},
		{"dots and dashes", "dag:a.b-c:delete", []string{"dag:a.b-c:delete"}, ""},
		{"empty", "  ", nil, "empty"},
		{"not dag", "connection:x:read", nil, `want "dag:`},
		{"no action", "dag:team_a_daily", nil, `want "dag:`},
		{"unknown action", "dag:team_a_daily:run", nil, "unknown action"},
		{"action case matters", "dag:team_a_daily:READ", nil, "unknown action"},
		{"bad id", "dag:a/b:read", nil, "not a DAG id"},
		{"empty id", "dag::read", nil, "not a DAG id"},
		{"colon in id", "dag:a:b:read", nil, "not a DAG id"},
		{"too many", strings.Repeat("dag:a:read dag:b:read ", 17), nil, "more than 32"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseScope(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrScope) {
					t.Fatalf("ParseScope(%q) = %v, %v; want error with %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Strings(), tc.want) {
				t.Errorf("ParseScope(%q) = %q, want %q", tc.in, got.Strings(), tc.want)
			}
		})
	}
}

func TestScopeItemMatches(t *testing.T) {
	tests := []struct {
		item string
		id   string
		want bool
	}{
		{"dag:team_a_daily:read", "team_a_daily", true},
		{"dag:team_a_daily:read", "team_a_daily2", false},
		{"dag:team_a_*:read", "team_a_daily", true},
		{"dag:team_a_*:read", "team_b_daily", false},
		{"dag:*:read", "anything", true},
		{"dag:team_?_daily:read", "team_b_daily", true},
		{"dag:team_?_daily:read", "team_bb_daily", false},
		// "_" is not a wildcard here, unlike in Airflow's *_pattern
		// parameters.
		{"dag:team_a_daily:read", "teamXaXdaily", false},
	}
	for _, tc := range tests {
		s, err := ParseScope(tc.item)
		if err != nil {
			t.Fatal(err)
		}
		if got := s[0].Matches(tc.id); got != tc.want {
			t.Errorf("%s matches %s = %v, want %v", tc.item, tc.id, got, tc.want)
		}
	}
}

func TestScopeAllows(t *testing.T) {
	cat := catalog.Default()
	tests := []struct {
		scope, method, path string
		want                bool
	}{
		// Airflow 2.
		{"dag:team_a_daily:trigger", "POST", "/api/v1/dags/team_a_daily/dagRuns", true},
		{"dag:team_a_daily:trigger", "POST", "/api/v1/dags/team_b_daily/dagRuns", false},
		{"dag:team_a_daily:trigger", "GET", "/api/v1/dags/team_a_daily/dagRuns", false},
		{"dag:team_a_daily:trigger", "GET", "/api/v1/dags/team_a_daily", false},
		{"dag:team_a_daily:trigger", "PATCH", "/api/v1/dags/team_a_daily", false},
		{"dag:team_a_daily:trigger", "GET", "/api/v1/connections", false},
		{"dag:team_a_daily:trigger", "GET", "/api/v1/dags", false},
		{"dag:team_a_daily:trigger", "GET", "/api/v1/health", true}, // public
		{"dag:team_a_*:read", "GET", "/api/v1/dags/team_a_daily/dagRuns/r1/taskInstances/t/logs/1", true},
		{"dag:team_a_*:read", "GET", "/api/v1/dags/~/dagRuns", false},
		{"dag:team_a_*:read", "POST", "/api/v1/dags/~/dagRuns/list", false},
		{"dag:team_a_*:read", "GET", "/api/v1/dags/team_a_daily/dagRuns/r1/upstreamDatasetEvents", false},
		{"dag:team_a_daily:edit", "PATCH", "/api/v1/dags/team_a_daily", true},
		{"dag:team_a_daily:edit", "DELETE", "/api/v1/dags/team_a_daily", false},
		{"dag:team_a_daily:delete", "DELETE", "/api/v1/dags/team_a_daily/dagRuns/r1", true},
		// Airflow 3.
		{"dag:team_a_daily:trigger", "POST", "/api/v2/dags/team_a_daily/dagRuns", true},
		{"dag:team_a_daily:trigger", "POST", "/api/v2/dags/team_b_daily/dagRuns", false},
		{"dag:team_a_daily:trigger", "GET", "/api/v2/connections", false},
		{"dag:team_a_daily:trigger", "GET", "/api/v2/dags/team_a_daily/dagRuns/r1", false},
		{"dag:team_a_daily:read dag:team_a_daily:trigger", "GET", "/api/v2/dags/team_a_daily/dagRuns/r1", true},
		{"dag:team_a_daily:read", "GET", "/api/v2/dags/team_a_daily/dagSources", false}, // no such route shape
		{"dag:team_a_daily:read", "GET", "/api/v2/dagSources/team_a_daily", true},
		{"dag:team_a_daily:read", "GET", "/api/v2/eventLogs", false},
		{"dag:team_a_daily:read", "GET", "/api/v2/dags/team_a_daily/assets/queuedEvents", false},
		{"dag:team_a_daily:edit", "PATCH", "/api/v2/dags/team_a_daily/dagRuns/r1", true},
		{"dag:team_a_daily:delete", "DELETE", "/api/v2/dags/team_a_daily", true},
		{"dag:*:read", "GET", "/api/v2/dags", false},
		{"dag:team_a_daily:read", "GET", "/nope", false},
	}
	for _, tc := range tests {
		t.Run(tc.scope+" "+tc.method+" "+tc.path, func(t *testing.T) {
			s, err := ParseScope(tc.scope)
			if err != nil {
				t.Fatal(err)
			}
			path, query, _ := strings.Cut(tc.path, "?")
			cls := cat.Classify(tc.method, path, query)
			if got := s.Allows(&cls); got != tc.want {
				t.Errorf("Allows = %v, want %v (op %v, scope %s, dag %q)", got, tc.want, cls.Op != nil && cls.Op.ID != "", cls.Scope, cls.DAGID)
			}
		})
	}
	if (Scope{}).Allows(nil) {
		t.Error("Allows(nil) = true")
	}
}

// TestActionOperationsExist checks the scope vocabulary against the
// catalogue: every operation exists, names one DAG by path, and needs no
// permission outside the DAG family; and the vocabulary is golden.
func TestActionOperationsExist(t *testing.T) {
	cat := catalog.Default()
	var b strings.Builder
	b.WriteString("# Each scope action and the Airflow operations it covers (representative\n# operations, decided at exchange time, are marked *).\n")
	for _, a := range Actions {
		for _, api := range []catalog.API{catalog.V1, catalog.V2} {
			fmt.Fprintf(&b, "\n%s %s:\n", a, api)
			for _, id := range ActionOperations(a, api) {
				op, ok := cat.Lookup(api, id)
				if !ok {
					t.Errorf("%s %s: no operation %s", a, api, id)
					continue
				}
				if op.DAG != catalog.DAGPath {
					t.Errorf("%s %s: %s takes its DAG from %s, not the path", a, api, id, op.DAG)
				}
				var perms []string
				for _, p := range op.Requires {
					if !dagFamily(p.Resource) {
						t.Errorf("%s %s: %s needs %s %s, outside the DAG family", a, api, id, p.Resource, p.Action)
					}
					perms = append(perms, p.Resource+" "+p.Action)
				}
				mark := " "
				for _, r := range RepresentativeOperations(a, api) {
					if r == id {
						mark = "*"
					}
				}
				fmt.Fprintf(&b, "  %s %-45s %-6s %s  [%s]\n", mark, id, op.Method, op.Path, strings.Join(perms, ", "))
			}
			for _, r := range RepresentativeOperations(a, api) {
				found := false
				for _, id := range ActionOperations(a, api) {
					found = found || id == r
				}
				if !found {
					t.Errorf("%s %s: representative %s is not covered by the action", a, api, r)
				}
			}
		}
	}
	testutil.Golden(t, "scope_vocabulary.golden", []byte(b.String()))
}

func dagFamily(resource string) bool {
	switch resource {
	case "DAGs", "DAG Runs", "Task Instances", "Task Logs", "XComs", "DAG Code", "DAG":
		return true
	}
	return strings.HasPrefix(resource, "DAG.")
}

func TestProbeClassifiesRepresentatives(t *testing.T) {
	cat := catalog.Default()
	for _, a := range Actions {
		for _, api := range []catalog.API{catalog.V1, catalog.V2} {
			for _, id := range RepresentativeOperations(a, api) {
				op, _ := cat.Lookup(api, id)
				cls := probe(cat, op, "team_a_daily")
				if cls.Op != op || cls.Scope != catalog.ScopeOne || cls.DAGID != "team_a_daily" {
					t.Errorf("probe(%s %s) = op %v scope %s dag %q", api, id, cls.Op, cls.Scope, cls.DAGID)
				}
			}
		}
	}
}
