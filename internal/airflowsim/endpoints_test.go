package airflowsim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Runs the default DAGs have at testNow.
const (
	seededTeamA   = "scheduled__2025-06-15T09:00:00+00:00"
	seededTeamB   = "scheduled__2025-06-14T06:00:00+00:00"
	seededFinance = "manual__2025-06-15T07:30:00+00:00"
)

type endpointCase struct {
	name         string
	api          string
	method, path string
	body         string
	anon         bool           // send no credentials
	opts         func(*Options) // server options beyond the fixture's
	accept       string
	status       int
	// unspecified marks answers the specification does not document: 404s
	// for paths the double does not serve, and the 400s Airflow 2's request
	// validation gives on operations whose specification lists no 400.
	// Their error shape is checked instead.
	unspecified bool
	check       func(t *testing.T, body []byte)
}

func exposeConfig(o *Options) { o.ExposeConfig = true }

// total checks total_entries and the length of the named list.
func total(list string, entries, items int) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		t.Helper()
		m := decode(t, body)
		if got := m["total_entries"]; got != json.Number(itoa(entries)) {
			t.Errorf("total_entries = %v, want %d", got, entries)
		}
		if got := len(m[list].([]any)); got != items {
			t.Errorf("len(%s) = %d, want %d", list, got, items)
		}
	}
}

// field checks one top-level field's JSON encoding.
func field(name, want string) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		t.Helper()
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("decoding %s: %v", body, err)
		}
		if got := string(m[name]); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
}

