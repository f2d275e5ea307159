package authz

import (
	"reflect"
	"slices"
	"testing"

	"github.com/airgate/airgate/internal/authz/policy"
	"github.com/airgate/airgate/internal/catalog"
)

func TestTranslationTablesWellFormed(t *testing.T) {
	for e, conj := range fabResourcesForEntity {
		if !policy.IsEntity(e) {
			t.Errorf("fabResourcesForEntity: %q is not an Airflow 3 entity", e)
		}
		for _, alts := range conj {
			for _, r := range alts {
				if !policy.IsFABResource(r) {
					t.Errorf("fabResourcesForEntity[%s]: %q is not a FAB resource", e, r)
				}
			}
		}
	}
	for r, e := range entityForFABResource {
		if !policy.IsFABResource(r) {
			t.Errorf("entityForFABResource: %q is not a FAB resource", r)
		}
		// Each FAB resource maps to an entity Airflow 3's FAB auth manager
		// checks with that resource: the tables are inverses.
		found := false
		for _, alts := range fabResourcesForEntity[e] {
			found = found || slices.Contains(alts, r)
		}
		if !found {
			t.Errorf("entityForFABResource[%s] = %s, but %s is not checked with %s", r, e, e, r)
		}
	}
	for m, a := range methodForFABAction {
		if fabActionForMethod[a] != m && fabActionForMethod[m] != a {
			t.Errorf("methodForFABAction[%s] = %s does not invert fabActionForMethod", m, a)
		}
	}
	for _, m := range policy.Methods {
		if methodForFABAction[fabActionForMethod[m]] != m {
			t.Errorf("method %s does not round-trip through the FAB action map", m)
		}
	}
}

// TestTranslationCoversCatalog checks that every permission the catalogue
// requires can be checked in the other dialect.
func TestTranslationCoversCatalog(t *testing.T) {
	starOnly := []string{"Users", "Roles", "Permissions"} // no entity: only a "*" grant holds them
	for _, op := range catalog.Default().Operations() {
		for _, p := range op.Requires {
			if op.API == catalog.V2 {
				if _, _, ok := fabFor(p.Resource, p.Action); !ok {
					t.Errorf("%s %s: no FAB translation for %s %s", op.API, op.ID, p.Resource, p.Action)
				}
				continue
			}
			if _, ok := entityForFABResource[p.Resource]; !ok && !slices.Contains(starOnly, p.Resource) {
				t.Errorf("%s %s: no entity for FAB resource %s", op.API, op.ID, p.Resource)
			}
		}
	}
}

func TestFABFor(t *testing.T) {
	tests := []struct {
		entity, method string
		resources      [][]string
		action         string
	}{
		{"DAG", "GET", [][]string{{"DAGs"}}, "can_read"},
		{"DAG.RUN", "POST", [][]string{{"DAG Runs"}}, "can_create"},
		{"DAG.TASK_INSTANCE", "PUT", [][]string{{"DAG Runs"}, {"Task Instances"}}, "can_edit"},
		{"DAG.TASK", "GET", [][]string{{"Task Instances"}}, "can_read"},
		{"CONNECTION", "DELETE", [][]string{{"Connections"}}, "can_delete"},
		{"ASSET", "GET", [][]string{{"Assets", "Datasets"}}, "can_read"},
		{"BACKFILL", "POST", [][]string{{"Backfills", "DAG Runs"}}, "can_create"},
		{"VIEW.DOCS", "GET", [][]string{{"Docs"}}, "menu_access"},
		{"VIEW.IMPORT_ERRORS", "GET", [][]string{{"ImportError"}}, "can_read"},
		{"CUSTOM_VIEW.Roles", "PATCH", [][]string{{"Roles"}}, "PATCH"},
	}
	for _, tc := range tests {
		res, action, ok := fabFor(tc.entity, tc.method)
		if !ok || !reflect.DeepEqual(res, tc.resources) || action != tc.action {
			t.Errorf("fabFor(%s, %s) = %v, %s, %v; want %v, %s", tc.entity, tc.method, res, action, ok, tc.resources, tc.action)
		}
	}
	if _, _, ok := fabFor("TEAM", "GET"); ok {
		t.Error("fabFor(TEAM) ok, want unknown")
	}
}

func TestEntityFor(t *testing.T) {
	tests := []struct{ resource, action, entity, method string }{
		{"DAGs", "can_edit", "DAG", "PUT"},
		{"DAG Runs", "can_create", "DAG.RUN", "POST"},
		{"Datasets", "can_delete", "ASSET", "DELETE"},
		{"ImportError", "can_read", "VIEW.IMPORT_ERRORS", "GET"},
		{"Users", "can_read", "*", "GET"},
		{"DAGs", "menu_access", "DAG", "*"},
	}
	for _, tc := range tests {
		if e, m := entityFor(tc.resource, tc.action); e != tc.entity || m != tc.method {
			t.Errorf("entityFor(%s, %s) = %s, %s; want %s, %s", tc.resource, tc.action, e, m, tc.entity, tc.method)
		}
	}
}

func TestBuiltins(t *testing.T) {
	var names []string
	byName := map[string]policy.BuiltinRole{}
	for _, b := range Builtins() {
		names = append(names, b.Name)
		byName[b.Name] = b
	}
	if want := []string{"Viewer", "User", "Op", "Admin", "viewer", "user", "op", "admin"}; !slices.Equal(names, want) {
		t.Fatalf("Builtins() = %v, want %v", names, want)
	}
	has := func(role string, p policy.Permission) bool { return slices.Contains(byName[role].Grants, p) }
	checks := []struct {
		role string
		p    policy.Permission
		want bool
	}{
		{"Viewer", policy.Permission{Dialect: policy.FAB, Resource: "DAGs", Action: "can_read"}, true},
		{"Viewer", policy.Permission{Dialect: policy.FAB, Resource: "Assets", Action: "can_read"}, true}, // Airflow 3 addition
		{"Viewer", policy.Permission{Dialect: policy.FAB, Resource: "Backfills", Action: "can_create"}, false},
		{"Op", policy.Permission{Dialect: policy.FAB, Resource: "Backfills", Action: "can_create"}, true},
		{"Op", policy.Permission{Dialect: policy.FAB, Resource: "DAG Versions", Action: "can_read"}, true}, // inherited addition
		{"Admin", policy.Permission{Dialect: policy.FAB, Resource: "*", Action: "*"}, true},
		{"admin", policy.Permission{Dialect: policy.Entity, Resource: "*", Action: "*"}, true},
		{"viewer", policy.Permission{Dialect: policy.Entity, Resource: "DAG.*", Action: "GET"}, true},
	}
	for _, c := range checks {
		if got := has(c.role, c.p); got != c.want {
			t.Errorf("%s holds %v = %v, want %v", c.role, c.p, got, c.want)
		}
	}
	// The catalogue's lists come through unchanged.
	if n := len(byName["Viewer"].Grants); n != 30+len(fabAirflow3Grants["Viewer"]) {
		t.Errorf("Viewer has %d grants, want the catalogue's 30 plus the Airflow 3 additions", n)
	}
}
