package airflowsim

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"
)

// findRun returns the run with runID from a DAGRunCollection body.
func findRun(t *testing.T, body []byte, runID string) map[string]any {
	t.Helper()
	for _, r := range decode(t, body)["dag_runs"].([]any) {
		if run := r.(map[string]any); run["dag_run_id"] == runID {
			return run
		}
	}
	return nil
}

func TestTriggerV1(t *testing.T) {
	f := newFixture(t, nil)
	_, resp, body := f.v1("POST", "/dags/team_a_daily/dagRuns", `{"conf": {"rows": 3}, "note": "rerun after the fix"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("trigger = %d %s", resp.StatusCode, body)
	}
	run := decode(t, body)
	runID := run["dag_run_id"].(string)
	if want := "manual__2025-06-15T10:30:00+00:00"; runID != want {
		t.Errorf("dag_run_id = %q, want %q", runID, want)
	}
	for k, want := range map[string]any{"state": "queued", "run_type": "manual", "external_trigger": true,
		"note": "rerun after the fix", "logical_date": "2025-06-15T10:30:00+00:00",
		"data_interval_start": "2025-06-15T09:00:00+00:00", "data_interval_end": "2025-06-15T10:00:00+00:00"} {
		if run[k] != want {
			t.Errorf("%s = %v, want %v", k, run[k], want)
		}
	}

	req, resp, list := f.v1("GET", "/dags/team_a_daily/dagRuns", "")
	if err := ValidateResponseStrict(APIv1, req, resp.StatusCode, resp.Header, list); err != nil {
		t.Error(err)
	}
	got := findRun(t, list, runID)
	if got == nil {
		t.Fatalf("run %s missing from %s", runID, list)
	}
	if got["note"] != "rerun after the fix" {
		t.Errorf("listed note = %v", got["note"])
	}
	if conf := got["conf"].(map[string]any); conf["rows"] != json.Number("3") {
		t.Errorf("listed conf = %v", got["conf"])
	}
	// Airflow 3 sees the same run, with the triggering user unknown (the
	// run came through Airflow 2's API).
	_, _, one := f.v2("GET", "/dags/team_a_daily/dagRuns/"+url.PathEscape(runID), "")
	if m := decode(t, one); m["note"] != "rerun after the fix" || m["triggered_by"] != "rest_api" || m["triggering_user_name"] != nil {
		t.Errorf("v2 view = %s", one)
	}
	// Its task instances exist and have no state yet.
	_, _, tis := f.v1("GET", "/dags/team_a_daily/dagRuns/"+url.PathEscape(runID)+"/taskInstances", "")
	items := decode(t, tis)["task_instances"].([]any)
	if len(items) != 3 {
		t.Fatalf("task instances = %d, want 3", len(items))
	}
	for _, it := range items {
		if st := it.(map[string]any)["state"]; st != nil {
			t.Errorf("new task instance state = %v, want null", st)
		}
	}
	// The stats count it as queued, and the event log names the caller.
	_, _, stats := f.v1("GET", "/dagStats?dag_ids=team_a_daily", "")
	if st := decode(t, stats)["dags"].([]any)[0].(map[string]any)["stats"].([]any)[0].(map[string]any); st["state"] != "queued" || st["count"] != json.Number("1") {
		t.Errorf("queued stat = %v", st)
	}
	_, _, logs := f.v1("GET", "/eventLogs?event=api.post_dag_run", "")
	entries := decode(t, logs)["event_logs"].([]any)
	if len(entries) != 1 || entries[0].(map[string]any)["owner"] != testUser || entries[0].(map[string]any)["run_id"] != runID {
		t.Errorf("event log = %s", logs)
	}
	// The same logical date again is a conflict.
	if _, resp, body := f.v1("POST", "/dags/team_a_daily/dagRuns", `{"dag_run_id": "other", "logical_date": "2025-06-15T10:30:00+00:00"}`); resp.StatusCode != 409 {
		t.Errorf("same logical date = %d %s, want 409", resp.StatusCode, body)
	}
}

func TestTriggerV2(t *testing.T) {
	f := newFixture(t, nil)
	_, resp, body := f.v2("POST", "/dags/finance_report/dagRuns", `{"logical_date": null, "note": "month end", "conf": {}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("trigger = %d %s", resp.StatusCode, body)
	}
	run := decode(t, body)
	runID := run["dag_run_id"].(string)
	for k, want := range map[string]any{"state": "queued", "run_type": "manual", "note": "month end",
		"logical_date": nil, "data_interval_start": nil, "triggered_by": "rest_api",
		"triggering_user_name": "alice", "run_after": "2025-06-15T10:30:00Z"} {
		if run[k] != want {
			t.Errorf("%s = %v, want %v", k, run[k], want)
		}
	}
	// Without a logical date Airflow 3 adds a random suffix, so two
	// triggers in the same instant do not collide.
	_, resp2, body2 := f.v2("POST", "/dags/finance_report/dagRuns", `{"logical_date": null}`)
	if resp2.StatusCode != 200 || decode(t, body2)["dag_run_id"] == runID {
		t.Errorf("second trigger = %d %s", resp2.StatusCode, body2)
	}
	req, resp, list := f.v2("GET", "/dags/~/dagRuns?limit=100", "")
	if err := ValidateResponseStrict(APIv2, req, resp.StatusCode, resp.Header, list); err != nil {
		t.Error(err)
	}
	if got := findRun(t, list, runID); got == nil || got["note"] != "month end" {
		t.Errorf("run %s in list = %v", runID, got)
	}
	_, _, batch := f.v2("POST", "/dags/~/dagRuns/list", `{"dag_ids": ["finance_report"], "states": ["queued"]}`)
	if m := decode(t, batch); m["total_entries"] != json.Number("2") {
		t.Errorf("batch list = %s", batch)
	}
	_, _, details := f.v2("GET", "/dags/finance_report/details", "")
	if m := decode(t, details); m["active_runs_count"] != json.Number("2") {
		t.Errorf("active_runs_count = %v, want 2", m["active_runs_count"])
	}
	_, _, logs := f.v2("GET", "/eventLogs?event=trigger_dag_run", "")
	if entries := decode(t, logs)["event_logs"].([]any); len(entries) != 2 || entries[0].(map[string]any)["owner"] != "alice" {
		t.Errorf("event log = %s", logs)
	}
}

// TestConcurrentUse triggers and reads from many goroutines; run with -race.
func TestConcurrentUse(t *testing.T) {
	f := newFixture(t, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				body := fmt.Sprintf(`{"logical_date": null, "dag_run_id": "r-%d-%d"}`, i, j)
				if _, resp, b := f.v2("POST", "/dags/team_a_hourly/dagRuns", body); resp.StatusCode != 200 {
					t.Errorf("trigger = %d %s", resp.StatusCode, b)
				}
				f.v1("GET", "/dags/~/dagRuns", "")
				f.v1("PATCH", "/dags/team_a_hourly", `{"is_paused": true}`)
				f.srv.Requests()
			}
		}()
	}
	wg.Wait()
	_, _, list := f.v2("GET", "/dags/team_a_hourly/dagRuns", "")
	if m := decode(t, list); m["total_entries"] != json.Number("41") {
		t.Errorf("total_entries = %v, want 41", m["total_entries"])
	}
	if got := len(f.srv.Requests()); got != 8*5*3+1 {
		t.Errorf("recorded %d requests, want %d", got, 8*5*3+1)
	}
}

