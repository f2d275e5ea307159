package catalog

// The v2 rules were read from apache/airflow's FastAPI routes
// (airflow-core/src/airflow/api_fastapi/core_api/routes/public/*.py) and
// core_api/security.py, in the stored versions nearest to main at
// e0c5458c3334544c6432d6bc6b5e9c6345363ef6 (2026-01-09), the commit the
// vendored openapi-v2.yaml was taken from.
//
// How Airflow 3 checks, in the words of these tables:
//
//   - requires_access_dag(method, access_entity) takes dag_id from the path
//     parameters only ("~" becomes None); the query string and the body are
//     never read. Without a dag_id the FAB auth manager lets a GET through when
//     the caller can read any DAG (AnyDAG) and requires the global permission
//     for every other method (Global).
//   - requires_access_{connection,pool,variable,asset,asset_alias,backfill,
//     configuration} check the entity as a whole; the path id is passed as
//     details, which the FAB and simple auth managers ignore.
//   - Readable*FilterDep and EditableDagsFilterDep narrow rows with
//     get_authorized_dag_ids(method="GET") or (method="PUT").
//   - A failed check is 403 "Forbidden"; a missing or bad token is 401/403
//     before any permission is looked at.

// v2Src is the folder of the Airflow 3 public API route modules.
const v2Src = "airflow-core/src/airflow/api_fastapi/core_api/routes/public/"

