package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/airgate/airgate/internal/catalog"
	"github.com/airgate/airgate/internal/testutil"
)

// run runs one command in-process and returns its stdout, stderr and exit
// code.
func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, Stdio{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

// TestRoutesClassifyGolden classifies one realistic request per catalogue
// operation; the golden file holds the contract output for every one.
func TestRoutesClassifyGolden(t *testing.T) {
	var in strings.Builder
	ops := catalog.Default().Operations()
	for _, op := range ops {
		in.WriteString(op.Method + " " + catalog.SamplePath(op) + "\n")
	}
	out, errOut, code := run(t, in.String(), "routes", "classify")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(ops) {
		t.Fatalf("got %d output lines for %d operations", len(lines), len(ops))
	}
	for i, line := range lines {
		var res struct {
			classifyResult
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if !res.Known || res.Operation != ops[i].ID || res.API != ops[i].API {
			t.Errorf("line %d: %s classifies as %s/%s known=%v, want %s/%s", i+1, res.Path, res.API, res.Operation, res.Known, ops[i].API, ops[i].ID)
		}
	}
	testutil.Golden(t, "routes_classify.golden", []byte(out))
}

func TestRoutesClassifyContract(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"issue example", "POST /api/v1/dags/etl/dagRuns",
			`{"method":"POST","path":"/api/v1/dags/etl/dagRuns","api":"v1","operation":"post_dag_run","known":true,"auth":"required","dag_id":"etl","dag_scope":"one","requires":[{"resource":"DAGs","action":"can_edit","dag_id":"etl"},{"resource":"DAG Runs","action":"can_create","dag_id":"etl"}],"dag_source":"path"}`},
		{"v2 trigger", "POST /api/v2/dags/etl/dagRuns",
			`{"method":"POST","path":"/api/v2/dags/etl/dagRuns","api":"v2","operation":"trigger_dag_run","known":true,"auth":"required","dag_id":"etl","dag_scope":"one","requires":[{"resource":"DAG.RUN","action":"POST","dag_id":"etl"}],"dag_source":"path"}`},
		{"public", "GET /api/v1/health",
			`{"method":"GET","path":"/api/v1/health","api":"v1","operation":"get_health","known":true,"auth":"none","dag_scope":"none","requires":[],"dag_source":"none"}`},
		{"unknown", "GET /api/v1/nothing",
			`{"method":"GET","path":"/api/v1/nothing","api":"v1","known":false,"reason":"no-route"}`},
		{"outside airflow", "GET /home",
			`{"method":"GET","path":"/home","known":false,"reason":"not-airflow-api"}`},
		{"query kept in path", "GET /api/v1/eventLogs?dag_id=etl&limit=1",
			`{"method":"GET","path":"/api/v1/eventLogs?dag_id=etl\u0026limit=1","api":"v1","operation":"get_event_logs","known":true,"auth":"required","dag_id":"etl","dag_scope":"one","requires":[{"resource":"DAGs","action":"can_read","dag_id":"etl"},{"resource":"Audit Logs","action":"can_read"}],"dag_source":"query"}`},
		{"crlf tolerated", "GET /api/v1/version\r",
			`{"method":"GET","path":"/api/v1/version","api":"v1","operation":"get_version","known":true,"auth":"none","dag_scope":"none","requires":[],"dag_source":"none"}`},
		{"empty line", "", `{"line":1,"error":"empty line: want \"METHOD PATH\""}`},
		{"missing path", "GET", `{"line":1,"error":"missing path: want \"METHOD PATH\"","input":"GET"}`},
		{"extra field", "GET /api/v1/dags HTTP/1.1", `{"line":1,"error":"3 fields: want \"METHOD PATH\" (encode spaces in the path as %20)","input":"GET /api/v1/dags HTTP/1.1"}`},
		{"bad method", "G(T /api/v1/dags", `{"line":1,"error":"method \"G(T\" is not an HTTP method token","input":"G(T /api/v1/dags"}`},
		{"relative path", "GET api/v1/dags", `{"line":1,"error":"path \"api/v1/dags\" does not begin with /","input":"GET api/v1/dags"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(t, tc.in+"\n", "routes", "classify")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			// The "&" of a query is escaped by encoding/json's default only
			// with SetEscapeHTML(true); the command turns that off.
			want := strings.ReplaceAll(tc.want, `\u0026`, "&")
			if got := strings.TrimSuffix(out, "\n"); got != want {
				t.Errorf("classify %q:\n got  %s\n want %s", tc.in, got, want)
			}
		})
	}
}

func TestRoutesClassifyGoesOnAfterErrors(t *testing.T) {
	in := "GET /api/v1/dags\n\nnonsense\nGET " + "/" + strings.Repeat("a", maxClassifyLine) + "\nDELETE /api/v2/connections/c1\n"
	out, _, code := run(t, in, "routes", "classify")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 5:\n%s", len(lines), out)
	}
	for i, want := range []string{`"operation":"get_dags"`, `"line":2`, `"line":3`, `"line":4,"error":"line longer than`, `"operation":"delete_connection"`} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %s, want it to contain %s", i+1, lines[i], want)
		}
	}
}

func TestRoutesList(t *testing.T) {
	out, _, code := run(t, "", "routes", "list", "--api", "v1")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out, "post_dag_run") || strings.Contains(out, "trigger_dag_run") {
		t.Errorf("routes list --api v1 does not list exactly v1 operations:\n%s", out)
	}
	testutil.Golden(t, "routes_list.golden", []byte(mustRun(t, "routes", "list")))
	if _, errOut, code := run(t, "", "routes", "list", "--api", "v3"); code != 2 || !strings.Contains(errOut, `--api "v3"`) {
		t.Errorf("routes list --api v3: exit %d, stderr %q; want exit 2 naming the value", code, errOut)
	}
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, "", args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	return out
}

func TestUnknownCommand(t *testing.T) {
	_, errOut, code := run(t, "", "nonsense")
	if code != 2 || !strings.Contains(errOut, `unknown command "nonsense"`) {
		t.Errorf("exit %d stderr %q", code, errOut)
	}
}
