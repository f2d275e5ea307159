package authz

import (
	"fmt"

	"github.com/airgate/airgate/internal/authz/policy"
	"github.com/airgate/airgate/internal/catalog"
)

// fabAirflow3Grants are what the Airflow 3 FAB provider's roles hold beyond
// the Airflow 2.10 lists in the catalogue (AIRFLOW.md §2, "A3 FAB provider",
// providers/fab/src/airflow/providers/fab/auth_manager/security_manager/override.py).
// They name resources only Airflow 3 checks, so adding them changes no
// Airflow 2 decision, and lets the built-in FAB roles answer Airflow 3
// requests (assets, backfills, DAG versions, HITL details) as they do on
// Airflow 3. Each role also holds the lists of the roles before it.
var fabAirflow3Grants = map[string][]catalog.Grant{
	"Viewer": {
		{Resource: "DAG Versions", Action: "can_read"},
		{Resource: "Assets", Action: "can_read"},
		{Resource: "Asset Aliases", Action: "can_read"},
		{Resource: "Backfills", Action: "can_read"},
		{Resource: "HITL Detail", Action: "can_read"},
		{Resource: "Assets", Action: "menu_access"},
	},
	"User": {
		{Resource: "HITL Detail", Action: "can_edit"},
		{Resource: "Assets", Action: "can_create"},
	},
	"Op": {
		{Resource: "HITL Detail", Action: "menu_access"},
		{Resource: "Assets", Action: "can_delete"},
		{Resource: "Backfills", Action: "can_create"},
		{Resource: "Backfills", Action: "can_edit"},
		{Resource: "Backfills", Action: "can_delete"},
	},
}

// Builtins returns Airflow's built-in roles as the policy package takes
// them: the FAB roles Viewer, User, Op and Admin (Airflow 2.10's lists plus
// [fabAirflow3Grants]) and the simple auth manager's viewer, user, op and
// admin. It returns a new slice on each call.
func Builtins() []policy.BuiltinRole {
	var out []policy.BuiltinRole
	var extra []catalog.Grant
	for _, r := range catalog.BuiltinRoles(catalog.FAB) {
		extra = append(extra, fabAirflow3Grants[r.Name]...)
		out = append(out, builtin(r, policy.FAB, extra))
	}
	for _, r := range catalog.BuiltinRoles(catalog.Simple) {
		out = append(out, builtin(r, policy.Entity, nil))
	}
	return out
}

func builtin(r catalog.BuiltinRole, d policy.Dialect, extra []catalog.Grant) policy.BuiltinRole {
	b := policy.BuiltinRole{Name: r.Name, Source: r.Source}
	seen := map[catalog.Grant]bool{}
	for _, list := range [][]catalog.Grant{r.Grants, extra} {
		for _, g := range list {
			if !seen[g] {
				seen[g] = true
				b.Grants = append(b.Grants, policy.Permission{Dialect: d, Resource: g.Resource, Action: g.Action})
			}
		}
	}
	return b
}

// ParsePolicy compiles a policy document with Airflow's built-in roles; see
// [policy.Parse].
func ParsePolicy(data []byte) (*policy.Policy, error) {
	return policy.Parse(data, policy.Options{Builtins: Builtins()})
}

// LoadPolicy reads and compiles the policy file at path with Airflow's
// built-in roles; see [policy.Load].
func LoadPolicy(path string) (*policy.Policy, error) {
	p, err := policy.Load(path, policy.Options{Builtins: Builtins()})
	if err != nil {
		return nil, fmt.Errorf("authz: %w", err)
	}
	return p, nil
}
