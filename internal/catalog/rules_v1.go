package catalog

// v1Rules holds what Airflow checks for each operation of the v1 API,
// keyed by operationId.
//
// The rules were read from apache/airflow's own source (Apache-2.0), 2.8-2.10
// line, where requires_access_dag and friends (airflow/api_connexion/security.py)
// call FabAuthManager (airflow/providers/fab/auth_manager/fab_auth_manager.py):
//
//   - requires_access_dag(method) with no access entity checks action(method)
//     on "DAGs" or "DAG:<dag_id>"; without a dag_id (absent or "~") GET and
//     PUT fall back to "the caller may read (edit) at least one DAG".
//   - requires_access_dag(method, entity) first checks can_read (GET) or
//     can_edit (other methods) on "DAGs" or "DAG:<dag_id>", but only when a
//     dag_id is given; then action(method) on every FAB resource of the
//     entity: globally, except "DAG Runs", where "DAG Run:<dag_id>" also
//     counts. TASK_INSTANCE maps to "DAG Runs" and "Task Instances", TASK
//     to "Task Instances".
//   - The decorator takes dag_id from the view's keyword arguments, which
//     connexion fills from path and query parameters; "~" becomes None.
//   - Connection, pool, variable, dataset, configuration and view checks look
//     at the global FAB resource only.
//
// The 2.10.0 snapshot (563bc494) is not in the source index used; the
// decorators were read from the stored apache/airflow versions of the
// 2.9-2.10 line and of the later main branch before api_connexion was
// removed (their decorators agree, apart from the later dataset-to-asset
// renames), and from a 2.9-era copy of the tree (SM-Huszain/Airflow-UI
// 6b83e29b) for connection_endpoint.py, config_endpoint.py,
// provider_endpoint.py, event_log_endpoint.py and dag_run_endpoint.py.
var v1Rules = map[string]Rule{
	// airflow/api_connexion/endpoints/config_endpoint.py
	"get_config": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Configurations", "can_read", false, Global}},
		Source:   `airflow/api_connexion/endpoints/config_endpoint.py: @security.requires_access_configuration("GET")`,
		Note:     `403 even for Admin unless [webserver] expose_config is True or "non-sensitive-only" (default False); "non-sensitive-only" hides sensitive values`,
	},
	"get_value": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Configurations", "can_read", false, Global}},
		Source:   `airflow/api_connexion/endpoints/config_endpoint.py: @security.requires_access_configuration("GET")`,
		Note:     `403 even for Admin unless [webserver] expose_config is True or "non-sensitive-only" (default False); sensitive options read "< hidden >"`,
	},

	// airflow/api_connexion/endpoints/connection_endpoint.py
	"get_connections": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Connections", "can_read", false, Global}},
		Source:   `airflow/api_connexion/endpoints/connection_endpoint.py: @security.requires_access_connection("GET")`,
	},
	"post_connection": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Connections", "can_create", false, Global}},
		Source:   `airflow/api_connexion/endpoints/connection_endpoint.py: @security.requires_access_connection("POST")`,
	},
	"get_connection": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Connections", "can_read", false, Global}},
		Source:   `airflow/api_connexion/endpoints/connection_endpoint.py: @security.requires_access_connection("GET")`,
		Note:     "no per-connection permission: the connection_id is ignored by FabAuthManager.is_authorized_connection",
	},
	"patch_connection": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Connections", "can_edit", false, Global}},
		Source:   `airflow/api_connexion/endpoints/connection_endpoint.py: @security.requires_access_connection("PUT")`,
	},
	"delete_connection": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Connections", "can_delete", false, Global}},
		Source:   `airflow/api_connexion/endpoints/connection_endpoint.py: @security.requires_access_connection("DELETE")`,
	},
	"test_connection": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Connections", "can_create", false, Global}},
		Source:   `airflow/api_connexion/endpoints/connection_endpoint.py: @security.requires_access_connection("POST")`,
		Note:     `403 even for Admin unless [core] test_connection = Enabled (default Disabled)`,
	},

	// airflow/api_connexion/endpoints/dag_endpoint.py
	"get_dags": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"DAGs", "can_read", true, AnyDAG}},
		Filter:   FilterReadableOrEditable,
		Source:   `airflow/api_connexion/endpoints/dag_endpoint.py: @security.requires_access_dag("GET"); rows filtered by get_permitted_dag_ids(user=g.user)`,
		Note:     "edit-only DAGs are listed too (get_permitted_dag_ids without methods means GET or PUT)",
	},
	"patch_dags": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"DAGs", "can_edit", true, AnyDAG}},
		Filter:   FilterEditable,
		Source:   `airflow/api_connexion/endpoints/dag_endpoint.py: @security.requires_access_dag("PUT"); rows filtered by get_permitted_dag_ids(methods=["PUT"])`,
		Note:     `dag_id_pattern "~" means every editable DAG; the pattern is a SQL ILIKE substring`,
	},
	"get_dag": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: []Perm{{"DAGs", "can_read", true, AnyDAG}},
		Source:   `airflow/api_connexion/endpoints/dag_endpoint.py: @security.requires_access_dag("GET")`,
	},
	"patch_dag": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: []Perm{{"DAGs", "can_edit", true, AnyDAG}},
		Source:   `airflow/api_connexion/endpoints/dag_endpoint.py: @security.requires_access_dag("PUT")`,
	},
	"delete_dag": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: []Perm{{"DAGs", "can_delete", true, Global}},
		Source:   `airflow/api_connexion/endpoints/dag_endpoint.py: @security.requires_access_dag("DELETE")`,
	},
	"get_dag_details": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: []Perm{{"DAGs", "can_read", true, AnyDAG}},
		Source:   `airflow/api_connexion/endpoints/dag_endpoint.py: @security.requires_access_dag("GET")`,
	},

	// airflow/api_connexion/endpoints/dag_parsing.py
	"reparse_dag_file": {
		Auth:     AuthRequired,
		DAG:      DAGFileToken,
		Requires: []Perm{{"DAGs", "can_edit", true, AnyDAG}},
		Source:   `airflow/api_connexion/endpoints/dag_parsing.py: @security.requires_access_dag("PUT"), then batch_is_authorized_dag(PUT) over every DAG in the file`,
		Note:     "the decorator sees no dag_id (global or any editable DAG); the handler then needs can_edit on every DAG defined in the file, and answers 404 when the file has none",
	},

	// airflow/api_connexion/endpoints/dag_run_endpoint.py
	"get_dag_runs": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"DAGs", "can_read", true, Skip},
			{"DAG Runs", "can_read", true, Global},
		},
		Filter: FilterReadable,
		Source: `airflow/api_connexion/endpoints/dag_run_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.RUN)`,
		Note:   `with dag_id "~" only DAG Runs read is checked and rows are filtered by get_permitted_dag_ids(methods=["GET"]); with a real dag_id there is no filter`,
	},
	"post_dag_run": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"DAGs", "can_edit", true, Skip},
			{"DAG Runs", "can_create", true, Global},
		},
		Source: `airflow/api_connexion/endpoints/dag_run_endpoint.py: @security.requires_access_dag("POST", DagAccessEntity.RUN)`,
		Note:   "triggering needs can_edit on the DAG, not only can_create on DAG Runs",
	},
	"get_dag_runs_batch": {
		Auth:     AuthRequired,
		DAG:      DAGBody,
		Requires: []Perm{{"DAG Runs", "can_read", false, Global}},
		Filter:   FilterReadable,
		Source:   `airflow/api_connexion/endpoints/dag_run_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.RUN); body dag_ids intersected with get_permitted_dag_ids(methods=["GET"])`,
		Note:     "the path has no dag_id, so only global DAG Runs read is checked; unreadable body dag_ids are dropped silently",
	},
	"get_dag_run": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"DAGs", "can_read", true, Skip},
			{"DAG Runs", "can_read", true, Global},
		},
		Source: `airflow/api_connexion/endpoints/dag_run_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.RUN)`,
	},
	"delete_dag_run": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"DAGs", "can_edit", true, Skip},
			{"DAG Runs", "can_delete", true, Global},
		},
		Source: `airflow/api_connexion/endpoints/dag_run_endpoint.py: @security.requires_access_dag("DELETE", DagAccessEntity.RUN)`,
	},
	"update_dag_run_state": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"DAGs", "can_edit", true, Skip},
			{"DAG Runs", "can_edit", true, Global},
		},
		Source: `airflow/api_connexion/endpoints/dag_run_endpoint.py: @security.requires_access_dag("PUT", DagAccessEntity.RUN)`,
		Note:   `"DAG Run:<dag_id>" has no can_edit action, so in practice this needs global DAG Runs can_edit`,
	},
	"clear_dag_run": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"DAGs", "can_edit", true, Skip},
			{"DAG Runs", "can_edit", true, Global},
		},
		Source: `airflow/api_connexion/endpoints/dag_run_endpoint.py: @security.requires_access_dag("PUT", DagAccessEntity.RUN)`,
		Note:   `"DAG Run:<dag_id>" has no can_edit action, so in practice this needs global DAG Runs can_edit`,
	},
	"get_upstream_dataset_events": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"DAGs", "can_read", true, Skip},
			{"DAG Runs", "can_read", true, Global},
			{"Datasets", "can_read", false, Global},
		},
		Source: `airflow/api_connexion/endpoints/dag_run_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.RUN) and @security.requires_access_dataset("GET")`,
	},
	"set_dag_run_note": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"DAGs", "can_edit", true, Skip},
			{"DAG Runs", "can_edit", true, Global},
		},
		Source: `airflow/api_connexion/endpoints/dag_run_endpoint.py: @security.requires_access_dag("PUT", DagAccessEntity.RUN)`,
		Note:   `"DAG Run:<dag_id>" has no can_edit action, so in practice this needs global DAG Runs can_edit`,
	},

	// airflow/api_connexion/endpoints/dag_source_endpoint.py
	"get_dag_source": {
		Auth: AuthRequired,
		DAG:  DAGFileToken,
		Requires: []Perm{
			{"DAGs", "can_read", true, Skip},
			{"DAG Code", "can_read", false, Global},
		},
		Source: `airflow/api_connexion/endpoints/dag_source_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.CODE), then batch_is_authorized_dag(GET) over every DAG in the file`,
		Note:   "the decorator sees no dag_id (global DAG Code read only); the handler then needs can_read on every DAG defined in the file (403 otherwise)",
	},

	// airflow/api_connexion/endpoints/dag_stats_endpoint.py
	"get_dag_stats": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"DAG Runs", "can_read", false, Global}},
		Filter:   FilterReadable,
		Source:   `airflow/api_connexion/endpoints/dag_stats_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.RUN); dag_ids intersected with get_permitted_dag_ids(methods=["GET"])`,
		Note:     "the dag_ids query parameter is not dag_id, so the decorator sees no DAG; unreadable ids are dropped silently",
	},

	// airflow/api_connexion/endpoints/dag_warning_endpoint.py
	"get_dag_warnings": {
		Auth: AuthRequired,
		DAG:  DAGQuery,
		Requires: []Perm{
			{"DAGs", "can_read", true, Skip},
			{"DAG Warnings", "can_read", false, Global},
		},
		Filter: FilterReadableOrEditable,
		Source: `airflow/api_connexion/endpoints/dag_warning_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.WARNING); without dag_id rows filtered by security.get_readable_dags()`,
		Note:   "the optional dag_id query parameter reaches the decorator; without it rows are narrowed to readable-or-editable DAGs",
	},

	// airflow/api_connexion/endpoints/dataset_endpoint.py
	"get_dag_dataset_queued_event": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"Datasets", "can_read", false, Global},
			{"DAGs", "can_read", true, AnyDAG},
		},
		Source: `airflow/api_connexion/endpoints/dataset_endpoint.py: @security.requires_access_dataset("GET") and @security.requires_access_dag("GET")`,
	},
	"delete_dag_dataset_queued_event": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"Datasets", "can_delete", false, Global},
			{"DAGs", "can_read", true, AnyDAG},
		},
		Source: `airflow/api_connexion/endpoints/dataset_endpoint.py: @security.requires_access_dataset("DELETE") and @security.requires_access_dag("GET")`,
		Note:   "deleting needs only read on the DAG",
	},
	"get_dag_dataset_queued_events": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"Datasets", "can_read", false, Global},
			{"DAGs", "can_read", true, AnyDAG},
		},
		Source: `airflow/api_connexion/endpoints/dataset_endpoint.py: @security.requires_access_dataset("GET") and @security.requires_access_dag("GET")`,
	},
	"delete_dag_dataset_queued_events": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"Datasets", "can_delete", false, Global},
			{"DAGs", "can_read", true, AnyDAG},
		},
		Source: `airflow/api_connexion/endpoints/dataset_endpoint.py: @security.requires_access_dataset("DELETE") and @security.requires_access_dag("GET")`,
		Note:   "deleting needs only read on the DAG",
	},
	"get_dataset_queued_events": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Datasets", "can_read", false, Global}},
		Filter:   FilterReadable,
		Source:   `airflow/api_connexion/endpoints/dataset_endpoint.py: @security.requires_access_dataset("GET"); rows filtered by get_permitted_dag_ids(methods=["GET"])`,
	},
	"delete_dataset_queued_events": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Datasets", "can_delete", false, Global}},
		Filter:   FilterReadable,
		Source:   `airflow/api_connexion/endpoints/dataset_endpoint.py: @security.requires_access_dataset("DELETE"); deletes only rows of get_permitted_dag_ids(methods=["GET"])`,
	},
	"get_datasets": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Datasets", "can_read", false, Global}},
		Source:   `airflow/api_connexion/endpoints/dataset_endpoint.py: @security.requires_access_dataset("GET")`,
		Note:     "not narrowed by DAG: consuming and producing DAG ids of every dataset are returned; dag_ids only filters",
	},
	"get_dataset": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Datasets", "can_read", false, Global}},
		Source:   `airflow/api_connexion/endpoints/dataset_endpoint.py: @security.requires_access_dataset("GET")`,
	},
	"get_dataset_events": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Datasets", "can_read", false, Global}},
		Source:   `airflow/api_connexion/endpoints/dataset_endpoint.py: @security.requires_access_dataset("GET")`,
		Note:     "not narrowed by DAG; source_dag_id only filters",
	},
	"create_dataset_event": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Datasets", "can_create", false, Global}},
		Source:   `airflow/api_connexion/endpoints/dataset_endpoint.py: @security.requires_access_dataset("POST")`,
		Note:     "an event can trigger dataset-scheduled DAGs with no DAG-level check",
	},

	// airflow/api_connexion/endpoints/event_log_endpoint.py
	"get_event_logs": {
		Auth: AuthRequired,
		DAG:  DAGQuery,
		Requires: []Perm{
			{"DAGs", "can_read", true, Skip},
			{"Audit Logs", "can_read", false, Global},
		},
		Source: `airflow/api_connexion/endpoints/event_log_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.AUDIT_LOG)`,
		Note:   "the optional dag_id query parameter reaches the decorator; without it every DAG's events are returned (no filter); Audit Logs read is Admin-only by default",
	},
	"get_event_log": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Audit Logs", "can_read", false, Global}},
		Source:   `airflow/api_connexion/endpoints/event_log_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.AUDIT_LOG)`,
		Note:     "any event log entry, of any DAG, by id",
	},

	// airflow/api_connexion/endpoints/extra_link_endpoint.py
	"get_extra_links": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"DAGs", "can_read", true, Skip},
			{"DAG Runs", "can_read", true, Global},
			{"Task Instances", "can_read", false, Global},
		},
		Source: `airflow/api_connexion/endpoints/extra_link_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE)`,
	},

	// airflow/api_connexion/endpoints/forward_to_fab_endpoint.py, which calls
	// airflow/providers/fab/auth_manager/api_endpoints/*.py
	"get_roles": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Roles", "can_read", false, Global}},
		Source:   `airflow/providers/fab/auth_manager/api_endpoints/role_and_permission_endpoint.py: @requires_access_custom_view("GET", permissions.RESOURCE_ROLE)`,
		Note:     v1FABForwardNote,
	},
	"post_role": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Roles", "can_create", false, Global}},
		Source:   `airflow/providers/fab/auth_manager/api_endpoints/role_and_permission_endpoint.py: @requires_access_custom_view("POST", permissions.RESOURCE_ROLE)`,
		Note:     v1FABForwardNote,
	},
	"get_role": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Roles", "can_read", false, Global}},
		Source:   `airflow/providers/fab/auth_manager/api_endpoints/role_and_permission_endpoint.py: @requires_access_custom_view("GET", permissions.RESOURCE_ROLE)`,
		Note:     v1FABForwardNote,
	},
	"patch_role": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Roles", "can_edit", false, Global}},
		Source:   `airflow/providers/fab/auth_manager/api_endpoints/role_and_permission_endpoint.py: @requires_access_custom_view("PUT", permissions.RESOURCE_ROLE)`,
		Note:     v1FABForwardNote + "; a caller with Roles can_edit can grant any permission to any role, itself included",
	},
	"delete_role": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Roles", "can_delete", false, Global}},
		Source:   `airflow/providers/fab/auth_manager/api_endpoints/role_and_permission_endpoint.py: @requires_access_custom_view("DELETE", permissions.RESOURCE_ROLE)`,
		Note:     v1FABForwardNote,
	},
	"get_permissions": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Permissions", "can_read", false, Global}},
		Source:   `airflow/providers/fab/auth_manager/api_endpoints/role_and_permission_endpoint.py: @requires_access_custom_view("GET", permissions.RESOURCE_ACTION)`,
		Note:     v1FABForwardNote + `; RESOURCE_ACTION is the FAB resource "Permissions"`,
	},
	"get_users": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Users", "can_read", false, Global}},
		Source:   `airflow/providers/fab/auth_manager/api_endpoints/user_endpoint.py: @requires_access_custom_view("GET", permissions.RESOURCE_USER)`,
		Note:     v1FABForwardNote,
	},
	"post_user": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Users", "can_create", false, Global}},
		Source:   `airflow/providers/fab/auth_manager/api_endpoints/user_endpoint.py: @requires_access_custom_view("POST", permissions.RESOURCE_USER)`,
		Note:     v1FABForwardNote + "; the body may name any role, Admin included",
	},
	"get_user": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Users", "can_read", false, Global}},
		Source:   `airflow/providers/fab/auth_manager/api_endpoints/user_endpoint.py: @requires_access_custom_view("GET", permissions.RESOURCE_USER)`,
		Note:     v1FABForwardNote,
	},
	"patch_user": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Users", "can_edit", false, Global}},
		Source:   `airflow/providers/fab/auth_manager/api_endpoints/user_endpoint.py: @requires_access_custom_view("PUT", permissions.RESOURCE_USER)`,
		Note:     v1FABForwardNote + "; can change any user's roles and password",
	},
	"delete_user": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Users", "can_delete", false, Global}},
		Source:   `airflow/providers/fab/auth_manager/api_endpoints/user_endpoint.py: @requires_access_custom_view("DELETE", permissions.RESOURCE_USER)`,
		Note:     v1FABForwardNote,
	},

	// airflow/api_connexion/endpoints/health_endpoint.py
	"get_health": {
		Auth:   AuthNone,
		DAG:    DAGNone,
		Source: "airflow/api_connexion/endpoints/health_endpoint.py: no security decorator",
	},

	// airflow/api_connexion/endpoints/import_error_endpoint.py
	"get_import_errors": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"ImportError", "can_read", false, Global}},
		Filter:   FilterReadableOrEditable,
		Source:   `airflow/api_connexion/endpoints/import_error_endpoint.py: @security.requires_access_view(AccessView.IMPORT_ERRORS); without global DAGs can_read, rows filtered to files holding a DAG of security.get_readable_dags()`,
		Note:     "the stack trace is redacted unless the caller can read (GET) every DAG in the file",
	},
	"get_import_error": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"ImportError", "can_read", false, Global}},
		Source:   `airflow/api_connexion/endpoints/import_error_endpoint.py: @security.requires_access_view(AccessView.IMPORT_ERRORS)`,
		Note:     "without global DAGs can_read: 403 unless the file holds a DAG of security.get_readable_dags() (also when the file holds no known DAG), and the stack trace is redacted unless every DAG in the file is readable or editable",
	},

	// airflow/api_connexion/endpoints/log_endpoint.py
	"get_log": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"DAGs", "can_read", true, Skip},
			{"Task Logs", "can_read", false, Global},
		},
		Source: `airflow/api_connexion/endpoints/log_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.TASK_LOGS)`,
	},

	// airflow/api_connexion/endpoints/plugin_endpoint.py
	"get_plugins": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Plugins", "can_read", false, Global}},
		Source:   `airflow/api_connexion/endpoints/plugin_endpoint.py: @security.requires_access_view(AccessView.PLUGINS)`,
	},

	// airflow/api_connexion/endpoints/pool_endpoint.py
	"get_pools": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Pools", "can_read", false, Global}},
		Source:   `airflow/api_connexion/endpoints/pool_endpoint.py: @security.requires_access_pool("GET")`,
	},
	"post_pool": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Pools", "can_create", false, Global}},
		Source:   `airflow/api_connexion/endpoints/pool_endpoint.py: @security.requires_access_pool("POST")`,
	},
	"get_pool": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Pools", "can_read", false, Global}},
		Source:   `airflow/api_connexion/endpoints/pool_endpoint.py: @security.requires_access_pool("GET")`,
	},
	"patch_pool": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Pools", "can_edit", false, Global}},
		Source:   `airflow/api_connexion/endpoints/pool_endpoint.py: @security.requires_access_pool("PUT")`,
	},
	"delete_pool": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Pools", "can_delete", false, Global}},
		Source:   `airflow/api_connexion/endpoints/pool_endpoint.py: @security.requires_access_pool("DELETE")`,
	},

	// airflow/api_connexion/endpoints/provider_endpoint.py
	"get_providers": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Providers", "can_read", false, Global}},
		Source:   `airflow/api_connexion/endpoints/provider_endpoint.py: @security.requires_access_view(AccessView.PROVIDERS)`,
	},

	// airflow/api_connexion/endpoints/task_endpoint.py
	"get_tasks": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"DAGs", "can_read", true, Skip},
			{"Task Instances", "can_read", false, Global},
		},
		Source: `airflow/api_connexion/endpoints/task_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.TASK)`,
		Note:   "task definitions are guarded by the Task Instances resource",
	},
	"get_task": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"DAGs", "can_read", true, Skip},
			{"Task Instances", "can_read", false, Global},
		},
		Source: `airflow/api_connexion/endpoints/task_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.TASK)`,
		Note:   "task definitions are guarded by the Task Instances resource",
	},

	// airflow/api_connexion/endpoints/task_instance_endpoint.py
	"get_task_instances": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: v1TIRead(),
		Filter:   FilterReadableOrEditable,
		Source:   `airflow/api_connexion/endpoints/task_instance_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE)`,
		Note:     `with dag_id "~" rows are filtered by security.get_readable_dags() (readable or editable); with a real dag_id there is no filter`,
	},
	"get_task_instance": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: v1TIRead(),
		Source:   `airflow/api_connexion/endpoints/task_instance_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE)`,
	},
	"patch_task_instance": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: v1TIEdit(),
		Source:   `airflow/api_connexion/endpoints/task_instance_endpoint.py: @security.requires_access_dag("PUT", DagAccessEntity.TASK_INSTANCE)`,
		Note:     v1TIEditNote,
	},
	"get_mapped_task_instance": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: v1TIRead(),
		Source:   `airflow/api_connexion/endpoints/task_instance_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE)`,
	},
	"patch_mapped_task_instance": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: v1TIEdit(),
		Source:   `airflow/api_connexion/endpoints/task_instance_endpoint.py: @security.requires_access_dag("PUT", DagAccessEntity.TASK_INSTANCE)`,
		Note:     v1TIEditNote,
	},
	"get_mapped_task_instances": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: v1TIRead(),
		Source:   `airflow/api_connexion/endpoints/task_instance_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE)`,
	},
	"get_task_instances_batch": {
		Auth: AuthRequired,
		DAG:  DAGBody,
		Requires: []Perm{
			{"DAGs", "can_read", true, Skip},
			{"DAG Runs", "can_read", false, Global},
			{"Task Instances", "can_read", false, Global},
		},
		Filter: FilterReadableOrEditable,
		Source: `airflow/api_connexion/endpoints/task_instance_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE); body dag_ids checked with batch_is_authorized_dag(GET)`,
		Note:   "the path has no dag_id, so DAG Runs and Task Instances read are checked globally only; one unreadable body dag_id makes the whole request 403; without dag_ids rows are filtered by get_permitted_dag_ids(user) (readable or editable)",
	},
	"post_clear_task_instances": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: v1TIEdit(),
		Source:   `airflow/api_connexion/endpoints/task_instance_endpoint.py: @security.requires_access_dag("PUT", DagAccessEntity.TASK_INSTANCE)`,
		Note:     v1TIEditNote + `; the spec's dry_run defaults to true`,
	},
	"post_set_task_instances_state": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: v1TIEdit(),
		Source:   `airflow/api_connexion/endpoints/task_instance_endpoint.py: @security.requires_access_dag("PUT", DagAccessEntity.TASK_INSTANCE)`,
		Note:     v1TIEditNote,
	},
	"set_task_instance_note": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: v1TIEdit(),
		Source:   `airflow/api_connexion/endpoints/task_instance_endpoint.py: @security.requires_access_dag("PUT", DagAccessEntity.TASK_INSTANCE)`,
		Note:     v1TIEditNote,
	},
	"set_mapped_task_instance_note": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: v1TIEdit(),
		Source:   `airflow/api_connexion/endpoints/task_instance_endpoint.py: undecorated, calls set_task_instance_note, which has @security.requires_access_dag("PUT", DagAccessEntity.TASK_INSTANCE)`,
		Note:     v1TIEditNote,
	},
	"get_task_instance_dependencies": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: v1TIRead(),
		Source:   `airflow/api_connexion/endpoints/task_instance_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE)`,
	},
	"get_mapped_task_instance_dependencies": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: v1TIRead(),
		Source:   `airflow/api_connexion/endpoints/task_instance_endpoint.py: undecorated, calls get_task_instance_dependencies, which has @security.requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE)`,
	},
	"get_task_instance_try_details": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: v1TIRead(),
		Source:   `airflow/api_connexion/endpoints/task_instance_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE)`,
	},
	"get_task_instance_tries": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: v1TIRead(),
		Source:   `airflow/api_connexion/endpoints/task_instance_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE)`,
	},
	"get_mapped_task_instance_tries": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: v1TIRead(),
		Source:   `airflow/api_connexion/endpoints/task_instance_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE)`,
	},
	"get_mapped_task_instance_try_details": {
		Auth:     AuthRequired,
		DAG:      DAGPath,
		Requires: v1TIRead(),
		Source:   `airflow/api_connexion/endpoints/task_instance_endpoint.py: undecorated, calls get_task_instance_try_details, which has @security.requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE)`,
	},

	// airflow/api_connexion/endpoints/variable_endpoint.py
	"get_variables": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Variables", "can_read", false, Global}},
		Source:   `airflow/api_connexion/endpoints/variable_endpoint.py: @security.requires_access_variable("GET")`,
	},
	"post_variables": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Variables", "can_create", false, Global}},
		Source:   `airflow/api_connexion/endpoints/variable_endpoint.py: @security.requires_access_variable("POST")`,
	},
	"get_variable": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Variables", "can_read", false, Global}},
		Source:   `airflow/api_connexion/endpoints/variable_endpoint.py: @security.requires_access_variable("GET")`,
		Note:     "no per-variable permission: the key is ignored by FabAuthManager.is_authorized_variable",
	},
	"patch_variable": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Variables", "can_edit", false, Global}},
		Source:   `airflow/api_connexion/endpoints/variable_endpoint.py: @security.requires_access_variable("PUT")`,
	},
	"delete_variable": {
		Auth:     AuthRequired,
		DAG:      DAGNone,
		Requires: []Perm{{"Variables", "can_delete", false, Global}},
		Source:   `airflow/api_connexion/endpoints/variable_endpoint.py: @security.requires_access_variable("DELETE")`,
	},

	// airflow/api_connexion/endpoints/version_endpoint.py
	"get_version": {
		Auth:   AuthNone,
		DAG:    DAGNone,
		Source: "airflow/api_connexion/endpoints/version_endpoint.py: no security decorator",
		Note:   "discloses the Airflow version and git revision to anyone",
	},

	// airflow/api_connexion/endpoints/xcom_endpoint.py
	"get_xcom_entries": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"DAGs", "can_read", true, Skip},
			{"XComs", "can_read", false, Global},
		},
		Filter: FilterReadable,
		Source: `airflow/api_connexion/endpoints/xcom_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.XCOM)`,
		Note:   `with dag_id "~" rows are filtered by get_permitted_dag_ids(methods=["GET"]); with a real dag_id there is no filter`,
	},
	"get_xcom_entry": {
		Auth: AuthRequired,
		DAG:  DAGPath,
		Requires: []Perm{
			{"DAGs", "can_read", true, Skip},
			{"XComs", "can_read", false, Global},
		},
		Source: `airflow/api_connexion/endpoints/xcom_endpoint.py: @security.requires_access_dag("GET", DagAccessEntity.XCOM)`,
		Note:   "deserialize=true answers 400 unless [api] enable_xcom_deserialize_support is True",
	},
}

// v1FABForwardNote is the trap shared by the v1 user and role endpoints.
const v1FABForwardNote = "deprecated forward to the FAB provider (airflow/api_connexion/endpoints/forward_to_fab_endpoint.py); answers 400 when the auth manager is not FabAuthManager, before any authentication"

// v1TIEditNote is the trap shared by the v1 task instance writes.
const v1TIEditNote = `"DAG Run:<dag_id>" has no can_edit action, so in practice this needs global DAG Runs can_edit`

// v1TIRead is what requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE)
// checks. It returns a new slice on each call.
func v1TIRead() []Perm {
	return []Perm{
		{"DAGs", "can_read", true, Skip},
		{"DAG Runs", "can_read", true, Global},
		{"Task Instances", "can_read", false, Global},
	}
}

// v1TIEdit is what requires_access_dag("PUT", DagAccessEntity.TASK_INSTANCE)
// checks. It returns a new slice on each call.
func v1TIEdit() []Perm {
	return []Perm{
		{"DAGs", "can_edit", true, Skip},
		{"DAG Runs", "can_edit", true, Global},
		{"Task Instances", "can_edit", false, Global},
	}
}
