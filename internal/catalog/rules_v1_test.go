package catalog

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/airgate/airgate/third_party/airflow"
	"go.yaml.in/yaml/v3"
)

// v1FABResources are the resource names of airflow/security/permissions.py
// (Airflow 2.10), without the per-DAG prefixes.
var v1FABResources = []string{
	"Permissions", "Admin", "Audit Logs", "Browse", "Configurations", "Connections",
	"DAGs", "DAG Code", "DAG Dependencies", "DAG Runs", "DAG Warnings",
	"Cluster Activity", "Datasets", "Documentation", "Docs", "ImportError", "Jobs",
	"My Password", "My Profile", "Passwords", "Permission Views", "Plugins", "Pools",
	"Providers", "View Menus", "Roles", "SLA Misses", "Task Instances", "Task Logs",
	"Task Reschedules", "Triggers", "Users", "User Stats Chart", "Variables",
	"Website", "XComs",
}

// v1FABActions are the FAB actions Airflow's permission checks use.
var v1FABActions = []string{"can_create", "can_read", "can_edit", "can_delete", "menu_access"}

// v1SpecOp is one operation of the v1 spec, as far as these tests need it.
type v1SpecOp struct {
	method, path string
	queryParams  []string
}

// v1ParseSpec returns the v1 spec's operations keyed by operationId.
func v1ParseSpec(t *testing.T) map[string]v1SpecOp {
	t.Helper()
	type param struct {
		Ref  string `yaml:"$ref"`
		Name string `yaml:"name"`
		In   string `yaml:"in"`
	}
	type operation struct {
		OperationID string  `yaml:"operationId"`
		Parameters  []param `yaml:"parameters"`
	}
	var doc struct {
		Paths      map[string]map[string]yaml.Node `yaml:"paths"`
		Components struct {
			Parameters map[string]param `yaml:"parameters"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(airflow.V1, &doc); err != nil {
		t.Fatalf("parsing the v1 spec: %v", err)
	}
	resolve := func(p param) param {
		if p.Ref == "" {
			return p
		}
		name := p.Ref[strings.LastIndex(p.Ref, "/")+1:]
		r, ok := doc.Components.Parameters[name]
		if !ok {
			t.Fatalf("unresolved parameter reference %q", p.Ref)
		}
		return r
	}
	ops := make(map[string]v1SpecOp)
	for path, item := range doc.Paths {
		var common []param
		if n, ok := item["parameters"]; ok {
			if err := n.Decode(&common); err != nil {
				t.Fatalf("decoding parameters of %s: %v", path, err)
			}
		}
		for method, n := range item {
			if method == "parameters" {
				continue
			}
			var op operation
			if err := n.Decode(&op); err != nil {
				t.Fatalf("decoding %s %s: %v", method, path, err)
			}
			if op.OperationID == "" {
				continue
			}
			if _, dup := ops[op.OperationID]; dup {
				t.Fatalf("duplicate operationId %q in the v1 spec", op.OperationID)
			}
			so := v1SpecOp{method: strings.ToUpper(method), path: path}
			for _, p := range append(slices.Clone(common), op.Parameters...) {
				if p = resolve(p); p.In == "query" {
					so.queryParams = append(so.queryParams, p.Name)
				}
			}
			ops[op.OperationID] = so
		}
	}
	return ops
}

func TestV1RulesCoverSpec(t *testing.T) {
	ops := v1ParseSpec(t)
	if len(ops) != 89 {
		t.Errorf("v1 spec has %d operations, want 89", len(ops))
	}
	var missing, extra []string
	for id := range ops {
		if _, ok := v1Rules[id]; !ok {
			missing = append(missing, id)
		}
	}
	for id := range v1Rules {
		if _, ok := ops[id]; !ok {
			extra = append(extra, id)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("operations without a rule: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("rules for operations not in the spec: %v", extra)
	}

	for id, r := range v1Rules {
		op, ok := ops[id]
		if !ok {
			continue
		}
		hasDAGPath := strings.Contains(op.path, "{dag_id}")
		if (r.DAG == DAGPath) != hasDAGPath {
			t.Errorf("%s (%s %s): DAG = %q, but path has {dag_id} = %v", id, op.method, op.path, r.DAG, hasDAGPath)
		}
		if r.DAG == DAGFileToken && !strings.Contains(op.path, "{file_token}") {
			t.Errorf("%s (%s): DAG = %q without {file_token} in the path", id, op.path, r.DAG)
		}
		if r.DAG == DAGQuery && !slices.Contains(op.queryParams, "dag_id") {
			t.Errorf("%s (%s): DAG = %q but no dag_id query parameter (have %v)", id, op.path, r.DAG, op.queryParams)
		}
		if r.DAG == DAGBody && op.method != "POST" {
			t.Errorf("%s: DAG = %q on a %s", id, r.DAG, op.method)
		}
		// Every operation with a dag_id query parameter and no path dag_id
		// passes it to requires_access_dag.
		if !hasDAGPath && slices.Contains(op.queryParams, "dag_id") && r.DAG != DAGQuery {
			t.Errorf("%s: has a dag_id query parameter, DAG = %q, want %q", id, r.DAG, DAGQuery)
		}
	}
}

func TestV1RulesWellFormed(t *testing.T) {
	for id, r := range v1Rules {
		switch r.Auth {
		case AuthRequired:
			if len(r.Requires) == 0 {
				t.Errorf("%s: Auth %q with no Requires", id, r.Auth)
			}
		case AuthAuthenticated, AuthNone:
			if len(r.Requires) != 0 {
				t.Errorf("%s: Auth %q with Requires %v", id, r.Auth, r.Requires)
			}
		default:
			t.Errorf("%s: unknown Auth %q", id, r.Auth)
		}
		switch r.DAG {
		case DAGNone, DAGPath, DAGQuery, DAGBody, DAGFileToken:
		default:
			t.Errorf("%s: unknown DAG source %q", id, r.DAG)
		}
		switch r.Filter {
		case FilterNone, FilterReadable, FilterReadableOrEditable, FilterEditable:
		default:
			t.Errorf("%s: unknown Filter %q", id, r.Filter)
		}
		if r.Source == "" {
			t.Errorf("%s: no Source", id)
		}
		if r.Auth != AuthNone && !strings.HasPrefix(r.Source, "airflow/") {
			t.Errorf("%s: Source %q does not name an Airflow file", id, r.Source)
		}
		seen := make(map[[2]string]bool)
		for _, p := range r.Requires {
			if !slices.Contains(v1FABResources, p.Resource) {
				t.Errorf("%s: unknown FAB resource %q", id, p.Resource)
			}
			if !slices.Contains(v1FABActions, p.Action) {
				t.Errorf("%s: unknown FAB action %q", id, p.Action)
			}
			key := [2]string{p.Resource, p.Action}
			if seen[key] {
				t.Errorf("%s: %s %s listed twice", id, p.Action, p.Resource)
			}
			seen[key] = true
			// FAB has per-DAG resources only for DAGs and DAG Runs.
			if p.PerDAG && p.Resource != "DAGs" && p.Resource != "DAG Runs" {
				t.Errorf("%s: %s %s is PerDAG, but FAB has no per-DAG %q", id, p.Action, p.Resource, p.Resource)
			}
			if !p.PerDAG && p.WithoutDAG != Global {
				t.Errorf("%s: %s %s is not PerDAG but WithoutDAG = %v", id, p.Action, p.Resource, p.WithoutDAG)
			}
			// AnyDAG is the GET/PUT fallback of the bare DAG check; Skip
			// is the DAG check that precedes an access entity.
			if p.WithoutDAG == AnyDAG && (p.Resource != "DAGs" || (p.Action != "can_read" && p.Action != "can_edit")) {
				t.Errorf("%s: %s %s falls back to AnyDAG", id, p.Action, p.Resource)
			}
			if p.WithoutDAG == Skip && p.Resource != "DAGs" {
				t.Errorf("%s: %s %s is skipped without a DAG", id, p.Action, p.Resource)
			}
			if p.WithoutDAG == Skip && r.DAG == DAGNone {
				t.Errorf("%s: %s %s is skipped without a DAG, and the rule never has one", id, p.Action, p.Resource)
			}
			if p.PerDAG && p.Resource == "DAG Runs" && p.WithoutDAG != Global {
				t.Errorf("%s: DAG Runs falls back to %v, want global", id, p.WithoutDAG)
			}
		}
		// An access-entity check starts with the DAG check.
		if len(r.Requires) > 1 && r.Requires[0].Resource == "DAGs" && r.Requires[0].WithoutDAG != Skip {
			t.Errorf("%s: DAG check before an entity check falls back to %v, want skip", id, r.Requires[0].WithoutDAG)
		}
		if r.Filter != FilterNone && !v1RuleChecksDAGs(r) {
			t.Errorf("%s: Filter %q on a rule that touches no DAG permission", id, r.Filter)
		}
	}
}

// v1RuleChecksDAGs reports whether a rule involves DAG-scoped permissions,
// which is what a DAG filter narrows.
func v1RuleChecksDAGs(r Rule) bool {
	for _, p := range r.Requires {
		switch p.Resource {
		case "DAGs", "DAG Runs", "Task Instances", "XComs", "Datasets", "ImportError", "DAG Warnings":
			return true
		}
	}
	return false
}

func TestV1RuleTable(t *testing.T) {
	tests := []struct {
		id   string
		want Rule
	}{
		{
			id: "post_dag_run",
			want: Rule{Auth: AuthRequired, DAG: DAGPath, Requires: []Perm{
				{"DAGs", "can_edit", true, Skip},
				{"DAG Runs", "can_create", true, Global},
			}},
		},
		{
			id: "get_dags",
			want: Rule{Auth: AuthRequired, DAG: DAGNone, Filter: FilterReadableOrEditable, Requires: []Perm{
				{"DAGs", "can_read", true, AnyDAG},
			}},
		},
		{
			id: "patch_dags",
			want: Rule{Auth: AuthRequired, DAG: DAGNone, Filter: FilterEditable, Requires: []Perm{
				{"DAGs", "can_edit", true, AnyDAG},
			}},
		},
		{
			id: "delete_dag",
			want: Rule{Auth: AuthRequired, DAG: DAGPath, Requires: []Perm{
				{"DAGs", "can_delete", true, Global},
			}},
		},
		{
			id: "get_task_instances",
			want: Rule{Auth: AuthRequired, DAG: DAGPath, Filter: FilterReadableOrEditable, Requires: []Perm{
				{"DAGs", "can_read", true, Skip},
				{"DAG Runs", "can_read", true, Global},
				{"Task Instances", "can_read", false, Global},
			}},
		},
		{
			id: "get_task_instances_batch",
			want: Rule{Auth: AuthRequired, DAG: DAGBody, Filter: FilterReadableOrEditable, Requires: []Perm{
				{"DAGs", "can_read", true, Skip},
				{"DAG Runs", "can_read", false, Global},
				{"Task Instances", "can_read", false, Global},
			}},
		},
		{
			id: "get_dag_runs_batch",
			want: Rule{Auth: AuthRequired, DAG: DAGBody, Filter: FilterReadable, Requires: []Perm{
				{"DAG Runs", "can_read", false, Global},
			}},
		},
		{
			id: "get_event_logs",
			want: Rule{Auth: AuthRequired, DAG: DAGQuery, Requires: []Perm{
				{"DAGs", "can_read", true, Skip},
				{"Audit Logs", "can_read", false, Global},
			}},
		},
		{
			id: "get_dag_warnings",
			want: Rule{Auth: AuthRequired, DAG: DAGQuery, Filter: FilterReadableOrEditable, Requires: []Perm{
				{"DAGs", "can_read", true, Skip},
				{"DAG Warnings", "can_read", false, Global},
			}},
		},
		{
			id: "get_dag_source",
			want: Rule{Auth: AuthRequired, DAG: DAGFileToken, Requires: []Perm{
				{"DAGs", "can_read", true, Skip},
				{"DAG Code", "can_read", false, Global},
			}},
		},
		{
			id: "get_config",
			want: Rule{Auth: AuthRequired, DAG: DAGNone, Requires: []Perm{
				{"Configurations", "can_read", false, Global},
			}},
		},
		{
			id: "get_connection",
			want: Rule{Auth: AuthRequired, DAG: DAGNone, Requires: []Perm{
				{"Connections", "can_read", false, Global},
			}},
		},
		{
			id: "get_xcom_entries",
			want: Rule{Auth: AuthRequired, DAG: DAGPath, Filter: FilterReadable, Requires: []Perm{
				{"DAGs", "can_read", true, Skip},
				{"XComs", "can_read", false, Global},
			}},
		},
		{
			id:   "get_health",
			want: Rule{Auth: AuthNone, DAG: DAGNone},
		},
		{
			id:   "get_version",
			want: Rule{Auth: AuthNone, DAG: DAGNone},
		},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			got, ok := v1Rules[tc.id]
			if !ok {
				t.Fatalf("no rule for %s", tc.id)
			}
			if got.Auth != tc.want.Auth {
				t.Errorf("Auth = %q, want %q", got.Auth, tc.want.Auth)
			}
			if got.DAG != tc.want.DAG {
				t.Errorf("DAG = %q, want %q", got.DAG, tc.want.DAG)
			}
			if got.Filter != tc.want.Filter {
				t.Errorf("Filter = %q, want %q", got.Filter, tc.want.Filter)
			}
			if !reflect.DeepEqual(got.Requires, tc.want.Requires) {
				t.Errorf("Requires = %v, want %v", got.Requires, tc.want.Requires)
			}
		})
	}
	// Traps that must stay written down.
	for id, word := range map[string]string{
		"get_config":               "expose_config",
		"get_value":                "expose_config",
		"test_connection":          "test_connection",
		"get_task_instances_batch": "403",
	} {
		if !strings.Contains(v1Rules[id].Note, word) {
			t.Errorf("%s: Note %q does not mention %q", id, v1Rules[id].Note, word)
		}
	}
}

// v1FABRole returns the FAB built-in role with that name.
func v1FABRole(t *testing.T, name string) BuiltinRole {
	t.Helper()
	for _, r := range fabRoles {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no FAB role %q", name)
	return BuiltinRole{}
}

func TestFABRoles(t *testing.T) {
	var names []string
	for _, r := range fabRoles {
		names = append(names, r.Name)
		if r.Family != FAB {
			t.Errorf("%s: Family = %q, want %q", r.Name, r.Family, FAB)
		}
		if r.Source == "" {
			t.Errorf("%s: no Source", r.Name)
		}
		seen := make(map[Grant]bool)
		for _, g := range r.Grants {
			if seen[g] {
				t.Errorf("%s: %v granted twice", r.Name, g)
			}
			seen[g] = true
			if g == (Grant{"*", "*"}) {
				continue
			}
			if !slices.Contains(v1FABResources, g.Resource) {
				t.Errorf("%s: unknown FAB resource %q", r.Name, g.Resource)
			}
			if !slices.Contains(v1FABActions, g.Action) {
				t.Errorf("%s: unknown FAB action %q", r.Name, g.Action)
			}
		}
	}
	if want := []string{"Viewer", "User", "Op", "Admin"}; !slices.Equal(names, want) {
		t.Fatalf("FAB roles = %v, want %v", names, want)
	}

	// Each role holds every grant of the role before it.
	for i := 1; i < len(fabRoles); i++ {
		lower, higher := fabRoles[i-1], fabRoles[i]
		for _, g := range lower.Grants {
			if !slices.Contains(higher.Grants, g) {
				t.Errorf("%s lacks %v of %s", higher.Name, g, lower.Name)
			}
		}
	}

	counts := map[string]int{"Viewer": 30, "User": 39, "Op": 63, "Admin": 74}
	for name, n := range counts {
		if got := len(v1FABRole(t, name).Grants); got != n {
			t.Errorf("%s has %d grants, want %d", name, got, n)
		}
	}

	tests := []struct {
		role, resource, action string
		want                   bool
	}{
		{"Viewer", "DAGs", "can_read", true},
		{"Viewer", "Website", "can_read", true},
		{"Viewer", "Audit Logs", "can_read", false},
		{"Viewer", "Connections", "can_read", false},
		{"Viewer", "Variables", "can_read", false},
		{"Viewer", "Configurations", "can_read", false},
		{"Viewer", "Plugins", "can_read", false},
		{"Viewer", "DAGs", "can_edit", false},
		{"User", "DAGs", "can_edit", true},
		{"User", "DAGs", "can_delete", true},
		{"User", "DAG Runs", "can_create", true},
		{"User", "Task Instances", "can_edit", true},
		{"User", "Datasets", "can_create", true},
		{"User", "Connections", "can_read", false},
		{"User", "Pools", "can_create", false},
		{"Op", "Connections", "can_create", true},
		{"Op", "Variables", "can_delete", true},
		{"Op", "Configurations", "can_read", true},
		{"Op", "Providers", "can_read", true},
		{"Op", "XComs", "can_delete", true},
		{"Op", "Audit Logs", "can_read", false},
		{"Op", "Roles", "can_read", false},
		{"Op", "Users", "can_read", false},
		{"Admin", "Audit Logs", "can_read", true},
		{"Admin", "Roles", "can_edit", true},
		{"Admin", "Triggers", "can_read", true},
	}
	for _, tc := range tests {
		got := slices.Contains(v1FABRole(t, tc.role).Grants, Grant{tc.resource, tc.action})
		if got != tc.want {
			t.Errorf("%s has %s on %s = %v, want %v", tc.role, tc.action, tc.resource, got, tc.want)
		}
	}

	admin := v1FABRole(t, "Admin")
	if last := admin.Grants[len(admin.Grants)-1]; last != (Grant{"*", "*"}) {
		t.Errorf("Admin's last grant = %v, want the update_admin_permission wildcard", last)
	}
	for _, r := range fabRoles {
		if r.Name != "Admin" && slices.ContainsFunc(r.Grants, func(g Grant) bool {
			return strings.Contains(g.Resource, "*") || g.Action == "*"
		}) {
			t.Errorf("%s has a wildcard grant", r.Name)
		}
	}
}
