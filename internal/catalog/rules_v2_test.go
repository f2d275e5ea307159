package catalog

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/airgate/airgate/third_party/airflow"
)

// v2SpecOp is one operation of an embedded OpenAPI spec, as far as these
// tests need it.
type v2SpecOp struct {
	Method   string
	Path     string
	ID       string
	Secured  bool
	SpecName string
}

// v2ParseSpec returns the operations of an OpenAPI document.
func v2ParseSpec(t *testing.T, name string, doc []byte) []v2SpecOp {
	t.Helper()
	var d struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(doc, &d); err != nil {
		t.Fatalf("parsing %s: %v", name, err)
	}
	var ops []v2SpecOp
	for path, item := range d.Paths {
		for method, node := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "options", "head", "trace":
			default:
				continue
			}
			var o struct {
				OperationID string                `yaml:"operationId"`
				Security    []map[string][]string `yaml:"security"`
			}
			if err := node.Decode(&o); err != nil {
				t.Fatalf("parsing %s %s %s: %v", name, method, path, err)
			}
			if o.OperationID == "" {
				t.Fatalf("%s: %s %s has no operationId", name, method, path)
			}
			ops = append(ops, v2SpecOp{
				Method:   strings.ToUpper(method),
				Path:     path,
				ID:       o.OperationID,
				Secured:  len(o.Security) > 0,
				SpecName: name,
			})
		}
	}
	if len(ops) == 0 {
		t.Fatalf("%s: no operations", name)
	}
	return ops
}

// v2AuthSpecOps returns the operations of the three auth manager specs.
func v2AuthSpecOps(t *testing.T) []v2SpecOp {
	t.Helper()
	var ops []v2SpecOp
	ops = append(ops, v2ParseSpec(t, "simple", airflow.AuthSimple)...)
	ops = append(ops, v2ParseSpec(t, "fab", airflow.AuthFAB)...)
	ops = append(ops, v2ParseSpec(t, "keycloak", airflow.AuthKeycloak)...)
	return ops
}

