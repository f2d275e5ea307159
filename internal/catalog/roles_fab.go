package catalog

// fabRoleSource is where the FAB role lists were read.
const fabRoleSource = "airflow/providers/fab/auth_manager/security_manager/override.py: " +
	"VIEWER_PERMISSIONS, USER_PERMISSIONS, OP_PERMISSIONS, ADMIN_PERMISSIONS, ROLE_CONFIGS " +
	"and update_admin_permission (FAB provider of the Airflow 2.10 line)"

// fabRoles are Airflow 2.10's FAB roles Viewer, User, Op and Admin. Each role
// holds the lists of the roles below it (ROLE_CONFIGS): Viewer = V,
// User = V+U, Op = V+U+O, Admin = V+U+O+A. The Public role has no
// permissions and is left out.
var fabRoles = []BuiltinRole{
	{
		Name:   "Viewer",
		Family: FAB,
		Grants: fabJoinGrants(fabViewerGrants),
		Source: fabRoleSource,
	},
	{
		Name:   "User",
		Family: FAB,
		Grants: fabJoinGrants(fabViewerGrants, fabUserGrants),
		Source: fabRoleSource,
	},
	{
		Name:   "Op",
		Family: FAB,
		Grants: fabJoinGrants(fabViewerGrants, fabUserGrants, fabOpGrants),
		Source: fabRoleSource,
	},
	{
		Name:   "Admin",
		Family: FAB,
		// update_admin_permission() then gives Admin every other permission
		// in the database except those on per-DAG resources ("DAG:<id>",
		// "DAG Run:<id>"): Users, Permissions, Roles can_create, and any
		// resource a plugin registers. Admin's global DAGs and DAG Runs
		// grants already cover every DAG.
		Grants: fabJoinGrants(fabViewerGrants, fabUserGrants, fabOpGrants, fabAdminGrants,
			[]Grant{{"*", "*"}}),
		Source: fabRoleSource,
	},
}

// fabViewerGrants is VIEWER_PERMISSIONS.
var fabViewerGrants = []Grant{
	{"DAGs", "can_read"},
	{"DAG Dependencies", "can_read"},
	{"DAG Code", "can_read"},
	{"DAG Runs", "can_read"},
	{"Datasets", "can_read"},
	{"Cluster Activity", "can_read"},
	{"Pools", "can_read"},
	{"ImportError", "can_read"},
	{"DAG Warnings", "can_read"},
	{"Jobs", "can_read"},
	{"My Password", "can_read"},
	{"My Password", "can_edit"},
	{"My Profile", "can_read"},
	{"My Profile", "can_edit"},
	{"SLA Misses", "can_read"},
	{"Task Instances", "can_read"},
	{"Task Logs", "can_read"},
	{"XComs", "can_read"},
	{"Website", "can_read"},
	{"Browse", "menu_access"},
	{"DAGs", "menu_access"},
	{"DAG Dependencies", "menu_access"},
	{"DAG Runs", "menu_access"},
	{"Datasets", "menu_access"},
	{"Cluster Activity", "menu_access"},
	{"Documentation", "menu_access"},
	{"Docs", "menu_access"},
	{"Jobs", "menu_access"},
	{"SLA Misses", "menu_access"},
	{"Task Instances", "menu_access"},
}

// fabUserGrants is USER_PERMISSIONS.
var fabUserGrants = []Grant{
	{"DAGs", "can_edit"},
	{"DAGs", "can_delete"},
	{"Task Instances", "can_create"},
	{"Task Instances", "can_edit"},
	{"Task Instances", "can_delete"},
	{"DAG Runs", "can_create"},
	{"DAG Runs", "can_edit"},
	{"DAG Runs", "can_delete"},
	{"Datasets", "can_create"},
}

// fabOpGrants is OP_PERMISSIONS.
var fabOpGrants = []Grant{
	{"Configurations", "can_read"},
	{"Admin", "menu_access"},
	{"Configurations", "menu_access"},
	{"Connections", "menu_access"},
	{"Pools", "menu_access"},
	{"Plugins", "menu_access"},
	{"Variables", "menu_access"},
	{"Providers", "menu_access"},
	{"XComs", "menu_access"},
	{"Connections", "can_create"},
	{"Connections", "can_read"},
	{"Connections", "can_edit"},
	{"Connections", "can_delete"},
	{"Pools", "can_create"},
	{"Pools", "can_edit"},
	{"Pools", "can_delete"},
	{"Plugins", "can_read"},
	{"Providers", "can_read"},
	{"Variables", "can_create"},
	{"Variables", "can_read"},
	{"Variables", "can_edit"},
	{"Variables", "can_delete"},
	{"XComs", "can_delete"},
	{"Datasets", "can_delete"},
	{"Datasets", "can_create"},
}

// fabAdminGrants is ADMIN_PERMISSIONS.
var fabAdminGrants = []Grant{
	{"Audit Logs", "can_read"},
	{"Audit Logs", "menu_access"},
	{"Task Reschedules", "can_read"},
	{"Task Reschedules", "menu_access"},
	{"Triggers", "can_read"},
	{"Triggers", "menu_access"},
	{"Passwords", "can_read"},
	{"Passwords", "can_edit"},
	{"Roles", "can_read"},
	{"Roles", "can_edit"},
}

// fabJoinGrants concatenates grant lists into a new slice, keeping the
// first occurrence of each grant (Op lists Datasets can_create again, as
// USER_PERMISSIONS does; FAB stores the pair once).
func fabJoinGrants(lists ...[]Grant) []Grant {
	seen := make(map[Grant]bool)
	var out []Grant
	for _, l := range lists {
		for _, g := range l {
			if seen[g] {
				continue
			}
			seen[g] = true
			out = append(out, g)
		}
	}
	return out
}
