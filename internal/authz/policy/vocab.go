package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Dialect says in which of Airflow's two permission vocabularies a
// permission is written.
type Dialect uint8

// Dialects.
const (
	// FAB: a Flask-AppBuilder resource ("DAGs", "DAG Runs", "Connections")
	// and action (can_read, can_create, can_edit, can_delete, menu_access),
	// as Airflow 2 and Airflow 3's FAB auth manager check them.
	FAB Dialect = iota + 1
	// Entity: an Airflow 3 auth manager entity ("DAG", "DAG.RUN",
	// "CONNECTION", "VIEW.PLUGINS") and HTTP method (GET, POST, PUT,
	// DELETE), as Airflow 3's auth manager interface checks them.
	Entity
)

// String returns "fab" or "entity".
func (d Dialect) String() string {
	switch d {
	case FAB:
		return "fab"
	case Entity:
		return "entity"
	}
	return "unknown"
}

// FABResources are the FAB resource names of airflow/security/permissions.py
// (Airflow 2.10) and of the Airflow 3 FAB provider's permissions.py (which
// adds Assets, Asset Aliases, Backfills, DAG Versions and HITL Detail), without
// the per-DAG prefixes "DAG:" and "DAG Run:" (AIRFLOW.md §1, §2). Sorted;
// callers MUST NOT modify it.
var FABResources = []string{
	"Admin", "Asset Aliases", "Assets", "Audit Logs", "Backfills", "Browse",
	"Cluster Activity", "Configurations", "Connections", "DAG Code",
	"DAG Dependencies", "DAG Runs", "DAG Versions", "DAG Warnings", "DAGs",
	"Datasets", "Docs", "Documentation", "HITL Detail", "ImportError", "Jobs",
	"My Password", "My Profile", "Passwords", "Permission Views", "Permissions",
	"Plugins", "Pools", "Providers", "Roles", "SLA Misses", "Task Instances",
	"Task Logs", "Task Reschedules", "Triggers", "User Stats Chart", "Users",
	"Variables", "View Menus", "Website", "XComs",
}

// FABActions are the FAB actions Airflow's checks use (AIRFLOW.md §1).
var FABActions = []string{"can_create", "can_read", "can_edit", "can_delete", "menu_access"}

// Methods are Airflow 3's ResourceMethod values (AIRFLOW.md §3).
var Methods = []string{"GET", "POST", "PUT", "DELETE"}

// DAGAccessEntities are Airflow 3's DagAccessEntity values; "DAG.<entity>"
// names one in a permission (AIRFLOW.md §3).
var DAGAccessEntities = []string{
	"AUDIT_LOG", "CODE", "DEPENDENCIES", "HITL_DETAIL", "RUN", "TASK",
	"TASK_INSTANCE", "TASK_LOGS", "VERSION", "WARNING", "XCOM",
}

// AccessViews are Airflow 3's AccessView values; "VIEW.<view>" names one
// (AIRFLOW.md §3).
var AccessViews = []string{
	"CLUSTER_ACTIVITY", "DOCS", "IMPORT_ERRORS", "JOBS", "PLUGINS", "PROVIDERS", "TRIGGERS", "WEBSITE",
}

// plainEntities are the Airflow 3 entities without a sub-entity.
var plainEntities = []string{
	"DAG", "CONNECTION", "VARIABLE", "POOL", "ASSET", "ASSET_ALIAS", "BACKFILL", "CONFIGURATION",
}

// entityWildcards are the resource patterns allowed in the entity dialect
// besides "*".
var entityWildcards = []string{"DAG.*", "VIEW.*", "CUSTOM_VIEW.*"}

// IsFABResource reports whether r is a FAB resource name.
func IsFABResource(r string) bool {
	_, ok := slices.BinarySearch(FABResources, r)
	return ok
}

// IsFABAction reports whether a is a FAB action.
func IsFABAction(a string) bool { return slices.Contains(FABActions, a) }

// IsMethod reports whether m is an Airflow 3 resource method.
func IsMethod(m string) bool { return slices.Contains(Methods, m) }

// IsEntity reports whether r names one Airflow 3 entity: DAG, DAG.<access
// entity>, CONNECTION, VARIABLE, POOL, ASSET, ASSET_ALIAS, BACKFILL,
// CONFIGURATION, VIEW.<access view> or CUSTOM_VIEW.<FAB resource>.
func IsEntity(r string) bool {
	if slices.Contains(plainEntities, r) {
		return true
	}
	if e, ok := strings.CutPrefix(r, "DAG."); ok {
		return slices.Contains(DAGAccessEntities, e)
	}
	if v, ok := strings.CutPrefix(r, "VIEW."); ok {
		return slices.Contains(AccessViews, v)
	}
	if v, ok := strings.CutPrefix(r, "CUSTOM_VIEW."); ok {
		return v != ""
	}
	return false
}

// IsDAGScoped reports whether DAG selectors narrow a permission on resource
// r: the FAB resources that have per-DAG variants ("DAGs" with "DAG:<id>",
// "DAG Runs" with "DAG Run:<id>") and the entities DAG and DAG.<entity>,
// which Airflow 3 checks with the DAG's details. Every other resource is
// checked globally by Airflow, so selectors do not narrow it.
func IsDAGScoped(d Dialect, r string) bool {
	if d == FAB {
		return r == "DAGs" || r == "DAG Runs"
	}
	return r == "DAG" || strings.HasPrefix(r, "DAG.")
}