// v2SortedKeys returns the keys of m in order.
func v2SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// v2OpIDs returns the distinct operationIds of ops in order.
func v2OpIDs(ops []v2SpecOp) []string {
	var ids []string
	for _, o := range ops {
		ids = append(ids, o.ID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// v2DAGEntities are Airflow 3's DagAccessEntity values.
var v2DAGEntities = []string{
	"AUDIT_LOG", "CODE", "DEPENDENCIES", "HITL_DETAIL", "RUN", "TASK",
	"TASK_INSTANCE", "TASK_LOGS", "VERSION", "WARNING", "XCOM",
}

// v2AccessViews are Airflow 3's AccessView values.
var v2AccessViews = []string{
	"CLUSTER_ACTIVITY", "DOCS", "IMPORT_ERRORS", "JOBS", "PLUGINS", "PROVIDERS", "TRIGGERS", "WEBSITE",
}

// v2IsDAGResource reports whether r is the DAG entity or a DAG access entity.
func v2IsDAGResource(r string) bool {
	if r == "DAG" {
		return true
	}
	e, ok := strings.CutPrefix(r, "DAG.")
	return ok && slices.Contains(v2DAGEntities, e)
}

// v2ResourceOK reports whether r is an auth manager entity these tables may
// name.
func v2ResourceOK(r string) bool {
	switch r {
	case "CONNECTION", "VARIABLE", "POOL", "ASSET", "ASSET_ALIAS", "BACKFILL", "CONFIGURATION":
		return true
	}
	if v, ok := strings.CutPrefix(r, "VIEW."); ok {
		return slices.Contains(v2AccessViews, v)
	}
	if v, ok := strings.CutPrefix(r, "CUSTOM_VIEW."); ok {
		return v != ""
	}
	return v2IsDAGResource(r)
}

// v2CheckAuth reports the inconsistencies between a rule's Auth and its
// Requires.
func v2CheckAuth(t *testing.T, id string, r Rule) {
	t.Helper()
	switch r.Auth {
	case AuthRequired:
		if len(r.Requires) == 0 {
			t.Errorf("%s: Auth = required with no Requires", id)
		}
	case AuthAuthenticated, AuthNone:
		if len(r.Requires) != 0 {
			t.Errorf("%s: Auth = %s with Requires %v", id, r.Auth, r.Requires)
		}
		if r.Filter != FilterNone {
			t.Errorf("%s: Auth = %s with Filter %q", id, r.Auth, r.Filter)
		}
	default:
		t.Errorf("%s: Auth = %q, want required, authenticated or none", id, r.Auth)
	}
	if r.Source == "" {
		t.Errorf("%s: no Source", id)
	}
}

func TestV2RulesWellFormed(t *testing.T) {
	paths := map[string]string{}
	for _, o := range v2ParseSpec(t, "v2", airflow.V2) {
		paths[o.ID] = o.Path
	}
	for _, id := range v2SortedKeys(v2Rules) {
		r := v2Rules[id]
		v2CheckAuth(t, id, r)
		switch r.Filter {
		case FilterNone, FilterReadable, FilterEditable:
		default:
			// FilterReadableOrEditable is Airflow 2's get_permitted_dag_ids.
			t.Errorf("%s: Filter = %q, not an Airflow 3 filter", id, r.Filter)
		}
		for _, p := range r.Requires {
			if !v2ResourceOK(p.Resource) {
				t.Errorf("%s: Resource %q is not an auth manager entity", id, p.Resource)
			}
			if !slices.Contains([]string{"GET", "POST", "PUT", "DELETE"}, p.Action) {
				t.Errorf("%s: %s Action %q, want GET, POST, PUT or DELETE", id, p.Resource, p.Action)
			}
			if strings.HasPrefix(p.Resource, "VIEW.") && p.Action != "GET" {
				t.Errorf("%s: view %s with Action %q, want GET", id, p.Resource, p.Action)
			}
			// requires_access_dag is the only per-DAG check, and its DagDetails
			// always carries the path's dag_id.
			if p.PerDAG != v2IsDAGResource(p.Resource) {
				t.Errorf("%s: %s PerDAG = %v", id, p.Resource, p.PerDAG)
			}
			want := Global
			if p.PerDAG && p.Action == "GET" {
				want = AnyDAG
			}
			if p.WithoutDAG != want {
				t.Errorf("%s: %s %s WithoutDAG = %v, want %v", id, p.Resource, p.Action, p.WithoutDAG, want)
			}
		}
		path, ok := paths[id]
		if !ok {
			continue // reported by TestV2RulesCoverSpec
		}
		var want DAGSource
		switch {
		case strings.Contains(path, "{file_token}"):
			want = DAGFileToken
		case r.DAG == DAGBody:
			want = DAGBody
		case strings.Contains(path, "{dag_id}"):
			want = DAGPath
		default:
			want = DAGNone
		}
		if r.DAG != want {
			t.Errorf("%s (%s): DAG = %q, want %q", id, path, r.DAG, want)
		}
		if r.DAG == DAGBody && !strings.Contains(r.Note, "body") {
			t.Errorf("%s: DAG = body, but Note does not say what the body's dag ids do", id)
		}
	}
}

func TestV2RulesCoverSpec(t *testing.T) {
	ops := v2ParseSpec(t, "v2", airflow.V2)
	if got, want := len(ops), 109; got != want {
		t.Errorf("openapi-v2.yaml has %d operations, want %d", got, want)
	}
	if got, want := v2SortedKeys(v2Rules), v2OpIDs(ops); !reflect.DeepEqual(got, want) {
		t.Errorf("v2Rules keys differ from the spec's operationIds:\nmissing %v\nextra %v",
			v2Missing(want, got), v2Missing(got, want))
	}
	for _, o := range ops {
		r, ok := v2Rules[o.ID]
		if !ok {
			continue
		}
		// FastAPI declares security exactly on the routes that depend on the
		// token schemes, that is, on the authenticated ones.
		if o.Secured == (r.Auth == AuthNone) {
			t.Errorf("%s %s (%s): spec security %v, rule Auth = %s", o.Method, o.Path, o.ID, o.Secured, r.Auth)
		}
	}
}

func TestAuthRulesCoverSpecs(t *testing.T) {
	ops := v2AuthSpecOps(t)
	if got, want := v2SortedKeys(authRules), v2OpIDs(ops); !reflect.DeepEqual(got, want) {
		t.Errorf("authRules keys differ from the auth specs' operationIds:\nmissing %v\nextra %v",
			v2Missing(want, got), v2Missing(got, want))
	}
	secured := map[string]bool{}
	for _, o := range ops {
		secured[o.ID] = secured[o.ID] || o.Secured
	}
	for id, s := range secured {
		r, ok := authRules[id]
		if !ok {
			continue
		}
		// An operationId some spec secures must not be recorded as open.
		if s == (r.Auth == AuthNone) {
			t.Errorf("%s: spec security %v, rule Auth = %s", id, s, r.Auth)
		}
	}
}

func TestAuthRulesWellFormed(t *testing.T) {
	fabActions := []string{"can_read", "can_create", "can_edit", "can_delete", "PATCH"}
	for _, id := range v2SortedKeys(authRules) {
		r := authRules[id]
		v2CheckAuth(t, id, r)
		if r.DAG != DAGNone {
			t.Errorf("%s: DAG = %q, want none", id, r.DAG)
		}
		for _, p := range r.Requires {
			// The FAB role API is the only guarded part, in FAB words.
			if p.Resource != "Roles" {
				t.Errorf("%s: Resource %q, want Roles", id, p.Resource)
			}
			if !slices.Contains(fabActions, p.Action) {
				t.Errorf("%s: Action %q, want one of %v", id, p.Action, fabActions)
			}
			if p.PerDAG || p.WithoutDAG != Global {
				t.Errorf("%s: %v, want a global permission", id, p)
			}
		}
		if slices.ContainsFunc(r.Requires, func(p Perm) bool { return p.Action == "PATCH" }) && r.Note == "" {
			t.Errorf("%s: untranslated PATCH action without a Note", id)
		}
	}
}

// v2Missing returns the elements of want that are not in got.
func v2Missing(want, got []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			out = append(out, w)
		}
	}
	return out
}

func TestV2ImportantRules(t *testing.T) {
	tests := []struct {
		id   string
		want Rule // Source and Note are not compared
	}{
		{"trigger_dag_run", Rule{Auth: AuthRequired, DAG: DAGPath,
			Requires: []Perm{{"DAG.RUN", "POST", true, Global}}}},
		{"get_dags", Rule{Auth: AuthRequired, DAG: DAGNone,
			Requires: []Perm{{"DAG", "GET", true, AnyDAG}}, Filter: FilterReadable}},
		{"patch_dags", Rule{Auth: AuthRequired, DAG: DAGNone,
			Requires: []Perm{{"DAG", "PUT", true, Global}}, Filter: FilterEditable}},
		{"get_connections", Rule{Auth: AuthRequired, DAG: DAGNone,
			Requires: []Perm{{"CONNECTION", "GET", false, Global}}}},
		{"get_variable", Rule{Auth: AuthRequired, DAG: DAGNone,
			Requires: []Perm{{"VARIABLE", "GET", false, Global}}}},
		{"get_config", Rule{Auth: AuthRequired, DAG: DAGNone,
			Requires: []Perm{{"CONFIGURATION", "GET", false, Global}}}},
		{"get_plugins", Rule{Auth: AuthRequired, DAG: DAGNone,
			Requires: []Perm{{"VIEW.PLUGINS", "GET", false, Global}}}},
		{"bulk_connections", Rule{Auth: AuthRequired, DAG: DAGNone,
			Requires: []Perm{
				{"CONNECTION", "POST", false, Global},
				{"CONNECTION", "PUT", false, Global},
				{"CONNECTION", "DELETE", false, Global},
			}}},
		{"get_event_logs", Rule{Auth: AuthRequired, DAG: DAGNone,
			Requires: []Perm{{"DAG.AUDIT_LOG", "GET", true, AnyDAG}}}},
		{"get_list_dag_runs_batch", Rule{Auth: AuthRequired, DAG: DAGBody,
			Requires: []Perm{{"DAG.RUN", "GET", true, AnyDAG}}, Filter: FilterReadable}},
		{"get_upstream_asset_events", Rule{Auth: AuthRequired, DAG: DAGPath,
			Requires: []Perm{{"ASSET", "GET", false, Global}, {"DAG.RUN", "GET", true, AnyDAG}}}},
		{"reparse_dag_file", Rule{Auth: AuthRequired, DAG: DAGFileToken,
			Requires: []Perm{{"DAG", "PUT", true, Global}}}},
		{"create_backfill", Rule{Auth: AuthRequired, DAG: DAGNone,
			Requires: []Perm{{"BACKFILL", "POST", false, Global}}}},
		{"get_health", Rule{Auth: AuthNone, DAG: DAGNone}},
		{"login", Rule{Auth: AuthNone, DAG: DAGNone}},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			got, ok := v2Rules[tc.id]
			if !ok {
				t.Fatalf("v2Rules[%q] missing", tc.id)
			}
			got.Source, got.Note = "", ""
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("v2Rules[%q] = %+v, want %+v", tc.id, got, tc.want)
			}
		})
	}
	for _, id := range []string{"materialize_asset", "reparse_dag_file", "test_connection", "get_config", "create_backfill", "bulk_connections"} {
		if v2Rules[id].Note == "" {
			t.Errorf("v2Rules[%q] has no Note", id)
		}
	}
}

