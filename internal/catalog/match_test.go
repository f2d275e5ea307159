package catalog

import (
	"strings"
	"testing"
)

// syntheticCatalog builds the route table from the real specs with a
// placeholder rule per operation, so matching is tested apart from the rule
// tables: every operation with {dag_id} in its path reads the DAG from the
// path, and Airflow 2's event logs and DAG warnings read it from the query.
func syntheticCatalog(t testing.TB) *Catalog {
	t.Helper()
	srcs := specSources()
	rules := map[API]map[string]Rule{}
	for _, s := range srcs {
		ops, err := parseSpec(s.doc, s.prefix)
		if err != nil {
			t.Fatal(err)
		}
		if rules[s.api] == nil {
			rules[s.api] = map[string]Rule{}
		}
		for _, o := range ops {
			r := Rule{Auth: AuthRequired, DAG: DAGNone, Requires: []Perm{{Resource: "R", Action: o.method}}}
			if strings.Contains(o.path, "{dag_id}") || strings.Contains(o.path, "/dags/~/") {
				r.DAG = DAGPath
				r.Requires = []Perm{{Resource: "DAG", Action: o.method, PerDAG: true, WithoutDAG: AnyDAG}}
			}
			if s.api == V1 && (o.id == "get_event_logs" || o.id == "get_dag_warnings") {
				r.DAG = DAGQuery
				r.Requires = []Perm{{Resource: "DAG", Action: o.method, PerDAG: true, WithoutDAG: Skip}}
			}
			if strings.Contains(o.path, "/dags/~/") {
				r.DAG = DAGBody
			}
			rules[s.api][o.id] = r
		}
	}
	for i := range srcs {
		srcs[i].rules = rules[srcs[i].api]
	}
	c, err := build(srcs, false)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClassifyMatching(t *testing.T) {
	cat := syntheticCatalog(t)
	const run = "manual__2024-01-01T00:00:00+00:00"
	tests := []struct {
		name   string
		method string
		path   string
		query  string
		op     string // operationId, "" when unknown
		reason Reason
		dag    string
		scope  Scope
		params map[string]string
	}{
		{name: "trigger v1", method: "POST", path: "/api/v1/dags/etl/dagRuns", op: "post_dag_run", dag: "etl", scope: ScopeOne},
		{name: "trigger v2", method: "POST", path: "/api/v2/dags/etl/dagRuns", op: "trigger_dag_run", dag: "etl", scope: ScopeOne},
		{name: "utf-8 dag id", method: "GET", path: "/api/v1/dags/caf%C3%A9", op: "get_dag", dag: "café", scope: ScopeOne},
		{name: "encoded letters", method: "GET", path: "/api/v1/dags/%65%74%6C", op: "get_dag", dag: "etl", scope: ScopeOne},
		{name: "plus is not a space in paths", method: "GET", path: "/api/v1/dags/etl/dagRuns/" + run, op: "get_dag_run", dag: "etl", scope: ScopeOne,
			params: map[string]string{"dag_run_id": run}},
		{name: "wildcard dag", method: "GET", path: "/api/v1/dags/~/dagRuns", op: "get_dag_runs", dag: "~", scope: ScopeAll},
		{name: "literal run named tilde", method: "GET", path: "/api/v1/dags/etl/dagRuns/~", op: "get_dag_run", dag: "etl", scope: ScopeOne,
			params: map[string]string{"dag_run_id": "~"}},
		{name: "v1 literal tilde route", method: "POST", path: "/api/v1/dags/~/dagRuns/list", op: "get_dag_runs_batch", scope: ScopeAll},
		{name: "method decides between literal and parameter", method: "GET", path: "/api/v1/dags/~/dagRuns/list", op: "get_dag_run", dag: "~", scope: ScopeAll,
			params: map[string]string{"dag_run_id": "list"}},
		{name: "v2 const tilde", method: "POST", path: "/api/v2/dags/~/dagRuns/list", op: "get_list_dag_runs_batch", dag: "~", scope: ScopeAll},
		{name: "v2 const tilde refuses a dag", method: "POST", path: "/api/v2/dags/etl/dagRuns/list", reason: ReasonMethodNotAllowed},
		{name: "v2 variable key with slashes", method: "GET", path: "/api/v2/variables/team/a/key", op: "get_variable", scope: ScopeNone,
			params: map[string]string{"variable_key": "team/a/key"}},
		{name: "v2 encoded slash is a slash", method: "GET", path: "/api/v2/variables/team%2Fa%2Fkey", op: "get_variable", scope: ScopeNone,
			params: map[string]string{"variable_key": "team/a/key"}},
		{name: "v2 variable key with trailing slash", method: "DELETE", path: "/api/v2/variables/k/", op: "delete_variable",
			params: map[string]string{"variable_key": "k/"}, scope: ScopeNone},
		{name: "v2 pool with slash", method: "PATCH", path: "/api/v2/pools/a/b", op: "patch_pool", params: map[string]string{"pool_name": "a/b"}, scope: ScopeNone},
		{name: "v1 pool is one segment", method: "GET", path: "/api/v1/pools/a/b", reason: ReasonNoRoute},
		{name: "v1 variable key format path", method: "GET", path: "/api/v1/variables/a/b", op: "get_variable", params: map[string]string{"variable_key": "a/b"}, scope: ScopeNone},
		{name: "v1 dataset uri", method: "GET", path: "/api/v1/datasets/s3%3A%2F%2Fbucket%2Fkey", op: "get_dataset",
			params: map[string]string{"uri": "s3://bucket/key"}, scope: ScopeNone},
		{name: "literal beats path parameter", method: "GET", path: "/api/v1/datasets/events", op: "get_dataset_events", scope: ScopeNone},
		{name: "v2 xcom key with slashes", method: "GET", path: "/api/v2/dags/d/dagRuns/r/taskInstances/t/xcomEntries/a/b", op: "get_xcom_entry", dag: "d", scope: ScopeOne,
			params: map[string]string{"xcom_key": "a/b", "task_id": "t"}},
		{name: "integer map index", method: "GET", path: "/api/v2/dags/d/dagRuns/r/taskInstances/t/3", op: "get_mapped_task_instance", dag: "d", scope: ScopeOne,
			params: map[string]string{"map_index": "3"}},
		{name: "literal beats integer", method: "GET", path: "/api/v2/dags/d/dagRuns/r/taskInstances/t/tries", op: "get_task_instance_tries", dag: "d", scope: ScopeOne},
		{name: "non-integer map index", method: "GET", path: "/api/v2/dags/d/dagRuns/r/taskInstances/t/x1", reason: ReasonNoRoute},
		{name: "query dag id", method: "GET", path: "/api/v1/eventLogs", query: "dag_id=etl&limit=5", op: "get_event_logs", dag: "etl", scope: ScopeOne},
		{name: "encoded query key", method: "GET", path: "/api/v1/eventLogs", query: "dag%5Fid=etl", op: "get_event_logs", dag: "etl", scope: ScopeOne},
		{name: "no query dag id", method: "GET", path: "/api/v1/eventLogs", op: "get_event_logs", scope: ScopeAll},
		{name: "repeated query dag id", method: "GET", path: "/api/v1/eventLogs", query: "dag_id=a&dag_id=b", reason: ReasonAmbiguousQuery},
		{name: "plus in query is a space", method: "GET", path: "/api/v1/eventLogs", query: "dag_id=a+b", reason: ReasonInvalidDAGID},
		{name: "v2 ignores query dag id", method: "GET", path: "/api/v2/eventLogs", query: "dag_id=etl", op: "get_event_logs", scope: ScopeNone},
		{name: "encoded slash splits the dag id", method: "GET", path: "/api/v1/dags/team_a%2F..%2Fteam_b", reason: ReasonDotSegment},
		{name: "encoded slash makes another route", method: "GET", path: "/api/v1/dags/a%2FdagRuns", op: "get_dag_runs", dag: "a", scope: ScopeOne},
		{name: "dot segment", method: "GET", path: "/api/v1/dags/../variables", reason: ReasonDotSegment},
		{name: "encoded dot segment", method: "GET", path: "/api/v1/dags/%2e%2E/dagRuns", reason: ReasonDotSegment},
		{name: "single dot", method: "GET", path: "/api/v1/./dags", reason: ReasonDotSegment},
		{name: "dots inside an id are fine", method: "GET", path: "/api/v1/dags/a..b", op: "get_dag", dag: "a..b", scope: ScopeOne},
		{name: "repeated slash", method: "GET", path: "/api/v1//dags", reason: ReasonNoRoute},
		{name: "repeated slash before api", method: "GET", path: "//api/v1/dags", reason: ReasonNotAirflowAPI},
		{name: "trailing slash", method: "GET", path: "/api/v1/dags/", reason: ReasonNoRoute},
		{name: "trailing slash after dag", method: "GET", path: "/api/v1/dags/etl/", reason: ReasonNoRoute},
		{name: "semicolon parameter is part of the id", method: "GET", path: "/api/v1/dags/etl;v=1", reason: ReasonInvalidDAGID},
		{name: "case matters in the API prefix", method: "GET", path: "/API/v1/dags", reason: ReasonNotAirflowAPI},
		{name: "case matters in literals", method: "GET", path: "/api/v1/DAGS", reason: ReasonNoRoute},
		{name: "case kept in dag ids", method: "GET", path: "/api/v1/dags/ETL", op: "get_dag", dag: "ETL", scope: ScopeOne},
		{name: "method is case-sensitive", method: "get", path: "/api/v1/dags", reason: ReasonMethodNotAllowed},
		{name: "method not allowed", method: "PUT", path: "/api/v1/dags/etl/dagRuns", reason: ReasonMethodNotAllowed},
		{name: "bad escape", method: "GET", path: "/api/v1/dags/%zz", reason: ReasonBadEncoding},
		{name: "truncated escape", method: "GET", path: "/api/v1/dags/a%2", reason: ReasonBadEncoding},
		{name: "invalid utf-8", method: "GET", path: "/api/v1/dags/%ff", reason: ReasonBadEncoding},
		{name: "encoded newline", method: "GET", path: "/api/v1/dags/etl%0A", reason: ReasonBadEncoding},
		{name: "encoded NUL", method: "GET", path: "/api/v1/dags/etl%00", reason: ReasonBadEncoding},
		{name: "fragment", method: "GET", path: "/api/v1/dags#x", reason: ReasonBadEncoding},
		{name: "relative path", method: "GET", path: "api/v1/dags", reason: ReasonBadEncoding},
		{name: "invalid dag id characters", method: "GET", path: "/api/v1/dags/a%20b", reason: ReasonInvalidDAGID},
		{name: "dag id too long", method: "GET", path: "/api/v1/dags/" + strings.Repeat("a", 251), reason: ReasonInvalidDAGID},
		{name: "dag id at the limit", method: "GET", path: "/api/v1/dags/" + strings.Repeat("a", 250), op: "get_dag", dag: strings.Repeat("a", 250), scope: ScopeOne},
		{name: "not an airflow api", method: "GET", path: "/home", reason: ReasonNotAirflowAPI},
		{name: "prefix must end at a segment", method: "GET", path: "/api/v1x/dags", reason: ReasonNotAirflowAPI},
		{name: "auth token", method: "POST", path: "/auth/token", op: "create_token", scope: ScopeNone},
		{name: "fab roles", method: "PATCH", path: "/auth/fab/v1/roles/Admin", op: "patch_role", scope: ScopeNone, params: map[string]string{"name": "Admin"}},
		{name: "v2 health", method: "GET", path: "/api/v2/monitor/health", op: "get_health", scope: ScopeNone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cat.Classify(tc.method, tc.path, tc.query)
			if tc.op == "" {
				if c.Known() {
					t.Fatalf("Classify(%s %s) = %s, want unknown (%s)", tc.method, tc.path, c.Op.ID, tc.reason)
				}
				if c.Reason != tc.reason {
					t.Errorf("Classify(%s %s) reason = %s, want %s", tc.method, tc.path, c.Reason, tc.reason)
				}
				if c.DAGID != "" || c.Scope != "" {
					t.Errorf("unknown request carries DAG %q scope %q", c.DAGID, c.Scope)
				}
				return
			}
			if !c.Known() {
				t.Fatalf("Classify(%s %s) unknown (%s), want %s", tc.method, tc.path, c.Reason, tc.op)
			}
			if c.Op.ID != tc.op {
				t.Errorf("Classify(%s %s) = %s (%s), want %s", tc.method, tc.path, c.Op.ID, c.Op.Path, tc.op)
			}
			if c.DAGID != tc.dag || c.Scope != tc.scope {
				t.Errorf("Classify(%s %s) DAG = %q scope %s, want %q scope %s", tc.method, tc.path, c.DAGID, c.Scope, tc.dag, tc.scope)
			}
			for name, want := range tc.params {
				if got, _ := c.Param(name); got != want {
					t.Errorf("Param(%s) = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestValidDAGID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"etl", true}, {"team_a.daily-1", true}, {"café", true}, {"データ", true}, {"x²", true},
		{"", false}, {"a b", false}, {"a/b", false}, {"~", false}, {"a\n", false}, {"a;b", false}, {"a+b", false},
		{"e\u0301", false}, // a combining mark is not \w in Python
	} {
		if got := ValidDAGID(tc.id); got != tc.want {
			t.Errorf("ValidDAGID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestRequirementsFallbacks(t *testing.T) {
	op := &Operation{Rule: Rule{Requires: []Perm{
		{Resource: "DAGs", Action: "can_read", PerDAG: true, WithoutDAG: Skip},
		{Resource: "DAG Runs", Action: "can_read", PerDAG: true, WithoutDAG: Global},
		{Resource: "Task Instances", Action: "can_read"},
		{Resource: "DAGs", Action: "can_edit", PerDAG: true, WithoutDAG: AnyDAG},
	}}}
	one := Classification{Op: op, DAGID: "etl", Scope: ScopeOne}
	got := one.Requirements()
	want := []Requirement{
		{Resource: "DAGs", Action: "can_read", DAGID: "etl"},
		{Resource: "DAG Runs", Action: "can_read", DAGID: "etl"},
		{Resource: "Task Instances", Action: "can_read"},
		{Resource: "DAGs", Action: "can_edit", DAGID: "etl"},
	}
	if !equalReqs(got, want) {
		t.Errorf("with a DAG: Requirements() = %v, want %v", got, want)
	}
	all := Classification{Op: op, DAGID: "~", Scope: ScopeAll}
	got = all.Requirements()
	want = []Requirement{
		{Resource: "DAG Runs", Action: "can_read"},
		{Resource: "Task Instances", Action: "can_read"},
		{Resource: "DAGs", Action: "can_edit", AnyDAG: true},
	}
	if !equalReqs(got, want) {
		t.Errorf("without a DAG: Requirements() = %v, want %v", got, want)
	}
}

func equalReqs(a, b []Requirement) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func BenchmarkClassify(b *testing.B) {
	cat := syntheticCatalog(b)
	for _, bc := range []struct{ name, method, path string }{
		{"v1_get_dag", "GET", "/api/v1/dags/team_a_daily"},
		{"v2_task_instance", "GET", "/api/v2/dags/team_a_daily/dagRuns/manual__2024-01-01T00:00:00+00:00/taskInstances/extract"},
		{"v2_encoded", "GET", "/api/v2/dags/caf%C3%A9/dagRuns"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c := cat.Classify(bc.method, bc.path, "")
				if !c.Known() {
					b.Fatal("unknown")
				}
			}
		})
	}
}