// Permission is one (resource, action) pair in one dialect. In roles read
// from a policy file Resource may be "*" (every resource of the dialect) or,
// in the entity dialect, "DAG.*", "VIEW.*" or "CUSTOM_VIEW.*"; Action may be
// "*".
type Permission struct {
	Dialect  Dialect
	Resource string
	Action   string
}

// String reads "fab DAGs can_read".
func (p Permission) String() string {
	return p.Dialect.String() + " " + p.Resource + " " + p.Action
}

// Covers reports whether p grants action on resource, both in p's dialect.
// A FAB "*" action covers the FAB actions only (Airflow's Admin holds every
// permission in its database, which has no others); an entity "*" action
// covers any method (the simple auth manager's admin is always allowed).
func (p Permission) Covers(resource, action string) bool {
	switch {
	case p.Action == action:
	case p.Action != "*":
		return false
	case p.Dialect == FAB && !IsFABAction(action):
		return false
	}
	switch {
	case p.Resource == resource, p.Resource == "*":
		return true
	case strings.HasSuffix(p.Resource, ".*"):
		prefix := p.Resource[:len(p.Resource)-1]
		return len(resource) > len(prefix) && strings.HasPrefix(resource, prefix)
	}
	return false
}

// IsWildcard reports whether the permission's resource or action is a
// wildcard.
func (p Permission) IsWildcard() bool {
	return p.Action == "*" || p.Resource == "*" || strings.HasSuffix(p.Resource, ".*")
}

// AdminLevel reports whether the permission reaches what only Airflow's
// administrators hold: users, roles and permissions, writing connections or
// variables, or every resource.
func (p Permission) AdminLevel() bool {
	write := func(a string) bool {
		if p.Dialect == FAB {
			return a == "*" || a == "can_create" || a == "can_edit" || a == "can_delete"
		}
		return a == "*" || a == "POST" || a == "PUT" || a == "DELETE"
	}
	switch p.Resource {
	case "*", "CUSTOM_VIEW.*":
		return true
	case "Users", "Roles", "Permissions", "Permission Views", "View Menus", "Passwords",
		"CUSTOM_VIEW.Users", "CUSTOM_VIEW.Roles", "CUSTOM_VIEW.Permissions":
		return true
	case "Connections", "Variables", "CONNECTION", "VARIABLE":
		return write(p.Action)
	}
	return false
}

// resourceDialect finds the dialect of a resource as written in a policy
// file. "*" has none: the action decides.
func resourceDialect(r string) (Dialect, error) {
	switch {
	case r == "*":
		return 0, nil
	case IsFABResource(r):
		return FAB, nil
	case IsEntity(r), slices.Contains(entityWildcards, r):
		return Entity, nil
	case strings.HasPrefix(r, "DAG:") || strings.HasPrefix(r, "DAG Run:"):
		return 0, fmt.Errorf("%w: use the role's dags selector with DAGs or DAG Runs", ErrPerDAGResource)
	}
	all := append(append(slices.Clone(FABResources), plainEntities...), entityWildcards...)
	for _, e := range DAGAccessEntities {
		all = append(all, "DAG."+e)
	}
	for _, v := range AccessViews {
		all = append(all, "VIEW."+v)
	}
	return 0, withSuggestion(fmt.Errorf("%w (a FAB resource such as \"DAGs\" or an Airflow 3 entity such as \"DAG.RUN\")", ErrUnknownResource), r, all)
}

// checkAction validates an action for a resource of dialect d (0 for "*").
// It returns the dialects the (resource, action) pair is granted in.
func checkAction(d Dialect, a string) ([]Dialect, error) {
	switch {
	case a == "*" && d == 0:
		return []Dialect{FAB, Entity}, nil
	case a == "*":
		return []Dialect{d}, nil
	case d == 0 && !IsFABAction(a) && !IsMethod(a):
		return nil, withSuggestion(fmt.Errorf("%w or method (want a FAB action such as can_read, a method such as GET, or *)", ErrFABAction), a, append(slices.Clone(FABActions), Methods...))
	case d == FAB || (d == 0 && IsFABAction(a)):
		if !IsFABAction(a) {
			return nil, withSuggestion(fmt.Errorf("%w (want can_create, can_read, can_edit, can_delete, menu_access or *)", ErrFABAction), a, FABActions)
		}
		return []Dialect{FAB}, nil
	default:
		if !IsMethod(a) {
			if IsFABAction(a) {
				return nil, fmt.Errorf("%w: Airflow 3 entities take GET, POST, PUT, DELETE or *", ErrMethod)
			}
			return nil, withSuggestion(fmt.Errorf("%w (want GET, POST, PUT, DELETE or *)", ErrMethod), a, Methods)
		}
		return []Dialect{Entity}, nil
	}
}

// withSuggestion adds "did you mean" to err when a candidate is close to s.
func withSuggestion(err error, s string, candidates []string) error {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return err
	}
	return fmt.Errorf("%w; did you mean %q?", err, best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