func TestSeededHistoryFollowsTheClock(t *testing.T) {
	// At 00:01 the last hour that ended two minutes ago is 22:00-23:00.
	now := time.Date(2025, 1, 1, 0, 1, 0, 0, time.UTC)
	f := newFixture(t, func(o *Options) { o.Now = func() time.Time { return now } })
	_, _, body := f.v1("GET", "/dags/team_a_daily/dagRuns", "")
	if findRun(t, body, "scheduled__2024-12-31T22:00:00+00:00") == nil {
		t.Errorf("runs = %s", body)
	}
	_, _, dag := f.v1("GET", "/dags/team_a_daily", "")
	if m := decode(t, dag); m["next_dagrun"] != "2024-12-31T23:00:00+00:00" || m["next_dagrun_create_after"] != "2025-01-01T00:00:00+00:00" {
		t.Errorf("next run = %v / %v", m["next_dagrun"], m["next_dagrun_create_after"])
	}
}

func TestCustomDAGs(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.DAGs = []DAG{{ID: "solo", Schedule: Every(36 * time.Hour), Tags: []string{"x"}}}
	})
	req, resp, body := f.v2("GET", "/dags/solo/details", "")
	if err := ValidateResponseStrict(APIv2, req, resp.StatusCode, resp.Header, body); err != nil {
		t.Fatal(err)
	}
	m := decode(t, body)
	if m["timetable_summary"] != "1 day, 12:00:00" || m["fileloc"] != "/opt/airflow/dags/solo.py" || m["owners"].([]any)[0] != "airflow" {
		t.Errorf("details = %s", body)
	}
	_, _, tasks := f.v1("GET", "/dags/solo/tasks", "")
	if n := len(decode(t, tasks)["tasks"].([]any)); n != 3 {
		t.Errorf("default tasks = %d, want 3", n)
	}
	if _, resp, _ := f.v1("GET", "/dags/team_a_daily", ""); resp.StatusCode != 404 {
		t.Errorf("default DAG still served: %d", resp.StatusCode)
	}
}
