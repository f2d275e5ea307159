package authz

import "strings"

// The two translation tables below let a role written in one of Airflow's
// permission dialects answer requests checked in the other. Airflow itself
// never mixes them: a deployment runs one auth manager. airgate's policy may
// hold roles of both kinds, so each request is checked in its own API's
// words first and then, through these tables, in the other dialect, exactly
// as that dialect's auth manager would check it.

// fabResourcesForEntity is how Airflow 3's FAB auth manager checks an
// entity: the FAB resources it looks up (AIRFLOW.md §1 table
// "_MAP_DAG_ACCESS_ENTITY_TO_FAB_RESOURCE_TYPE", §3 "A3 FAB is_authorized_dag";
// providers/fab/.../fab_auth_manager.py _MAP_DAG_ACCESS_ENTITY_TO_FAB_RESOURCE_TYPE,
// _MAP_ACCESS_VIEW_TO_FAB_RESOURCE_TYPE and the is_authorized_* methods).
//
// Each entry is a conjunction of alternatives: every inner list must be held,
// by any one of its resources. DAG.TASK_INSTANCE needs both "DAG Runs" and
// "Task Instances". Where Airflow 3 renamed a resource, the Airflow 2 name is
// accepted too, so that roles written for Airflow 2 keep working: Datasets
// for Assets and Asset Aliases (one resource in Airflow 2), and DAG Runs for
// Backfills (Airflow 2 backfills created DAG runs). CUSTOM_VIEW.<resource>
// is the FAB resource itself (is_authorized_custom_view) and is not listed.
var fabResourcesForEntity = map[string][][]string{
	"DAG":                   {{"DAGs"}},
	"DAG.AUDIT_LOG":         {{"Audit Logs"}},
	"DAG.CODE":              {{"DAG Code"}},
	"DAG.DEPENDENCIES":      {{"DAG Dependencies"}},
	"DAG.HITL_DETAIL":       {{"HITL Detail"}},
	"DAG.RUN":               {{"DAG Runs"}},
	"DAG.TASK":              {{"Task Instances"}},
	"DAG.TASK_INSTANCE":     {{"DAG Runs"}, {"Task Instances"}},
	"DAG.TASK_LOGS":         {{"Task Logs"}},
	"DAG.VERSION":           {{"DAG Versions"}},
	"DAG.WARNING":           {{"DAG Warnings"}},
	"DAG.XCOM":              {{"XComs"}},
	"CONNECTION":            {{"Connections"}},
	"VARIABLE":              {{"Variables"}},
	"POOL":                  {{"Pools"}},
	"ASSET":                 {{"Assets", "Datasets"}},
	"ASSET_ALIAS":           {{"Asset Aliases", "Datasets"}},
	"BACKFILL":              {{"Backfills", "DAG Runs"}},
	"CONFIGURATION":         {{"Configurations"}},
	"VIEW.CLUSTER_ACTIVITY": {{"Cluster Activity"}},
	"VIEW.DOCS":             {{"Docs"}},
	"VIEW.IMPORT_ERRORS":    {{"ImportError"}},
	"VIEW.JOBS":             {{"Jobs"}},
	"VIEW.PLUGINS":          {{"Plugins"}},
	"VIEW.PROVIDERS":        {{"Providers"}},
	"VIEW.TRIGGERS":         {{"Triggers"}},
	"VIEW.WEBSITE":          {{"Website"}},
}

// fabActionForMethod is Airflow's method-to-action map (AIRFLOW.md §1 "HTTP
// method to FAB action", airflow/auth/managers/utils/fab.py). VIEW.DOCS is
// checked with MENU, i.e. menu_access (is_authorized_view).
var fabActionForMethod = map[string]string{
	"GET":    "can_read",
	"POST":   "can_create",
	"PUT":    "can_edit",
	"DELETE": "can_delete",
	"MENU":   "menu_access",
}

// entityForFABResource is how airgate checks an Airflow 2 (FAB) requirement
// against roles written in Airflow 3's entity words, such as the simple auth
// manager's viewer, user, op and admin. Airflow has no such mapping (the
// simple auth manager does not serve Airflow 2), so this one is airgate's: it
// inverts the Airflow 3 FAB auth manager's maps above (AIRFLOW.md §1, §3),
// taking for each FAB resource the entity Airflow 3 checks it for. Resources
// not listed (Users, Roles, Permissions, SLA Misses, ...) have no entity and
// are held only through a "*" resource.
var entityForFABResource = map[string]string{
	"DAGs":             "DAG",
	"DAG Runs":         "DAG.RUN",
	"Task Instances":   "DAG.TASK_INSTANCE",
	"Task Logs":        "DAG.TASK_LOGS",
	"XComs":            "DAG.XCOM",
	"DAG Code":         "DAG.CODE",
	"DAG Warnings":     "DAG.WARNING",
	"DAG Dependencies": "DAG.DEPENDENCIES",
	"Audit Logs":       "DAG.AUDIT_LOG",
	"Connections":      "CONNECTION",
	"Variables":        "VARIABLE",
	"Pools":            "POOL",
	"Configurations":   "CONFIGURATION",
	"Datasets":         "ASSET",
	"ImportError":      "VIEW.IMPORT_ERRORS",
	"Plugins":          "VIEW.PLUGINS",
	"Providers":        "VIEW.PROVIDERS",
	"Jobs":             "VIEW.JOBS",
	"Cluster Activity": "VIEW.CLUSTER_ACTIVITY",
	"Website":          "VIEW.WEBSITE",
	"Triggers":         "VIEW.TRIGGERS",
}

// methodForFABAction inverts fabActionForMethod for the actions the API
// checks; other actions (menu_access) are held only through a "*" action.
var methodForFABAction = map[string]string{
	"can_read":   "GET",
	"can_create": "POST",
	"can_edit":   "PUT",
	"can_delete": "DELETE",
}

// entityFor translates a FAB (resource, action) into entity words; "*"
// stands for "no counterpart", which only a "*" grant covers.
func entityFor(resource, action string) (string, string) {
	e, ok := entityForFABResource[resource]
	if !ok {
		e = "*"
	}
	m, ok := methodForFABAction[action]
	if !ok {
		m = "*"
	}
	return e, m
}

// fabFor translates an entity requirement's resource and method into the
// FAB resources (a conjunction of alternatives) and action Airflow 3's FAB
// auth manager checks. ok is false for an entity it does not know.
func fabFor(entity, method string) (resources [][]string, action string, ok bool) {
	action, ok = fabActionForMethod[method]
	if !ok {
		action = method // is_authorized_custom_view: .get(method, method)
	}
	if entity == "VIEW.DOCS" {
		action = fabActionForMethod["MENU"]
	}
	if r, found := strings.CutPrefix(entity, "CUSTOM_VIEW."); found {
		return [][]string{{r}}, action, true
	}
	resources, ok = fabResourcesForEntity[entity]
	return resources, action, ok
}
