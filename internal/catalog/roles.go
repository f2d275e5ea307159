package catalog

// Grant is one permission held by a built-in role, in Airflow's words.
// Resource may end in "*", matching every resource with that prefix
// ("DAG.*" is every DAG access entity; "*" is every resource); Action "*"
// matches every action. Grants of built-in roles are global: they hold for
// every DAG.
type Grant struct {
	Resource string
	Action   string
}

// RoleFamily says which auth manager defines a built-in role.
type RoleFamily string

// Role families.
const (
	// FAB: Flask-AppBuilder roles of Airflow 2.10 (and of Airflow 3 with the
	// FAB auth manager), granting FAB (action, resource) pairs.
	FAB RoleFamily = "fab"
	// Simple: the Airflow 3 simple auth manager's roles, granting auth
	// manager entities and methods.
	Simple RoleFamily = "simple"
)

// BuiltinRole is one of Airflow's predefined roles with exactly Airflow's
// permission set.
type BuiltinRole struct {
	Name   string
	Family RoleFamily
	// Grants is the complete permission set, inherited grants included.
	Grants []Grant
	// Source names the Airflow source the set was read from.
	Source string
}

// BuiltinRoles returns Airflow's predefined roles of a family, in Airflow's
// order (Viewer, User, Op, Admin). The roles and their grants are shared:
// callers MUST NOT modify them.
func BuiltinRoles(f RoleFamily) []BuiltinRole {
	switch f {
	case FAB:
		return fabRoles
	case Simple:
		return simpleRoles
	}
	return nil
}
