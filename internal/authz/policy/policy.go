package policy

import "strings"

// Policy is a compiled policy document. It is immutable and safe for
// concurrent use; the slices and values its methods return are shared and
// MUST NOT be modified.
type Policy struct {
	roles      []*Role
	byName     map[string]*Role
	mappings   []*Mapping
	conditions []*Condition
	warnings   []Warning
}

// Roles returns every role: the built-in roles in the order given in
// [Options], then the policy's own roles sorted by name.
func (p *Policy) Roles() []*Role { return p.roles }

// Role returns the role with this exact name.
func (p *Policy) Role(name string) (*Role, bool) {
	r, ok := p.byName[name]
	return r, ok
}

// Mappings returns the mappings in file order.
func (p *Policy) Mappings() []*Mapping { return p.mappings }

// Conditions returns every condition; Conditions()[i].Index == i.
func (p *Policy) Conditions() []*Condition { return p.conditions }

// Warnings returns what `airgate config check` should show: grants that
// reach admin-level permissions through nested group mappings, wildcards,
// selectors that narrow nothing, and roles nobody can hold. Warnings never
// stop a policy from loading.
func (p *Policy) Warnings() []Warning { return p.warnings }

// Role is a named set of grants.
type Role struct {
	// Name is the role's name; built-in roles keep Airflow's spelling.
	Name string
	// Field is where the role was declared ("roles.<name>"), or
	// "builtin.<name>" for a built-in role.
	Field       string
	Description string
	// Builtin is set for Airflow's predefined roles.
	Builtin bool
	// Extends lists the roles this role includes, as written.
	Extends []string
	// Permissions are the role's own permissions, one per (resource,
	// action) pair, in file order.
	Permissions []Permission
	// Selector narrows the role's per-DAG permissions; nil selects every
	// DAG.
	Selector *Selector
	// When is the role's condition; nil means none.
	When *Condition
	// Grants are the role's own permissions followed by those of the roles
	// it extends, resolved transitively (see the package doc).
	Grants []Grant
}

// Grant is one permission a role holds, with where it came from and what
// narrows it.
type Grant struct {
	Permission
	// Field is where the permission was declared, e.g.
	// "roles.team-a.permissions[0]" or "builtin.Viewer".
	Field string
	// Path is the chain of roles from the holding role to the role that
	// declared the permission: ["team-a", "Viewer"].
	Path []string
	// Scopes are the selectors on Path; all must select a DAG for the grant
	// to hold for it. Empty means every DAG.
	Scopes []*Selector
	// Conditions are the conditions on Path; all must hold.
	Conditions []*Condition
}

// AllDAGs reports whether the grant's scopes select every DAG.
func (g *Grant) AllDAGs() bool {
	for _, s := range g.Scopes {
		if !s.All() {
			return false
		}
	}
	return true
}

// PathString reads "team-a > Viewer".
func (g *Grant) PathString() string { return strings.Join(g.Path, " > ") }

// Mapping gives the roles to the members of an Entra group or the holders of
// an app role. Exactly one of Group and AppRole is set.
type Mapping struct {
	// Field is where the mapping was declared: "mappings[<i>]".
	Field string
	// Name is an optional label for people.
	Name string
	// Group is an Entra group object id, lower case.
	Group string
	// AppRole is an app role value as it appears in the roles claim.
	AppRole string
	// Roles are the names of the roles granted.
	Roles []string
	// Nested: transitive group membership counts too. False means direct
	// membership only. Always false for app roles.
	Nested bool
}

// Label reads `mappings[0] (airflow-viewers)` or `mappings[0]`.
func (m *Mapping) Label() string {
	if m.Name == "" {
		return m.Field
	}
	return m.Field + " (" + m.Name + ")"
}

// Subject reads `group 9f0c...` or `app role Airflow.Operator`.
func (m *Mapping) Subject() string {
	if m.AppRole != "" {
		return "app role " + m.AppRole
	}
	if m.Nested {
		return "group " + m.Group + " (nested)"
	}
	return "group " + m.Group
}

// BuiltinRole describes one of Airflow's predefined roles for [Options].
type BuiltinRole struct {
	Name string
	// Grants is the complete permission set; wildcards as in [Permission].
	Grants []Permission
	// Source names where the set was read, for people.
	Source string
}

// Options are what Parse needs from its caller.
type Options struct {
	// Builtins are Airflow's predefined roles (FAB Viewer, User, Op,
	// Admin; simple viewer, user, op, admin). Policy roles may extend and
	// map them but MUST NOT redefine them. Package authz supplies them.
	Builtins []BuiltinRole
}