func TestAuthImportantRules(t *testing.T) {
	tests := []struct {
		id   string
		want Rule
	}{
		{"create_token", Rule{Auth: AuthNone, DAG: DAGNone}},
		{"create_token_all_admins", Rule{Auth: AuthNone, DAG: DAGNone}},
		{"login_all_admins", Rule{Auth: AuthNone, DAG: DAGNone}},
		{"refresh", Rule{Auth: AuthAuthenticated, DAG: DAGNone}},
		{"get_roles", Rule{Auth: AuthRequired, DAG: DAGNone,
			Requires: []Perm{{"Roles", "can_read", false, Global}}}},
		{"patch_role", Rule{Auth: AuthRequired, DAG: DAGNone,
			Requires: []Perm{{"Roles", "PATCH", false, Global}}}},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			got, ok := authRules[tc.id]
			if !ok {
				t.Fatalf("authRules[%q] missing", tc.id)
			}
			got.Source, got.Note = "", ""
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("authRules[%q] = %+v, want %+v", tc.id, got, tc.want)
			}
		})
	}
}

// v2Holds reports whether a grant list holds (resource, action), with the
// pattern rules documented on Grant.
func v2Holds(grants []Grant, resource, action string) bool {
	for _, g := range grants {
		res := g.Resource == resource
		if p, ok := strings.CutSuffix(g.Resource, "*"); ok {
			res = strings.HasPrefix(resource, p)
		}
		if res && (g.Action == "*" || g.Action == action) {
			return true
		}
	}
	return false
}