func contains(sub string) func(*testing.T, []byte) {
	return func(t *testing.T, body []byte) {
		t.Helper()
		if !strings.Contains(string(body), sub) {
			t.Errorf("body %s does not contain %q", body, sub)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func v1Cases() []endpointCase {
	a := APIv1
	return []endpointCase{
		{name: "list dags", api: a, method: "GET", path: "/dags", status: 200, check: total("dags", 4, 4)},
		{name: "list dags paged", api: a, method: "GET", path: "/dags?limit=2&offset=1", status: 200, check: total("dags", 4, 2)},
		{name: "list dags by tag", api: a, method: "GET", path: "/dags?tags=team-a", status: 200, check: total("dags", 2, 2)},
		{name: "list dags by two tags", api: a, method: "GET", path: "/dags?tags=team-b&tags=finance", status: 200, check: total("dags", 2, 2)},
		{name: "list dags by pattern", api: a, method: "GET", path: "/dags?dag_id_pattern=daily", status: 200, check: total("dags", 2, 2)},
		{name: "list dags paused", api: a, method: "GET", path: "/dags?paused=true", status: 200, check: total("dags", 1, 1)},
		{name: "list dags bad limit", api: a, method: "GET", path: "/dags?limit=many", status: 400, unspecified: true},
		{name: "get dag cron", api: a, method: "GET", path: "/dags/team_a_daily", status: 200,
			check: field("schedule_interval", `{"__type":"CronExpression","value":"0 * * * *"}`)},
		{name: "get dag timedelta", api: a, method: "GET", path: "/dags/team_a_hourly", status: 200,
			check: field("schedule_interval", `{"__type":"TimeDelta","days":0,"microseconds":0,"seconds":3600}`)},
		{name: "get dag none", api: a, method: "GET", path: "/dags/finance_report", status: 200,
			check: field("schedule_interval", `null`)},
		{name: "get dag next run", api: a, method: "GET", path: "/dags/team_a_daily", status: 200,
			check: field("next_dagrun", `"2025-06-15T10:00:00+00:00"`)},
		{name: "get dag missing", api: a, method: "GET", path: "/dags/nope", status: 404},
		{name: "dag details", api: a, method: "GET", path: "/dags/team_b_daily/details", status: 200,
			check: field("timetable_description", `"At 06:00"`)},
		{name: "dag details none", api: a, method: "GET", path: "/dags/finance_report/details", status: 200},
		{name: "dag details missing", api: a, method: "GET", path: "/dags/nope/details", status: 404},
		{name: "pause dag", api: a, method: "PATCH", path: "/dags/team_a_daily", body: `{"is_paused": true}`, status: 200,
			check: field("is_paused", "true")},
		{name: "pause dag with mask", api: a, method: "PATCH", path: "/dags/team_a_daily?update_mask=is_paused", body: `{"is_paused": true}`, status: 200},
		{name: "patch read-only field", api: a, method: "PATCH", path: "/dags/team_a_daily", body: `{"is_paused": true, "owners": []}`, status: 400, unspecified: true,
			check: contains("Unknown field.")},
		{name: "patch other mask", api: a, method: "PATCH", path: "/dags/team_a_daily?update_mask=owners", body: `{"is_paused": true}`, status: 400, unspecified: true},
		{name: "patch missing dag", api: a, method: "PATCH", path: "/dags/nope", body: `{"is_paused": true}`, status: 404},
		{name: "tasks", api: a, method: "GET", path: "/dags/finance_report/tasks", status: 200, check: contains(`"class_name":"EmailOperator"`)},
		{name: "tasks missing dag", api: a, method: "GET", path: "/dags/nope/tasks", status: 404},
		{name: "runs of a dag", api: a, method: "GET", path: "/dags/team_a_daily/dagRuns", status: 200, check: total("dag_runs", 1, 1)},
		{name: "runs of every dag", api: a, method: "GET", path: "/dags/~/dagRuns", status: 200, check: total("dag_runs", 4, 4)},
		{name: "runs by state", api: a, method: "GET", path: "/dags/~/dagRuns?state=failed", status: 200, check: total("dag_runs", 1, 1)},
		{name: "runs of unknown dag", api: a, method: "GET", path: "/dags/nope/dagRuns", status: 200, check: total("dag_runs", 0, 0)},
		{name: "trigger", api: a, method: "POST", path: "/dags/team_a_daily/dagRuns",
			body: `{"dag_run_id": "by-hand", "conf": {"rows": 3}, "note": "checking the gateway"}`, status: 200,
			check: field("note", `"checking the gateway"`)},
		{name: "trigger empty", api: a, method: "POST", path: "/dags/finance_report/dagRuns", body: `{}`, status: 200,
			check: field("dag_run_id", `"manual__2025-06-15T10:30:00+00:00"`)},
		{name: "trigger with logical date", api: a, method: "POST", path: "/dags/team_a_daily/dagRuns",
			body: `{"logical_date": "2025-06-01T12:00:00Z"}`, status: 200,
			check: field("data_interval_start", `"2025-06-01T11:00:00+00:00"`)},
		{name: "trigger duplicate run id", api: a, method: "POST", path: "/dags/team_a_daily/dagRuns",
			body: `{"dag_run_id": "` + seededTeamA + `"}`, status: 409},
		{name: "trigger unknown field", api: a, method: "POST", path: "/dags/team_a_daily/dagRuns", body: `{"state": "running"}`, status: 400,
			check: contains(`{'state': ['Unknown field.']}`)},
		{name: "trigger bad run id", api: a, method: "POST", path: "/dags/team_a_daily/dagRuns", body: `{"dag_run_id": "a b"}`, status: 400},
		{name: "trigger not json", api: a, method: "POST", path: "/dags/team_a_daily/dagRuns", body: `{`, status: 400},
		{name: "trigger missing dag", api: a, method: "POST", path: "/dags/nope/dagRuns", body: `{}`, status: 404},
		{name: "runs batch", api: a, method: "POST", path: "/dags/~/dagRuns/list", body: `{"dag_ids": ["team_a_daily", "finance_report"]}`, status: 200,
			check: total("dag_runs", 2, 2)},
		{name: "runs batch page", api: a, method: "POST", path: "/dags/~/dagRuns/list", body: `{"page_limit": 1, "page_offset": 1}`, status: 200,
			check: total("dag_runs", 4, 1)},
		{name: "runs batch bad limit", api: a, method: "POST", path: "/dags/~/dagRuns/list", body: `{"page_limit": 0}`, status: 400},
		{name: "get run", api: a, method: "GET", path: "/dags/team_a_daily/dagRuns/" + seededTeamA, status: 200,
			check: field("state", `"success"`)},
		{name: "get failed run", api: a, method: "GET", path: "/dags/finance_report/dagRuns/" + seededFinance, status: 200,
			check: field("state", `"failed"`)},
		{name: "get missing run", api: a, method: "GET", path: "/dags/team_a_daily/dagRuns/nope", status: 404},
		{name: "task instances", api: a, method: "GET", path: "/dags/team_a_daily/dagRuns/" + seededTeamA + "/taskInstances", status: 200,
			check: total("task_instances", 3, 3)},
		{name: "all task instances", api: a, method: "GET", path: "/dags/~/dagRuns/~/taskInstances", status: 200,
			check: total("task_instances", 12, 12)},
		{name: "failed task instances", api: a, method: "GET", path: "/dags/~/dagRuns/~/taskInstances?state=failed", status: 200,
			check: total("task_instances", 1, 1)},
		{name: "dag stats", api: a, method: "GET", path: "/dagStats?dag_ids=team_a_daily,finance_report,nope", status: 200,
			check: total("dags", 2, 2)},
		{name: "dag stats without ids", api: a, method: "GET", path: "/dagStats", status: 400, unspecified: true},
		{name: "event logs", api: a, method: "GET", path: "/eventLogs", status: 200, check: total("event_logs", 2, 2)},
		{name: "import errors", api: a, method: "GET", path: "/importErrors", status: 200, check: total("import_errors", 1, 1)},
		{name: "variables", api: a, method: "GET", path: "/variables", status: 200, check: total("variables", 3, 3)},
		{name: "variable", api: a, method: "GET", path: "/variables/finance_api_secret", status: 200,
			check: field("value", `"s3cr3t-finance-key"`)},
		{name: "variable missing", api: a, method: "GET", path: "/variables/nope", status: 404},
		{name: "create variable", api: a, method: "POST", path: "/variables", body: `{"key": "new", "value": "v"}`, status: 200},
		{name: "create variable without value", api: a, method: "POST", path: "/variables", body: `{"key": "new"}`, status: 400},
		{name: "update variable", api: a, method: "PATCH", path: "/variables/environment", body: `{"key": "environment", "value": "test"}`, status: 200,
			check: field("value", `"test"`)},
		{name: "update variable key mismatch", api: a, method: "PATCH", path: "/variables/environment", body: `{"key": "other", "value": "x"}`, status: 400},
		{name: "update missing variable", api: a, method: "PATCH", path: "/variables/nope", body: `{"key": "nope", "value": "x"}`, status: 404},
		{name: "delete variable", api: a, method: "DELETE", path: "/variables/environment", status: 204},
		{name: "delete missing variable", api: a, method: "DELETE", path: "/variables/nope", status: 404},
		{name: "connections", api: a, method: "GET", path: "/connections", status: 200, check: total("connections", 2, 2)},
		{name: "connection", api: a, method: "GET", path: "/connections/team_a_http", status: 200, check: field("extra", `"{\"timeout\": 30}"`)},
		{name: "connection missing", api: a, method: "GET", path: "/connections/nope", status: 404},
		{name: "pools", api: a, method: "GET", path: "/pools", status: 200, check: total("pools", 2, 2)},
		{name: "pool", api: a, method: "GET", path: "/pools/default_pool", status: 200, check: field("open_slots", "128")},
		{name: "pool missing", api: a, method: "GET", path: "/pools/nope", status: 404},
		{name: "config hidden", api: a, method: "GET", path: "/config", status: 403},
		{name: "config json", api: a, method: "GET", path: "/config", opts: exposeConfig, accept: "application/json", status: 200,
			check: contains(`"name":"api"`)},
		{name: "config text", api: a, method: "GET", path: "/config", opts: exposeConfig, status: 200, check: contains("[core]\n")},
		{name: "config section", api: a, method: "GET", path: "/config?section=core", opts: exposeConfig, accept: "application/json", status: 200},
		{name: "config missing section", api: a, method: "GET", path: "/config?section=nope", opts: exposeConfig, status: 404},
		{name: "health", api: a, method: "GET", path: "/health", anon: true, status: 200},
		{name: "version", api: a, method: "GET", path: "/version", anon: true, status: 200, check: field("version", `"`+Airflow2Version+`"`)},
		{name: "change password", api: a, method: "PATCH", path: "/users/" + testUser, body: `{"password": "new one"}`, status: 200,
			check: field("username", `"`+testUser+`"`)},
		{name: "change other user", api: a, method: "PATCH", path: "/users/someone", body: `{"password": "x"}`, status: 404},
		{name: "unauthenticated", api: a, method: "GET", path: "/dags", anon: true, status: 401},
		{name: "unauthenticated trigger", api: a, method: "POST", path: "/dags/team_a_daily/dagRuns", body: `{}`, anon: true, status: 401},
		{name: "unserved spec path", api: a, method: "GET", path: "/plugins", status: 404, unspecified: true},
		{name: "unserved method", api: a, method: "DELETE", path: "/dags/team_a_daily", status: 404, unspecified: true},
		{name: "unknown path", api: a, method: "GET", path: "/nothing/here", anon: true, status: 404, unspecified: true},
	}
}

func v2Cases() []endpointCase {
	a := APIv2
	return []endpointCase{
		{name: "list dags", api: a, method: "GET", path: "/dags", status: 200, check: total("dags", 4, 4)},
		{name: "list dags paged", api: a, method: "GET", path: "/dags?limit=1&offset=3", status: 200, check: total("dags", 4, 1)},
		{name: "list dags by tags any", api: a, method: "GET", path: "/dags?tags=team-a&tags=etl", status: 200, check: total("dags", 3, 3)},
		{name: "list dags by tags all", api: a, method: "GET", path: "/dags?tags=team-a&tags=etl&tags_match_mode=all", status: 200, check: total("dags", 1, 1)},
		{name: "list dags by pattern", api: a, method: "GET", path: "/dags?dag_id_pattern=team_%25_daily", status: 200, check: total("dags", 2, 2)},
		{name: "list dags by owner", api: a, method: "GET", path: "/dags?owners=finance", status: 200, check: total("dags", 1, 1)},
		{name: "list dags bad offset", api: a, method: "GET", path: "/dags?offset=-1", status: 422},
		{name: "get dag cron", api: a, method: "GET", path: "/dags/team_a_daily", status: 200, check: field("timetable_summary", `"0 * * * *"`)},
		{name: "get dag timedelta", api: a, method: "GET", path: "/dags/team_a_hourly", status: 200, check: field("timetable_summary", `"1:00:00"`)},
		{name: "get dag none", api: a, method: "GET", path: "/dags/finance_report", status: 200, check: field("timetable_summary", `null`)},
		{name: "get dag next run", api: a, method: "GET", path: "/dags/team_b_daily", status: 200,
			check: field("next_dagrun_run_after", `"2025-06-16T06:00:00Z"`)},
		{name: "get dag missing", api: a, method: "GET", path: "/dags/nope", status: 404},
		{name: "dag details", api: a, method: "GET", path: "/dags/team_a_daily/details", status: 200},
		{name: "dag details none", api: a, method: "GET", path: "/dags/finance_report/details", status: 200},
		{name: "dag details missing", api: a, method: "GET", path: "/dags/nope/details", status: 404},
		{name: "unpause dag", api: a, method: "PATCH", path: "/dags/team_b_daily", body: `{"is_paused": false}`, status: 200,
			check: field("is_paused", "false")},
		{name: "patch extra field", api: a, method: "PATCH", path: "/dags/team_b_daily", body: `{"is_paused": false, "owners": []}`, status: 422,
			check: contains(`"extra_forbidden"`)},
		{name: "patch without is_paused", api: a, method: "PATCH", path: "/dags/team_b_daily", body: `{}`, status: 422},
		{name: "patch missing dag", api: a, method: "PATCH", path: "/dags/nope", body: `{"is_paused": false}`, status: 404},
		{name: "tasks", api: a, method: "GET", path: "/dags/team_a_daily/tasks", status: 200, check: total("tasks", 3, 3)},
		{name: "tasks missing dag", api: a, method: "GET", path: "/dags/nope/tasks", status: 404},
		{name: "runs of a dag", api: a, method: "GET", path: "/dags/team_b_daily/dagRuns", status: 200, check: total("dag_runs", 1, 1)},
		{name: "runs of every dag", api: a, method: "GET", path: "/dags/~/dagRuns", status: 200, check: total("dag_runs", 4, 4)},
		{name: "runs of unknown dag", api: a, method: "GET", path: "/dags/nope/dagRuns", status: 404},
		{name: "trigger without logical date", api: a, method: "POST", path: "/dags/team_a_daily/dagRuns",
			body: `{"logical_date": null, "note": "from the gateway", "conf": {"x": [1, 2]}}`, status: 200,
			check: field("triggering_user_name", `"alice"`)},
		{name: "trigger with logical date", api: a, method: "POST", path: "/dags/team_b_daily/dagRuns",
			body: `{"logical_date": "2025-06-10T08:00:00Z", "dag_run_id": "mine"}`, status: 200,
			check: field("data_interval_end", `"2025-06-10T06:00:00Z"`)},
		{name: "trigger missing logical date", api: a, method: "POST", path: "/dags/team_a_daily/dagRuns", body: `{}`, status: 422,
			check: contains(`"missing"`)},
		{name: "trigger unknown field", api: a, method: "POST", path: "/dags/team_a_daily/dagRuns",
			body: `{"logical_date": null, "execution_date": "2025-06-10T08:00:00Z"}`, status: 422, check: contains(`"extra_forbidden"`)},
		{name: "trigger bad date", api: a, method: "POST", path: "/dags/team_a_daily/dagRuns", body: `{"logical_date": "yesterday"}`, status: 422},
		{name: "trigger half interval", api: a, method: "POST", path: "/dags/team_a_daily/dagRuns",
			body: `{"logical_date": null, "data_interval_start": "2025-06-10T08:00:00Z"}`, status: 422},
		{name: "trigger not json", api: a, method: "POST", path: "/dags/team_a_daily/dagRuns", body: `nope`, status: 422},
		{name: "trigger duplicate", api: a, method: "POST", path: "/dags/team_a_daily/dagRuns",
			body: `{"logical_date": null, "dag_run_id": "` + seededTeamA + `"}`, status: 409},
		{name: "trigger missing dag", api: a, method: "POST", path: "/dags/nope/dagRuns", body: `{"logical_date": null}`, status: 404},
		{name: "runs batch", api: a, method: "POST", path: "/dags/~/dagRuns/list", body: `{"dag_ids": ["team_b_daily"]}`, status: 200,
			check: total("dag_runs", 1, 1)},
		{name: "runs batch by state", api: a, method: "POST", path: "/dags/~/dagRuns/list", body: `{"states": ["success"]}`, status: 200,
			check: total("dag_runs", 3, 3)},
		{name: "runs batch extra field", api: a, method: "POST", path: "/dags/~/dagRuns/list", body: `{"execution_date_gte": "2025-06-10T08:00:00Z"}`, status: 422},
		{name: "runs batch not tilde", api: a, method: "POST", path: "/dags/team_a_daily/dagRuns/list", body: `{}`, status: 422},
		{name: "get run", api: a, method: "GET", path: "/dags/team_b_daily/dagRuns/" + seededTeamB, status: 200,
			check: field("triggered_by", `"timetable"`)},
		{name: "get missing run", api: a, method: "GET", path: "/dags/team_b_daily/dagRuns/nope", status: 404},
		{name: "task instances", api: a, method: "GET", path: "/dags/finance_report/dagRuns/" + seededFinance + "/taskInstances", status: 200,
			check: total("task_instances", 3, 3)},
		{name: "all task instances", api: a, method: "GET", path: "/dags/~/dagRuns/~/taskInstances?limit=5", status: 200,
			check: total("task_instances", 12, 5)},
		{name: "task instances of missing dag", api: a, method: "GET", path: "/dags/nope/dagRuns/~/taskInstances", status: 404},
		{name: "task instances of missing run", api: a, method: "GET", path: "/dags/team_a_daily/dagRuns/nope/taskInstances", status: 404},
		{name: "dag stats", api: a, method: "GET", path: "/dagStats?dag_ids=team_a_daily&dag_ids=finance_report", status: 200,
			check: total("dags", 2, 2)},
		{name: "dag stats of all", api: a, method: "GET", path: "/dagStats", status: 200, check: total("dags", 4, 4)},
		{name: "event logs", api: a, method: "GET", path: "/eventLogs", status: 200, check: total("event_logs", 2, 2)},
		{name: "event logs filtered", api: a, method: "GET", path: "/eventLogs?event=cli_scheduler", status: 200, check: total("event_logs", 1, 1)},
		{name: "import errors", api: a, method: "GET", path: "/importErrors", status: 200, check: total("import_errors", 1, 1)},
		{name: "variables", api: a, method: "GET", path: "/variables", status: 200, check: contains(`"value":"***"`)},
		{name: "variables by pattern", api: a, method: "GET", path: "/variables?variable_key_pattern=team", status: 200, check: total("variables", 1, 1)},
		{name: "variable", api: a, method: "GET", path: "/variables/environment", status: 200, check: field("value", `"demo"`)},
		{name: "secret variable", api: a, method: "GET", path: "/variables/finance_api_secret", status: 200, check: field("value", `"***"`)},
		{name: "variable missing", api: a, method: "GET", path: "/variables/nope", status: 404},
		{name: "create variable", api: a, method: "POST", path: "/variables", body: `{"key": "limits", "value": {"rows": 5}}`, status: 201,
			check: field("value", `"{\"rows\":5}"`)},
		{name: "create existing variable", api: a, method: "POST", path: "/variables", body: `{"key": "environment", "value": "x"}`, status: 409},
		{name: "create variable extra field", api: a, method: "POST", path: "/variables", body: `{"key": "k", "value": "x", "secret": true}`, status: 422},
		{name: "update variable", api: a, method: "PATCH", path: "/variables/environment", body: `{"key": "environment", "value": "test"}`, status: 200},
		{name: "update variable key mismatch", api: a, method: "PATCH", path: "/variables/environment", body: `{"key": "x", "value": "test"}`, status: 400},
		{name: "delete variable", api: a, method: "DELETE", path: "/variables/environment", status: 204},
		{name: "delete missing variable", api: a, method: "DELETE", path: "/variables/nope", status: 404},
		{name: "connections", api: a, method: "GET", path: "/connections", status: 200, check: total("connections", 2, 2)},
		{name: "connection", api: a, method: "GET", path: "/connections/postgres_default", status: 200, check: field("password", `"***"`)},
		{name: "connection missing", api: a, method: "GET", path: "/connections/nope", status: 404},
		{name: "pools", api: a, method: "GET", path: "/pools", status: 200, check: total("pools", 2, 2)},
		{name: "pool", api: a, method: "GET", path: "/pools/team_a_pool", status: 200, check: field("slots", "8")},
		{name: "pool missing", api: a, method: "GET", path: "/pools/nope", status: 404},
		{name: "config hidden", api: a, method: "GET", path: "/config", status: 403},
		{name: "config json", api: a, method: "GET", path: "/config", opts: exposeConfig, status: 200, check: contains(`"name":"api_auth"`)},
		{name: "config text", api: a, method: "GET", path: "/config", opts: exposeConfig, accept: "text/plain", status: 200,
			check: contains("jwt_audience = apache-airflow\n")},
		{name: "health", api: a, method: "GET", path: "/monitor/health", anon: true, status: 200},
		{name: "version", api: a, method: "GET", path: "/version", anon: true, status: 200, check: field("version", `"`+Airflow3Version+`"`)},
		{name: "unauthenticated", api: a, method: "GET", path: "/dags", anon: true, status: 401, check: field("detail", `"Not authenticated"`)},
		{name: "unserved spec path", api: a, method: "GET", path: "/plugins", status: 404, unspecified: true},
		{name: "v1 only path", api: a, method: "PATCH", path: "/users/" + testUser, body: `{}`, status: 404, unspecified: true},
	}
}

// TestEndpoints drives every endpoint of both APIs through real HTTP and
// validates each answer's status and body against Airflow's specification,
// rejecting properties the specification does not declare.
func TestEndpoints(t *testing.T) {
	cases := append(v1Cases(), v2Cases()...)
	for _, tc := range cases {
		t.Run(tc.api+"/"+tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts)
			var auths []auth
			if !tc.anon {
				if tc.api == APIv1 {
					auths = append(auths, basic(testUser, testPassword))
				} else {
					auths = append(auths, bearer(f.token))
				}
			}
			if tc.accept != "" {
				auths = append(auths, header("Accept", tc.accept))
			}
			req, resp, body := f.do(tc.method, "/api/"+tc.api+tc.path, tc.body, auths...)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.status)
			}
			if tc.unspecified {
				checkErrorShape(t, tc.api, resp, body)
			} else if err := ValidateResponseStrict(tc.api, req, resp.StatusCode, resp.Header, body); err != nil {
				t.Errorf("ValidateResponseStrict() = %v\nbody: %s", err, body)
			}
			if tc.check != nil {
				tc.check(t, body)
			}
		})
	}
}

// checkErrorShape checks an error the specification does not document:
// v1 a problem with type, title, status and detail, v2 {"detail": "..."}.
func checkErrorShape(t *testing.T, api string, resp *http.Response, body []byte) {
	t.Helper()
	m := decode(t, body)
	if api == APIv2 {
		if _, isString := m["detail"].(string); len(m) != 1 || !isString {
			t.Errorf("v2 error body = %s, want {\"detail\": \"...\"}", body)
		}
		return
	}
	for _, k := range []string{"type", "title", "status", "detail"} {
		if _, ok := m[k]; !ok {
			t.Errorf("v1 error body %s lacks %q", body, k)
		}
	}
	if m["status"] != json.Number(itoa(resp.StatusCode)) {
		t.Errorf("v1 error body status = %v, want %d", m["status"], resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
}
