package airflowsim

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// mutateJSON decodes body, applies edit, and encodes it again.
func mutateJSON(t *testing.T, body []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func jsonHeader(ct string) http.Header { return http.Header{"Content-Type": {ct}} }

// TestValidateResponseCatchesDrift shows the validator is not vacuous: a
// good body passes, and each kind of drift from the specification fails.
func TestValidateResponseCatchesDrift(t *testing.T) {
	f := newFixture(t, nil)
	_, _, dag2 := f.v2("GET", "/dags/team_a_daily", "")
	_, _, dag1 := f.v1("GET", "/dags/team_a_daily", "")
	_, _, run2 := f.v2("GET", "/dags/team_b_daily/dagRuns/"+seededTeamB, "")
	req2 := httptest.NewRequest("GET", "/api/v2/dags/team_a_daily", nil)
	req1 := httptest.NewRequest("GET", "/api/v1/dags/team_a_daily", nil)
	reqRun := httptest.NewRequest("GET", "/api/v2/dags/team_b_daily/dagRuns/"+seededTeamB, nil)
	appJSON := jsonHeader("application/json")

	tests := []struct {
		name    string
		api     string
		req     *http.Request
		status  int
		header  http.Header
		body    []byte
		strict  bool
		wantErr string // empty: must pass
	}{
		{name: "v2 dag as served", api: APIv2, req: req2, status: 200, header: appJSON, body: dag2, strict: true},
		{name: "v1 dag as served", api: APIv1, req: req1, status: 200, header: appJSON, body: dag1, strict: true},
		{name: "v2 missing required property", api: APIv2, req: req2, status: 200, header: appJSON,
			body:    mutateJSON(t, dag2, func(m map[string]any) { delete(m, "timetable_summary") }),
			wantErr: "timetable_summary"},
		{name: "v2 null where not nullable", api: APIv2, req: req2, status: 200, header: appJSON,
			body:    mutateJSON(t, dag2, func(m map[string]any) { m["fileloc"] = nil }),
			wantErr: "fileloc"},
		{name: "v2 wrong type", api: APIv2, req: req2, status: 200, header: appJSON,
			body:    mutateJSON(t, dag2, func(m map[string]any) { m["is_paused"] = "no" }),
			wantErr: "is_paused"},
		{name: "v2 bad enum", api: APIv2, req: reqRun, status: 200, header: appJSON,
			body:    mutateJSON(t, run2, func(m map[string]any) { m["state"] = "paused" }),
			wantErr: "state"},
		{name: "v2 bad date-time", api: APIv2, req: reqRun, status: 200, header: appJSON,
			body:    mutateJSON(t, run2, func(m map[string]any) { m["run_after"] = "yesterday" }),
			wantErr: "run_after"},
		{name: "v1 wrong type", api: APIv1, req: req1, status: 200, header: appJSON,
			body:    mutateJSON(t, dag1, func(m map[string]any) { m["max_active_runs"] = "16" }),
			wantErr: "max_active_runs"},
		{name: "v1 schedule without value", api: APIv1, req: req1, status: 200, header: appJSON,
			body: mutateJSON(t, dag1, func(m map[string]any) {
				m["schedule_interval"] = map[string]any{"__type": "CronExpression"}
			}),
			wantErr: "schedule_interval"},
		{name: "v2 undeclared property passes plain validation", api: APIv2, req: req2, status: 200, header: appJSON,
			body: mutateJSON(t, dag2, func(m map[string]any) { m["schedule_interval"] = "0 * * * *" })},
		{name: "v2 undeclared property fails strict validation", api: APIv2, req: req2, status: 200, header: appJSON,
			body:   mutateJSON(t, dag2, func(m map[string]any) { m["schedule_interval"] = "0 * * * *" }),
			strict: true, wantErr: "$.schedule_interval"},
		{name: "v1 nested undeclared property", api: APIv1, req: req1, status: 200, header: appJSON,
			body:   mutateJSON(t, dag1, func(m map[string]any) { m["tags"] = []any{map[string]any{"name": "x", "dag_id": "y"}} }),
			strict: true, wantErr: "$.tags[0].dag_id"},
		{name: "undocumented status", api: APIv2, req: req2, status: 418, header: appJSON, body: []byte(`{"detail":"teapot"}`),
			wantErr: "status is not supported"},
		{name: "v1 problem json", api: APIv1, req: req1, status: 404, header: jsonHeader("application/problem+json"),
			body: []byte(`{"detail":"DAG with dag_id: 'x' not found","status":404,"title":"DAG not found","type":"about:blank"}`), strict: true},
		{name: "v1 problem with null detail, as Airflow 2 sends on 401", api: APIv1, req: req1, status: 401,
			header:  jsonHeader("application/problem+json"),
			body:    []byte(`{"detail":null,"status":401,"title":"Unauthorized","type":"about:blank"}`),
			wantErr: "detail"},
		{name: "wrong content type", api: APIv2, req: req2, status: 200, header: jsonHeader("text/html"), body: []byte(`<p>`),
			wantErr: "Content-Type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			validate := ValidateResponse
			if tc.strict {
				validate = ValidateResponseStrict
			}
			err := validate(tc.api, tc.req, tc.status, tc.header, tc.body)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("validate() = %v, want nil", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("validate() = nil, want an error mentioning %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("validate() = %v, want it to mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestValidateResponseRouting(t *testing.T) {
	tests := []struct {
		name, api, method, path string
		wantNoOp                bool
	}{
		{name: "v1 tilde literal path", api: APIv1, method: "POST", path: "/api/v1/dags/~/dagRuns/list"},
		{name: "v1 slash in variable key", api: APIv1, method: "GET", path: "/api/v1/variables/a/b/c"},
		{name: "v2 slash in pool name", api: APIv2, method: "GET", path: "/api/v2/pools/team/a"},
		{name: "v2 escaped run id", api: APIv2, method: "GET", path: "/api/v2/dags/d/dagRuns/a%2Fb"},
		{name: "unknown path", api: APIv2, method: "GET", path: "/api/v2/nothing", wantNoOp: true},
		{name: "unknown method", api: APIv2, method: "PUT", path: "/api/v2/dags", wantNoOp: true},
		{name: "v2 path against v1", api: APIv1, method: "GET", path: "/api/v2/dags", wantNoOp: true},
		{name: "too many segments", api: APIv1, method: "GET", path: "/api/v1/dags/a/b/c/d/e/f/g/h", wantNoOp: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			// A 401 with a valid error body is documented on every
			// authenticated operation, so only routing can fail.
			body := `{"detail":"x"}`
			if tc.api == APIv1 {
				body = `{"detail":"x","status":401,"title":"Unauthorized","type":"about:blank"}`
			}
			err := ValidateResponse(tc.api, req, 401, jsonHeader("application/json"), []byte(body))
			if got := errors.Is(err, ErrNoOperation); got != tc.wantNoOp {
				t.Errorf("ValidateResponse() = %v, want ErrNoOperation: %v", err, tc.wantNoOp)
			}
		})
	}
	if err := ValidateResponse("v3", httptest.NewRequest("GET", "/api/v3/dags", nil), 200, nil, nil); err == nil {
		t.Error("ValidateResponse(v3) = nil, want an error for an unknown API")
	}
}