// v2Rules holds what Airflow checks for each operation of the v2 API,
// keyed by operationId.
var v2Rules = map[string]Rule{
	// assets.py
	"get_assets": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{
			{"ASSET", "GET", false, Global},
			{"ASSET_ALIAS", "GET", false, Global},
		},
		Source: v2Src + "assets.py: requires_access_asset(method=\"GET\"), requires_access_asset_alias(method=\"GET\")",
		Note:   "Not narrowed by DAG: producing and consuming DAG ids of every asset are listed; the dag_ids query parameter only filters.",
	},
	"get_asset_aliases": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"ASSET_ALIAS", "GET", false, Global}},
		Source:   v2Src + "assets.py: requires_access_asset_alias(method=\"GET\")",
	},
	"get_asset_alias": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"ASSET_ALIAS", "GET", false, Global}},
		Source:   v2Src + "assets.py: requires_access_asset_alias(method=\"GET\")",
	},
	"get_asset_events": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"ASSET", "GET", false, Global}},
		Source:   v2Src + "assets.py: requires_access_asset(method=\"GET\")",
		Note:     "Not narrowed by DAG: events of every source DAG and the DAG runs they created are returned; source_dag_id only filters.",
	},
	"create_asset_event": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"ASSET", "POST", false, Global}},
		Source:   v2Src + "assets.py: requires_access_asset(method=\"POST\")",
		Note:     "The event can trigger every DAG scheduled on the asset; no DAG permission is checked.",
	},
	"materialize_asset": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"ASSET", "POST", false, Global}},
		Source:   v2Src + "assets.py: requires_access_asset(method=\"POST\")",
		Note:     "Missing check: triggers a manual run of the DAG that produces the asset after only an asset POST check; neither DAG nor DAG.RUN permission is checked for that DAG.",
	},
	"get_asset_queued_events": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"ASSET", "GET", false, Global}},
		Filter:   FilterReadable,
		Source:   v2Src + "assets.py: requires_access_asset(method=\"GET\"); ReadableDagsFilterDep",
	},
	"delete_asset_queued_events": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{
			{"ASSET", "DELETE", false, Global},
			{"DAG", "GET", true, AnyDAG},
		},
		Filter: FilterReadable,
		Source: v2Src + "assets.py: requires_access_asset(method=\"DELETE\"), requires_access_dag(method=\"GET\"); ReadableDagsFilterDep",
		Note:   "Deletes the queued events of every DAG the caller can read: the DAG check is GET, not DELETE or PUT.",
	},
	"get_dag_asset_queued_events": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{
			{"ASSET", "GET", false, Global},
			{"DAG", "GET", true, AnyDAG},
		},
		Filter: FilterReadable,
		Source: v2Src + "assets.py: requires_access_asset(method=\"GET\"), requires_access_dag(method=\"GET\"); ReadableDagsFilterDep",
	},
	"delete_dag_asset_queued_events": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{
			{"ASSET", "DELETE", false, Global},
			{"DAG", "GET", true, AnyDAG},
		},
		Filter: FilterReadable,
		Source: v2Src + "assets.py: requires_access_asset(method=\"DELETE\"), requires_access_dag(method=\"GET\"); ReadableDagsFilterDep",
		Note:   "The DAG check is GET although the operation deletes the DAG's queued events.",
	},
	"get_dag_asset_queued_event": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{
			{"ASSET", "GET", false, Global},
			{"DAG", "GET", true, AnyDAG},
		},
		Filter: FilterReadable,
		Source: v2Src + "assets.py: requires_access_asset(method=\"GET\"), requires_access_dag(method=\"GET\"); ReadableDagsFilterDep",
	},
	"delete_dag_asset_queued_event": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{
			{"ASSET", "DELETE", false, Global},
			{"DAG", "GET", true, AnyDAG},
		},
		Filter: FilterReadable,
		Source: v2Src + "assets.py: requires_access_asset(method=\"DELETE\"), requires_access_dag(method=\"GET\"); ReadableDagsFilterDep",
		Note:   "The DAG check is GET although the operation deletes the DAG's queued event.",
	},
	"get_asset": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{
			{"ASSET", "GET", false, Global},
			{"ASSET_ALIAS", "GET", false, Global},
		},
		Source: v2Src + "assets.py: requires_access_asset(method=\"GET\"), requires_access_asset_alias(method=\"GET\")",
	},

	// backfills.py
	"list_backfills": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"BACKFILL", "GET", false, Global}},
		Source:   v2Src + "backfills.py: requires_access_backfill(method=\"GET\")",
		Note:     "The required dag_id query parameter selects the DAG but is never checked: no DAG-level permission (is_authorized_backfill with no DAG; DAG-level backfill checks came only with #61400, Feb 2026).",
	},
	"create_backfill": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"BACKFILL", "POST", false, Global}},
		Source:   v2Src + "backfills.py: requires_access_backfill(method=\"POST\")",
		Note:     "dag_id comes from the body and is never checked: creates runs of any DAG with no DAG or DAG.RUN permission. action_logging runs before the check.",
	},
	"get_backfill": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"BACKFILL", "GET", false, Global}},
		Source:   v2Src + "backfills.py: requires_access_backfill(method=\"GET\")",
		Note:     "No DAG-level check for the backfill's DAG.",
	},
	"pause_backfill": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"BACKFILL", "PUT", false, Global}},
		Source:   v2Src + "backfills.py: requires_access_backfill(method=\"PUT\")",
		Note:     "No DAG-level check for the backfill's DAG. action_logging runs before the check.",
	},
	"unpause_backfill": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"BACKFILL", "PUT", false, Global}},
		Source:   v2Src + "backfills.py: requires_access_backfill(method=\"PUT\")",
		Note:     "No DAG-level check for the backfill's DAG. action_logging runs before the check.",
	},
	"cancel_backfill": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"BACKFILL", "PUT", false, Global}},
		Source:   v2Src + "backfills.py: requires_access_backfill(method=\"PUT\")",
		Note:     "Fails the backfill's queued DAG runs with no DAG or DAG.RUN check. action_logging runs before the check.",
	},
	"create_backfill_dry_run": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"BACKFILL", "POST", false, Global}},
		Source:   v2Src + "backfills.py: requires_access_backfill(method=\"POST\")",
		Note:     "dag_id comes from the body and is never checked.",
	},

	// connections.py
	"delete_connection": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"CONNECTION", "DELETE", false, Global}},
		Source:   v2Src + "connections.py: requires_access_connection(method=\"DELETE\")",
	},
	"get_connection": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"CONNECTION", "GET", false, Global}},
		Source:   v2Src + "connections.py: requires_access_connection(method=\"GET\")",
	},
	"patch_connection": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"CONNECTION", "PUT", false, Global}},
		Source:   v2Src + "connections.py: requires_access_connection(method=\"PUT\")",
	},
	"get_connections": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"CONNECTION", "GET", false, Global}},
		Source:   v2Src + "connections.py: requires_access_connection(method=\"GET\")",
		Note:     "Lists every connection (passwords are masked); later Airflow versions also narrow rows with get_authorized_connections.",
	},
	"post_connection": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"CONNECTION", "POST", false, Global}},
		Source:   v2Src + "connections.py: requires_access_connection(method=\"POST\")",
	},
	"bulk_connections": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{
			{"CONNECTION", "POST", false, Global},
			{"CONNECTION", "PUT", false, Global},
			{"CONNECTION", "DELETE", false, Global},
		},
		Source: v2Src + "connections.py: requires_access_connection_bulk() (batch_is_authorized_connection)",
		Note:   "Only the methods the body's actions use are checked, per connection: create is POST, update PUT, delete DELETE; create with action_on_existence=overwrite also needs PUT.",
	},
	"test_connection": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"CONNECTION", "POST", false, Global}},
		Source:   v2Src + "connections.py: requires_access_connection(method=\"POST\")",
		Note:     "403 for everyone unless [core] test_connection is Enabled (default Disabled). Runs the hook's test, which may make outbound connections from the API server.",
	},
	"create_default_connections": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"CONNECTION", "POST", false, Global}},
		Source:   v2Src + "connections.py: requires_access_connection(method=\"POST\")",
	},

	// dag_run.py
	"get_dag_run": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.RUN", "GET", true, AnyDAG}},
		Source:   v2Src + "dag_run.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.RUN)",
	},
	"delete_dag_run": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.RUN", "DELETE", true, Global}},
		Source:   v2Src + "dag_run.py: requires_access_dag(method=\"DELETE\", access_entity=DagAccessEntity.RUN)",
	},
	"patch_dag_run": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.RUN", "PUT", true, Global}},
		Source:   v2Src + "dag_run.py: requires_access_dag(method=\"PUT\", access_entity=DagAccessEntity.RUN)",
		Note:     "Setting the run's state also sets its task instances' states; no TASK_INSTANCE check.",
	},
	"get_upstream_asset_events": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{
			{"ASSET", "GET", false, Global},
			{"DAG.RUN", "GET", true, AnyDAG},
		},
		Source: v2Src + "dag_run.py: requires_access_asset(method=\"GET\"), requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.RUN)",
	},
	"clear_dag_run": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.RUN", "PUT", true, Global}},
		Source:   v2Src + "dag_run.py: requires_access_dag(method=\"PUT\", access_entity=DagAccessEntity.RUN)",
		Note:     "Clears the run's task instances with only DAG.RUN PUT; no TASK_INSTANCE check.",
	},
	"get_dag_runs": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.RUN", "GET", true, AnyDAG}},
		Filter:   FilterReadable,
		Source:   v2Src + "dag_run.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.RUN); ReadableDagRunsFilterDep",
		Note:     "dag_id \"~\" lists runs of every readable DAG.",
	},
	"trigger_dag_run": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.RUN", "POST", true, Global}},
		Source:   v2Src + "dag_run.py: requires_access_dag(method=\"POST\", access_entity=DagAccessEntity.RUN)",
	},
	"wait_dag_run_until_finished": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.RUN", "GET", true, AnyDAG}},
		Source:   v2Src + "dag_run.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.RUN)",
		Note:     "Experimental. The result query parameter returns the named tasks' XCom values with no DAG.XCOM check. Streams until the run finishes.",
	},
	"get_list_dag_runs_batch": {
		Auth: AuthRequired, DAG: DAGBody,
		Requires: []Perm{{"DAG.RUN", "GET", true, AnyDAG}},
		Filter:   FilterReadable,
		Source:   v2Src + "dag_run.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.RUN); ReadableDagRunsFilterDep",
		Note:     "Path dag_id is Literal[\"~\"]; body dag_ids only filter and are intersected with the readable DAGs, never checked one by one.",
	},

	// dag_sources.py
	"get_dag_source": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.CODE", "GET", true, AnyDAG}},
		Source:   v2Src + "dag_sources.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.CODE)",
	},

	// dag_stats.py
	"get_dag_stats": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"DAG.RUN", "GET", true, AnyDAG}},
		Filter:   FilterReadable,
		Source:   v2Src + "dag_stats.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.RUN); ReadableDagRunsFilterDep",
		Note:     "The dag_ids query parameter only filters.",
	},

	// config.py
	"get_config": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"CONFIGURATION", "GET", false, Global}},
		Source:   v2Src + "config.py: requires_access_configuration(\"GET\")",
		Note:     "403 for everyone unless [api] expose_config is True or non-sensitive-only (default False); with non-sensitive-only, sensitive values are hidden.",
	},
	"get_config_value": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"CONFIGURATION", "GET", false, Global}},
		Source:   v2Src + "config.py: requires_access_configuration(\"GET\")",
		Note:     "403 for everyone unless [api] expose_config is enabled (default False); sensitive options read as \"< hidden >\".",
	},

	// dag_warning.py
	"list_dag_warnings": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"DAG.WARNING", "GET", true, AnyDAG}},
		Filter:   FilterReadable,
		Source:   v2Src + "dag_warning.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.WARNING); ReadableDagWarningsFilterDep",
		Note:     "The dag_id query parameter only filters; unlike Airflow 2 it is not checked.",
	},

	// dags.py
	"get_dags": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"DAG", "GET", true, AnyDAG}},
		Filter:   FilterReadable,
		Source:   v2Src + "dags.py: requires_access_dag(method=\"GET\"); ReadableDagsFilterDep",
	},
	"patch_dags": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"DAG", "PUT", true, Global}},
		Filter:   FilterEditable,
		Source:   v2Src + "dags.py: requires_access_dag(method=\"PUT\"); EditableDagsFilterDep",
		Note:     "With no dag_id the FAB auth manager needs global DAGs can_edit, although rows are then narrowed to editable DAGs. dag_id_pattern \"~\" matches every DAG; without a pattern nothing is matched.",
	},
	"get_dag": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG", "GET", true, AnyDAG}},
		Source:   v2Src + "dags.py: requires_access_dag(method=\"GET\")",
	},
	"patch_dag": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG", "PUT", true, Global}},
		Source:   v2Src + "dags.py: requires_access_dag(method=\"PUT\")",
	},
	"delete_dag": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG", "DELETE", true, Global}},
		Source:   v2Src + "dags.py: requires_access_dag(method=\"DELETE\")",
	},
	"get_dag_details": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG", "GET", true, AnyDAG}},
		Source:   v2Src + "dags.py: requires_access_dag(method=\"GET\")",
	},
	"favorite_dag": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG", "GET", true, AnyDAG}},
		Source:   v2Src + "dags.py: requires_access_dag(method=\"GET\")",
		Note:     "A write (the caller's own favourite) guarded by a read check.",
	},
	"unfavorite_dag": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG", "GET", true, AnyDAG}},
		Source:   v2Src + "dags.py: requires_access_dag(method=\"GET\")",
		Note:     "A write (the caller's own favourite) guarded by a read check.",
	},

	// event_logs.py
	"get_event_log": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"DAG.AUDIT_LOG", "GET", true, AnyDAG}},
		Source:   v2Src + "event_logs.py: requires_access_dag(\"GET\", DagAccessEntity.AUDIT_LOG)",
		Note:     "The log row's DAG is not checked: with FAB, Audit Logs read plus read on any one DAG reads every event (later versions check the row's DAG).",
	},
	"get_event_logs": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"DAG.AUDIT_LOG", "GET", true, AnyDAG}},
		Source:   v2Src + "event_logs.py: requires_access_dag(\"GET\", DagAccessEntity.AUDIT_LOG)",
		Note:     "Not narrowed by DAG: events of every DAG are returned; the dag_id query parameter only filters (later versions add ReadableEventLogsFilterDep).",
	},

	// extra_links.py
	"get_extra_links": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "GET", true, AnyDAG}},
		Source:   v2Src + "extra_links.py: requires_access_dag(\"GET\", DagAccessEntity.TASK_INSTANCE)",
	},

	// import_error.py
	"get_import_error": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"VIEW.IMPORT_ERRORS", "GET", false, Global}},
		Source:   v2Src + "import_error.py: requires_access_view(AccessView.IMPORT_ERRORS)",
		Note:     "The handler then answers 403 unless the caller can read a DAG of the file, and redacts the stack trace unless it can read all of them.",
	},
	"get_import_errors": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"VIEW.IMPORT_ERRORS", "GET", false, Global}},
		Filter:   FilterReadable,
		Source:   v2Src + "import_error.py: requires_access_view(AccessView.IMPORT_ERRORS); get_authorized_dag_ids(method=\"GET\")",
		Note:     "Narrowed in the handler, not by a filter dependency: only files with a readable DAG are listed, and stack traces are redacted (batch_is_authorized_dag) unless every DAG of the file is readable.",
	},

	// job.py
	"get_jobs": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"VIEW.JOBS", "GET", false, Global}},
		Source:   v2Src + "job.py: requires_access_view(AccessView.JOBS)",
		Note:     "Not narrowed by DAG; the dag_id query parameter only filters.",
	},

	// plugins.py
	"get_plugins": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"VIEW.PLUGINS", "GET", false, Global}},
		Source:   v2Src + "plugins.py: requires_access_view(AccessView.PLUGINS)",
	},
	"import_errors": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"VIEW.PLUGINS", "GET", false, Global}},
		Source:   v2Src + "plugins.py: requires_access_view(AccessView.PLUGINS)",
	},

	// pools.py
	"delete_pool": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"POOL", "DELETE", false, Global}},
		Source:   v2Src + "pools.py: requires_access_pool(method=\"DELETE\")",
	},
	"get_pool": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"POOL", "GET", false, Global}},
		Source:   v2Src + "pools.py: requires_access_pool(method=\"GET\")",
	},
	"patch_pool": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"POOL", "PUT", false, Global}},
		Source:   v2Src + "pools.py: requires_access_pool(method=\"PUT\")",
	},
	"get_pools": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"POOL", "GET", false, Global}},
		Source:   v2Src + "pools.py: requires_access_pool(method=\"GET\")",
	},
	"post_pool": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"POOL", "POST", false, Global}},
		Source:   v2Src + "pools.py: requires_access_pool(method=\"POST\")",
	},
	"bulk_pools": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{
			{"POOL", "POST", false, Global},
			{"POOL", "PUT", false, Global},
			{"POOL", "DELETE", false, Global},
		},
		Source: v2Src + "pools.py: requires_access_pool_bulk() (batch_is_authorized_pool)",
		Note:   "Only the methods the body's actions use are checked, per pool: create is POST, update PUT, delete DELETE; create with action_on_existence=overwrite also needs PUT.",
	},

	// providers.py
	"get_providers": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"VIEW.PROVIDERS", "GET", false, Global}},
		Source:   v2Src + "providers.py: requires_access_view(AccessView.PROVIDERS)",
	},

	// xcom.py
	"get_xcom_entry": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.XCOM", "GET", true, AnyDAG}},
		Source:   v2Src + "xcom.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.XCOM)",
	},
	"update_xcom_entry": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.XCOM", "PUT", true, Global}},
		Source:   v2Src + "xcom.py: requires_access_dag(method=\"PUT\", access_entity=DagAccessEntity.XCOM)",
		Note:     "action_logging runs before the check.",
	},
	"delete_xcom_entry": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.XCOM", "DELETE", true, Global}},
		Source:   v2Src + "xcom.py: requires_access_dag(method=\"DELETE\", access_entity=DagAccessEntity.XCOM)",
		Note:     "action_logging runs before the check.",
	},
	"get_xcom_entries": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.XCOM", "GET", true, AnyDAG}},
		Filter:   FilterReadable,
		Source:   v2Src + "xcom.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.XCOM); ReadableXComFilterDep",
		Note:     "dag_id, dag_run_id and task_id may each be \"~\".",
	},
	"create_xcom_entry": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.XCOM", "POST", true, Global}},
		Source:   v2Src + "xcom.py: requires_access_dag(method=\"POST\", access_entity=DagAccessEntity.XCOM)",
		Note:     "action_logging runs before the check.",
	},

	// task_instances.py
	"get_task_instance": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "GET", true, AnyDAG}},
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.TASK_INSTANCE)",
	},
	"patch_task_instance": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "PUT", true, Global}},
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"PUT\", access_entity=DagAccessEntity.TASK_INSTANCE)",
		Note:     "include_upstream/downstream/past/future can change other task instances and runs of the same DAG. action_logging runs before the check.",
	},
	"delete_task_instance": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "DELETE", true, Global}},
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"DELETE\", access_entity=DagAccessEntity.TASK_INSTANCE)",
	},
	"get_mapped_task_instances": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "GET", true, AnyDAG}},
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.TASK_INSTANCE)",
	},
	"get_task_instance_dependencies_by_map_index": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "GET", true, AnyDAG}},
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.TASK_INSTANCE)",
	},
	"get_task_instance_dependencies": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "GET", true, AnyDAG}},
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.TASK_INSTANCE)",
	},
	"get_task_instance_tries": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "GET", true, AnyDAG}},
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.TASK_INSTANCE)",
	},
	"get_mapped_task_instance_tries": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "GET", true, AnyDAG}},
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.TASK_INSTANCE)",
	},
	"get_mapped_task_instance": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "GET", true, AnyDAG}},
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.TASK_INSTANCE)",
	},
	"patch_task_instance_by_map_index": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "PUT", true, Global}},
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"PUT\", access_entity=DagAccessEntity.TASK_INSTANCE)",
		Note:     "include_upstream/downstream/past/future can change other task instances and runs of the same DAG. action_logging runs before the check.",
	},
	"get_task_instances": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "GET", true, AnyDAG}},
		Filter:   FilterReadable,
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.TASK_INSTANCE); ReadableTIFilterDep",
		Note:     "dag_id and dag_run_id may be \"~\".",
	},
	"bulk_task_instances": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "PUT", true, Global}},
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"PUT\", access_entity=DagAccessEntity.TASK_INSTANCE)",
		Note:     "The body may also delete task instances, but only PUT is checked, never DELETE; not audit-logged.",
	},
	"get_task_instances_batch": {
		Auth: AuthRequired, DAG: DAGBody,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "GET", true, AnyDAG}},
		Filter:   FilterReadable,
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.TASK_INSTANCE); ReadableTIFilterDep",
		Note:     "Path dag_id and dag_run_id are Literal[\"~\"]; body dag_ids only filter and are intersected with the readable DAGs (unlike Airflow 2, an unreadable id is not a 403). action_logging runs before the check.",
	},
	"get_task_instance_try_details": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "GET", true, AnyDAG}},
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.TASK_INSTANCE)",
	},
	"get_mapped_task_instance_try_details": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "GET", true, AnyDAG}},
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.TASK_INSTANCE)",
	},
	"post_clear_task_instances": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "PUT", true, Global}},
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"PUT\", access_entity=DagAccessEntity.TASK_INSTANCE)",
		Note:     "dry_run defaults to true; with reset_dag_runs the DAG runs are set back to queued with no DAG.RUN check. action_logging runs before the check.",
	},
	"patch_task_instance_dry_run_by_map_index": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "PUT", true, Global}},
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"PUT\", access_entity=DagAccessEntity.TASK_INSTANCE)",
		Note:     "Changes nothing, yet needs PUT.",
	},
	"patch_task_instance_dry_run": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "PUT", true, Global}},
		Source:   v2Src + "task_instances.py: requires_access_dag(method=\"PUT\", access_entity=DagAccessEntity.TASK_INSTANCE)",
		Note:     "Changes nothing, yet needs PUT.",
	},

	// tasks.py
	"get_tasks": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK", "GET", true, AnyDAG}},
		Source:   v2Src + "tasks.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.TASK)",
	},
	"get_task": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK", "GET", true, AnyDAG}},
		Source:   v2Src + "tasks.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.TASK)",
	},

	// variables.py
	"delete_variable": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"VARIABLE", "DELETE", false, Global}},
		Source:   v2Src + "variables.py: requires_access_variable(\"DELETE\")",
		Note:     "action_logging runs before the check. variable_key may contain \"/\".",
	},
	"get_variable": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"VARIABLE", "GET", false, Global}},
		Source:   v2Src + "variables.py: requires_access_variable(\"GET\")",
		Note:     "variable_key may contain \"/\".",
	},
	"patch_variable": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"VARIABLE", "PUT", false, Global}},
		Source:   v2Src + "variables.py: requires_access_variable(\"PUT\")",
		Note:     "action_logging runs before the check. variable_key may contain \"/\".",
	},
	"get_variables": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"VARIABLE", "GET", false, Global}},
		Source:   v2Src + "variables.py: requires_access_variable(\"GET\")",
	},
	"post_variable": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"VARIABLE", "POST", false, Global}},
		Source:   v2Src + "variables.py: requires_access_variable(\"POST\")",
		Note:     "action_logging runs before the check.",
	},
	"bulk_variables": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{
			{"VARIABLE", "POST", false, Global},
			{"VARIABLE", "PUT", false, Global},
			{"VARIABLE", "DELETE", false, Global},
		},
		Source: v2Src + "variables.py: requires_access_variable_bulk() (batch_is_authorized_variable)",
		Note:   "Only the methods the body's actions use are checked, per variable: create is POST, update PUT, delete DELETE; create with action_on_existence=overwrite also needs PUT. action_logging runs before the check.",
	},

	// log.py
	"get_log": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_LOGS", "GET", true, AnyDAG}},
		Source:   v2Src + "log.py: requires_access_dag(\"GET\", DagAccessEntity.TASK_LOGS)",
	},
	"get_external_log_url": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.TASK_INSTANCE", "GET", true, AnyDAG}},
		Source:   v2Src + "log.py: requires_access_dag(\"GET\", DagAccessEntity.TASK_INSTANCE)",
		Note:     "Checks TASK_INSTANCE, not TASK_LOGS.",
	},

	// dag_parsing.py
	"reparse_dag_file": {
		Auth: AuthRequired, DAG: DAGFileToken,
		Requires: []Perm{{"DAG", "PUT", true, Global}},
		Source:   v2Src + "dag_parsing.py: requires_access_dag(method=\"PUT\")",
		Note:     "Missing check: the path has no dag_id, so only global DAG PUT is checked; the handler builds per-DAG requests for the file's DAGs but never calls batch_is_authorized_dag.",
	},

	// dag_tags.py
	"get_dag_tags": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"DAG", "GET", true, AnyDAG}},
		Filter:   FilterReadable,
		Source:   v2Src + "dag_tags.py: requires_access_dag(method=\"GET\"); ReadableTagsFilterDep",
	},

	// dag_versions.py
	"get_dag_version": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.VERSION", "GET", true, AnyDAG}},
		Source:   v2Src + "dag_versions.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.VERSION)",
	},
	"get_dag_versions": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.VERSION", "GET", true, AnyDAG}},
		Source:   v2Src + "dag_versions.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.VERSION)",
		Note:     "Missing filter: with dag_id \"~\" the versions of every DAG are listed, readable or not.",
	},

	// hitl.py
	"update_hitl_detail": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.HITL_DETAIL", "PUT", true, Global}},
		Source:   v2Src + "hitl.py: requires_access_dag(method=\"PUT\", access_entity=DagAccessEntity.HITL_DETAIL)",
		Note:     "When the task names assigned users, the handler also answers 403 unless the caller is one of them; a response can be given only once (409).",
	},
	"get_hitl_detail": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.HITL_DETAIL", "GET", true, AnyDAG}},
		Source:   v2Src + "hitl.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.HITL_DETAIL)",
	},
	"get_hitl_details": {
		Auth: AuthRequired, DAG: DAGPath,
		Requires: []Perm{{"DAG.HITL_DETAIL", "GET", true, AnyDAG}},
		Filter:   FilterReadable,
		Source:   v2Src + "hitl.py: requires_access_dag(method=\"GET\", access_entity=DagAccessEntity.HITL_DETAIL); ReadableTIFilterDep",
		Note:     "dag_id and dag_run_id may be \"~\".",
	},

	// monitor.py, version.py, auth.py: no authentication.
	"get_health": {
		Auth: AuthNone, DAG: DAGNone,
		Source: v2Src + "monitor.py: no dependency",
	},
	"get_version": {
		Auth: AuthNone, DAG: DAGNone,
		Source: v2Src + "version.py: no dependency",
	},
	"login": {
		Auth: AuthNone, DAG: DAGNone,
		Source: v2Src + "auth.py: no dependency",
		Note:   "Redirects to the auth manager's login URL; next must pass is_safe_url.",
	},
	"logout": {
		Auth: AuthNone, DAG: DAGNone,
		Source: v2Src + "auth.py: no dependency",
		Note:   "Deletes the _token cookie and redirects to the auth manager's logout or login URL.",
	},
}
