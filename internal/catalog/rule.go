package catalog

// API names one of the HTTP APIs an Airflow deployment serves.
type API string

// The APIs airgate knows.
const (
	// V1 is Airflow 2's stable REST API, served under /api/v1.
	V1 API = "v1"
	// V2 is Airflow 3's public REST API, served under /api/v2.
	V2 API = "v2"
	// Auth is the Airflow 3 auth manager's sub-application, mounted at /auth.
	Auth API = "auth"
)

// AuthLevel says whether Airflow authenticates and authorizes an operation.
type AuthLevel string

// Authentication levels, as reported by `airgate routes classify`.
const (
	// AuthRequired: Airflow checks one or more permissions (Rule.Requires).
	AuthRequired AuthLevel = "required"
	// AuthAuthenticated: any signed-in caller may call it; Requires is empty.
	AuthAuthenticated AuthLevel = "authenticated"
	// AuthNone: Airflow serves it without authentication.
	AuthNone AuthLevel = "none"
)

// DAGSource says where Airflow takes the DAG id it checks from.
type DAGSource string

// DAG id sources.
const (
	// DAGNone: the operation involves no particular DAG.
	DAGNone DAGSource = "none"
	// DAGPath: the dag_id path parameter; "~" in it means every permitted DAG.
	DAGPath DAGSource = "path"
	// DAGQuery: the optional dag_id query parameter (Airflow 2 only: /eventLogs
	// and /dagWarnings pass it to the security decorator).
	DAGQuery DAGSource = "query"
	// DAGBody: DAG ids named in the request body (batch endpoints); Airflow
	// either intersects them with the permitted DAGs or checks each of them.
	DAGBody DAGSource = "body"
	// DAGFileToken: the DAG ids of every DAG in the file named by a signed
	// file token (dagSources/{file_token}, parseDagFile/{file_token}).
	DAGFileToken DAGSource = "file_token"
)

// Perm is one permission Airflow checks for an operation, in Airflow's own
// words.
//
// For Airflow 2 (API V1 and Auth), Resource is a FAB resource such as "DAGs"
// or "DAG Runs" and Action a FAB action such as "can_read". For Airflow 3
// (API V2), Resource is an auth manager entity ("DAG", "DAG.RUN",
// "CONNECTION", "VIEW.PLUGINS", ...) and Action an HTTP method name (GET,
// POST, PUT, DELETE).
//
// PerDAG is true when Airflow checks the permission for the request's DAG
// (FAB's per-DAG resources "DAG:<id>" and "DAG Run:<id>", or the auth
// manager's DagDetails), so that a grant for that one DAG satisfies it.
// WithoutDAG says what Airflow does with a PerDAG permission when the request
// names no DAG (a "~" wildcard, an absent optional dag_id, a list endpoint).
type Perm struct {
	Resource   string
	Action     string
	PerDAG     bool
	WithoutDAG Fallback
}

// Fallback is how Airflow checks a per-DAG permission when the request names
// no DAG.
type Fallback uint8

// Fallbacks.
const (
	// Global: the permission must be held for every DAG (FAB: on the global
	// resource such as "DAGs").
	Global Fallback = iota
	// AnyDAG: holding the permission for at least one DAG suffices; Airflow
	// then narrows the response (Airflow 2's GET/PUT fallback to
	// get_permitted_dag_ids; Airflow 3 FAB's GET on any "DAG:*").
	AnyDAG
	// Skip: Airflow does not check it at all without a DAG id (Airflow 2's
	// DAG-level check that precedes an access-entity check).
	Skip
)

// String returns the fallback's name.
func (f Fallback) String() string {
	switch f {
	case Global:
		return "global"
	case AnyDAG:
		return "any_dag"
	case Skip:
		return "skip"
	}
	return "unknown"
}

// Filter says how Airflow narrows an operation's response to the caller's
// DAGs.
type Filter string

// Response filters.
const (
	// FilterNone: the response is not narrowed by DAG.
	FilterNone Filter = ""
	// FilterReadable: only DAGs the caller may read (GET).
	FilterReadable Filter = "readable"
	// FilterReadableOrEditable: DAGs the caller may read or edit (Airflow 2's
	// get_permitted_dag_ids with no methods argument: GET or PUT).
	FilterReadableOrEditable Filter = "readable_or_editable"
	// FilterEditable: only DAGs the caller may edit (PUT).
	FilterEditable Filter = "editable"
)

// Rule is what Airflow's code checks for one operation. Rules are keyed by
// API and operationId; the route table itself comes from the OpenAPI spec.
type Rule struct {
	// Auth is the authentication level; AuthRequired rules list Requires.
	Auth AuthLevel
	// DAG says where the DAG id comes from.
	DAG DAGSource
	// Requires lists every permission Airflow checks; all must hold.
	Requires []Perm
	// Filter says whether and how the response is narrowed to the caller's
	// DAGs.
	Filter Filter
	// Source names the Airflow source that defines the check, for reviewers:
	// file and, where useful, the decorator or dependency.
	Source string
	// Note records a trap worth knowing (a missing check, a feature flag).
	Note string
}
