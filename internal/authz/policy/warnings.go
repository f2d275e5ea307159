package policy

import (
	"fmt"
	"slices"
	"strings"
)

// WarningCode classifies a [Warning].
type WarningCode string

// Warning codes.
const (
	// WarnNestedAdmin: a nested group mapping grants admin-level
	// permissions, so anyone placed in any group inside that group holds
	// them.
	WarnNestedAdmin WarningCode = "nested-admin"
	// WarnWildcardResource: a permission's resource is "*" or a prefix
	// pattern such as "DAG.*".
	WarnWildcardResource WarningCode = "wildcard-resource"
	// WarnWildcardAction: a permission's action is "*".
	WarnWildcardAction WarningCode = "wildcard-action"
	// WarnWildcardDAGs: a role's dags selector holds "*", so it selects
	// every DAG.
	WarnWildcardDAGs WarningCode = "wildcard-dags"
	// WarnSelectorIgnored: a role with a DAG selector grants a resource
	// Airflow checks globally (Connections, POOL, ...), which the selector
	// does not narrow.
	WarnSelectorIgnored WarningCode = "selector-ignored"
	// WarnUnusedRole: no mapping gives the role and no role extends it.
	WarnUnusedRole WarningCode = "unused-role"
)

// Warning is a finding of `airgate config check` that does not stop the
// policy from loading.
type Warning struct {
	// Field is the policy path the warning is about.
	Field   string
	Code    WarningCode
	Message string
}

// String reads "field: message [code]".
func (w Warning) String() string { return w.Field + ": " + w.Message + " [" + string(w.Code) + "]" }

// dagRelated are the FAB resources and entities Airflow checks together
// with a DAG-level check (they map from DAG access entities), so a role's
// selector narrows them in effect even though Airflow checks them globally.
var dagRelated = map[string]bool{
	"Task Instances": true, "Task Logs": true, "XComs": true, "DAG Code": true,
	"DAG Dependencies": true, "DAG Warnings": true, "Audit Logs": true, "SLA Misses": true,
	"Task Reschedules": true, "DAG Versions": true, "HITL Detail": true,
}

func warnings(p *Policy) []Warning {
	var out []Warning
	used := map[string]bool{}
	for _, m := range p.mappings {
		for _, r := range m.Roles {
			used[r] = true
		}
	}
	for _, r := range p.roles {
		for _, e := range r.Extends {
			used[e] = true
		}
	}
	for _, r := range p.roles {
		if r.Builtin {
			continue
		}
		if !used[r.Name] {
			out = append(out, Warning{r.Field, WarnUnusedRole, "no mapping gives this role and no role extends it"})
		}
		admin := slices.ContainsFunc(r.Grants, func(g Grant) bool { return g.AdminLevel() })
		if slices.Contains(r.Selector.dagsOrNil(), "*") {
			msg := `dags "*" selects every DAG, as no selector would`
			if admin {
				msg += "; the role also holds admin-level permissions"
			}
			out = append(out, Warning{r.Field + ".dags", WarnWildcardDAGs, msg})
		}
		seen := map[string]bool{}
		for _, g := range r.Grants {
			if len(g.Path) != 1 {
				continue // inherited: warned about where declared
			}
			key := g.Field + " " + g.Resource + " " + g.Action
			if seen[key] {
				continue
			}
			seen[key] = true
			if g.Resource == "*" || strings.HasSuffix(g.Resource, ".*") {
				out = append(out, Warning{g.Field, WarnWildcardResource, wildcardMessage(g.Permission, "resource")})
			} else if g.Action == "*" {
				out = append(out, Warning{g.Field, WarnWildcardAction, wildcardMessage(g.Permission, "action")})
			}
			if !r.Selector.All() && !g.IsWildcard() && !IsDAGScoped(g.Dialect, g.Resource) &&
				!dagRelated[g.Resource] && !strings.HasPrefix(g.Resource, "DAG.") {
				out = append(out, Warning{g.Field, WarnSelectorIgnored,
					fmt.Sprintf("Airflow checks %s globally: the role's dags and dag_tags do not narrow it", g.Resource)})
			}
		}
	}
	for _, m := range p.mappings {
		if !m.Nested {
			continue
		}
		for _, name := range m.Roles {
			r := p.byName[name]
			var paths []string
			for _, g := range r.Grants {
				if g.AdminLevel() && len(paths) < 3 {
					paths = append(paths, g.PathString()+": "+g.Permission.String())
				}
			}
			if len(paths) > 0 {
				who := m.Name
				if who == "" {
					who = m.Group
				}
				out = append(out, Warning{m.Field, WarnNestedAdmin, fmt.Sprintf(
					"nested mapping of group %s gives role %s, which reaches admin-level permissions (%s): members of any group inside it hold them",
					who, name, strings.Join(paths, "; "))})
			}
		}
	}
	return out
}

func wildcardMessage(p Permission, what string) string {
	msg := fmt.Sprintf("wildcard %s in %s grants every matching permission", what, p)
	if p.AdminLevel() {
		msg += ", including admin-level ones"
	}
	return msg
}

// dagsOrNil returns the selector's DAG entries; nil for a nil selector.
func (s *Selector) dagsOrNil() []string {
	if s == nil {
		return nil
	}
	return s.DAGs
}
