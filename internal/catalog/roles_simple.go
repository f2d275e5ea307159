package catalog

// simpleRolesSource is where the simple auth manager's permission table
// lives: SimpleAuthManager._is_authorized compares the role's order
// (viewer 0 < user 1 < op 2 < admin 3) with allow_get_role for GET and
// allow_role for every other method.
const simpleRolesSource = "airflow-core/src/airflow/api_fastapi/auth/managers/simple/simple_auth_manager.py: SimpleAuthManagerRole, is_authorized_*, _is_authorized"

// Grants of the simple auth manager's checks, by the lowest role that holds
// them. Each role's list below is the union of its own and the lower roles'.
//
//	check          GET      other methods
//	dag (+entity)  viewer   user
//	configuration  viewer   op
//	pool           viewer   op
//	backfill       viewer   op
//	asset          viewer   op
//	asset_alias    viewer   op
//	connection     op       op
//	variable       op       op
//	view           viewer   (views are GET only)
//	custom_view    viewer   viewer (the method is ignored)
//	team           everyone (not an entity in these tables)
//
// A user with no role is denied everything; admin is allowed everything.
var (
	simpleViewerGrants = []Grant{
		{"DAG", "GET"},
		{"DAG.*", "GET"},
		{"CONFIGURATION", "GET"},
		{"POOL", "GET"},
		{"BACKFILL", "GET"},
		{"ASSET", "GET"},
		{"ASSET_ALIAS", "GET"},
		{"VIEW.*", "GET"},
		{"CUSTOM_VIEW.*", "*"},
	}
	simpleUserGrants = []Grant{
		{"DAG", "POST"},
		{"DAG", "PUT"},
		{"DAG", "DELETE"},
		{"DAG.*", "POST"},
		{"DAG.*", "PUT"},
		{"DAG.*", "DELETE"},
	}
	simpleOpGrants = []Grant{
		{"CONFIGURATION", "POST"},
		{"CONFIGURATION", "PUT"},
		{"CONFIGURATION", "DELETE"},
		{"POOL", "POST"},
		{"POOL", "PUT"},
		{"POOL", "DELETE"},
		{"BACKFILL", "POST"},
		{"BACKFILL", "PUT"},
		{"BACKFILL", "DELETE"},
		{"ASSET", "POST"},
		{"ASSET", "PUT"},
		{"ASSET", "DELETE"},
		{"ASSET_ALIAS", "POST"},
		{"ASSET_ALIAS", "PUT"},
		{"ASSET_ALIAS", "DELETE"},
		{"CONNECTION", "GET"},
		{"CONNECTION", "POST"},
		{"CONNECTION", "PUT"},
		{"CONNECTION", "DELETE"},
		{"VARIABLE", "GET"},
		{"VARIABLE", "POST"},
		{"VARIABLE", "PUT"},
		{"VARIABLE", "DELETE"},
	}
)

// simpleGrants joins grant lists into a new slice.
func simpleGrants(lists ...[]Grant) []Grant {
	var out []Grant
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// simpleRoles are the Airflow 3 simple auth manager's roles viewer, user, op
// and admin.
var simpleRoles = []BuiltinRole{
	{
		Name:   "viewer",
		Family: Simple,
		Grants: simpleGrants(simpleViewerGrants),
		Source: simpleRolesSource,
	},
	{
		Name:   "user",
		Family: Simple,
		Grants: simpleGrants(simpleViewerGrants, simpleUserGrants),
		Source: simpleRolesSource,
	},
	{
		Name:   "op",
		Family: Simple,
		Grants: simpleGrants(simpleViewerGrants, simpleUserGrants, simpleOpGrants),
		Source: simpleRolesSource,
	},
	{
		Name:   "admin",
		Family: Simple,
		Grants: []Grant{{"*", "*"}},
		Source: simpleRolesSource,
	},
}