// v2SimpleRole returns the simple auth manager role with the given name.
func v2SimpleRole(t *testing.T, name string) BuiltinRole {
	t.Helper()
	for _, r := range simpleRoles {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("simple role %q missing", name)
	return BuiltinRole{}
}

func TestSimpleRoles(t *testing.T) {
	var names []string
	for _, r := range simpleRoles {
		names = append(names, r.Name)
		if r.Family != Simple {
			t.Errorf("role %s: Family = %q, want %q", r.Name, r.Family, Simple)
		}
		if r.Source == "" {
			t.Errorf("role %s: no Source", r.Name)
		}
		for _, g := range r.Grants {
			ok := g.Resource == "*" || v2ResourceOK(g.Resource) ||
				slices.Contains([]string{"DAG.*", "VIEW.*", "CUSTOM_VIEW.*"}, g.Resource)
			if !ok {
				t.Errorf("role %s: grant resource %q is not an entity or entity pattern", r.Name, g.Resource)
			}
			if !slices.Contains([]string{"*", "GET", "POST", "PUT", "DELETE"}, g.Action) {
				t.Errorf("role %s: grant action %q", r.Name, g.Action)
			}
		}
	}
	if want := []string{"viewer", "user", "op", "admin"}; !reflect.DeepEqual(names, want) {
		t.Errorf("simple role names = %v, want %v", names, want)
	}

	// Expected decisions from SimpleAuthManager._is_authorized: the lowest
	// role that passes, for GET and for the other methods.
	order := map[string]int{"viewer": 0, "user": 1, "op": 2, "admin": 3}
	table := []struct {
		resource      string
		get, nonGet   string
		nonGetMethods bool
	}{
		{"DAG", "viewer", "user", true},
		{"DAG.RUN", "viewer", "user", true},
		{"DAG.TASK_INSTANCE", "viewer", "user", true},
		{"DAG.AUDIT_LOG", "viewer", "user", true},
		{"DAG.XCOM", "viewer", "user", true},
		{"CONFIGURATION", "viewer", "op", true},
		{"POOL", "viewer", "op", true},
		{"BACKFILL", "viewer", "op", true},
		{"ASSET", "viewer", "op", true},
		{"ASSET_ALIAS", "viewer", "op", true},
		{"CONNECTION", "op", "op", true},
		{"VARIABLE", "op", "op", true},
		{"VIEW.PLUGINS", "viewer", "", false},
		{"VIEW.IMPORT_ERRORS", "viewer", "", false},
		{"CUSTOM_VIEW.Roles", "viewer", "viewer", true},
	}
	for _, role := range simpleRoles {
		for _, row := range table {
			for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
				min := row.get
				if m != "GET" {
					if !row.nonGetMethods {
						continue
					}
					min = row.nonGet
				}
				want := order[role.Name] >= order[min]
				if got := v2Holds(role.Grants, row.resource, m); got != want {
					t.Errorf("role %s %s %s = %v, want %v", role.Name, m, row.resource, got, want)
				}
			}
		}
	}

	// Each role includes every grant of the roles below it.
	for i := 1; i < len(simpleRoles); i++ {
		lower, higher := simpleRoles[i-1], simpleRoles[i]
		for _, g := range lower.Grants {
			if !slices.Contains(higher.Grants, g) && !slices.Contains(higher.Grants, Grant{"*", "*"}) {
				t.Errorf("role %s lacks %s's grant %v", higher.Name, lower.Name, g)
			}
		}
	}

	cases := []struct {
		role, resource, action string
		want                   bool
	}{
		{"viewer", "CONNECTION", "GET", false},
		{"viewer", "VARIABLE", "GET", false},
		{"viewer", "DAG", "GET", true},
		{"viewer", "CONFIGURATION", "GET", true},
		{"user", "DAG.RUN", "POST", true},
		{"user", "POOL", "POST", false},
		{"op", "VARIABLE", "DELETE", true},
		{"op", "CONNECTION", "GET", true},
		{"admin", "CUSTOM_VIEW.Roles", "PATCH", true},
	}
	for _, c := range cases {
		if got := v2Holds(v2SimpleRole(t, c.role).Grants, c.resource, c.action); got != c.want {
			t.Errorf("simple %s holds (%s, %s) = %v, want %v", c.role, c.resource, c.action, got, c.want)
		}
	}
}

// TestV2RulesSimpleRoles checks the rules against the simple roles end to
// end for a few operations.
func TestV2RulesSimpleRoles(t *testing.T) {
	allowed := func(role, id string) bool {
		grants := v2SimpleRole(t, role).Grants
		for _, p := range v2Rules[id].Requires {
			if !v2Holds(grants, p.Resource, p.Action) {
				return false
			}
		}
		return true
	}
	cases := []struct {
		role, id string
		want     bool
	}{
		{"viewer", "get_dags", true},
		{"viewer", "trigger_dag_run", false},
		{"user", "trigger_dag_run", true},
		{"user", "get_connections", false},
		{"op", "bulk_variables", true},
		{"viewer", "get_event_logs", true},
		{"user", "create_backfill", false},
		{"op", "create_backfill", true},
		{"viewer", "get_upstream_asset_events", true},
		{"user", "delete_dag_asset_queued_events", false},
	}
	for _, c := range cases {
		if got := allowed(c.role, c.id); got != c.want {
			t.Errorf("simple %s may call %s = %v, want %v", c.role, c.id, got, c.want)
		}
	}
}
