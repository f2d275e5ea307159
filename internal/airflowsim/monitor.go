package airflowsim

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// GET /health (v1) and /monitor/health (v2); unauthenticated in both.
func getHealth(c *call) reply {
	beat := c.stamp(c.now.Add(-3 * time.Second).Truncate(time.Microsecond))
	return okJSON(map[string]any{
		"metadatabase":  map[string]any{"status": "healthy"},
		"scheduler":     map[string]any{"status": "healthy", "latest_scheduler_heartbeat": beat},
		"triggerer":     map[string]any{"status": "healthy", "latest_triggerer_heartbeat": beat},
		"dag_processor": map[string]any{"status": nil, "latest_dag_processor_heartbeat": nil},
	})
}

// GET /version; unauthenticated in both APIs.
func getVersion(c *call) reply {
	v := Airflow2Version
	if !c.v1() {
		v = Airflow3Version
	}
	return okJSON(map[string]any{"version": v, "git_version": nil})
}

// GET /dagStats: counts of runs by state. v1 takes dag_ids as one
// comma-separated (required) parameter, v2 as a repeated one.
func getDagStats(c *call) reply {
	var ids []string
	if c.v1() {
		raw, present := c.query()["dag_ids"]
		if !present {
			return c.fail(http.StatusBadRequest, "Bad Request", "Missing query parameter 'dag_ids'")
		}
		for _, id := range strings.Split(strings.Join(raw, ","), ",") {
			if id != "" && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	} else {
		ids = c.query()["dag_ids"]
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if len(ids) == 0 && !c.v1() {
		for _, d := range c.s.st.dags {
			ids = append(ids, d.ID)
		}
	}
	slices.Sort(ids)
	out := []map[string]any{}
	for _, id := range ids {
		d := c.s.st.byID[id]
		if d == nil {
			continue // unknown (or unreadable) DAGs are dropped, not reported
		}
		counts := map[string]int{}
		for _, r := range c.s.st.runs {
			if r.dagID == id {
				counts[r.state]++
			}
		}
		stats := make([]map[string]any, 0, len(dagRunStates))
		for _, s := range dagRunStates {
			stats = append(stats, map[string]any{"state": s, "count": counts[s]})
		}
		item := map[string]any{"dag_id": id, "stats": stats}
		if !c.v1() {
			item["dag_display_name"] = d.DisplayName
		}
		out = append(out, item)
	}
	return okJSON(map[string]any{"dags": out, "total_entries": len(out)})
}

// eventLog is one row of Airflow's log table.
type eventLog struct {
	id          int
	when        time.Time
	dagID       *string
	taskID      *string
	runID       *string
	logicalDate *time.Time
	event       string
	owner       *string
	extra       *string
}

// v2EventNames maps Airflow 2's api.* event names to the endpoint function
// names Airflow 3 logs instead.
var v2EventNames = map[string]string{
	"post_dag_run":    "trigger_dag_run",
	"patch_dag":       "patch_dag",
	"variable.create": "post_variable",
	"variable.edit":   "patch_variable",
	"variable.delete": "delete_variable",
	"patch_user":      "patch_user",
}

// logEvent appends an event-log row for the call, with the request body
// as extra and its secrets masked, as Airflow's action_logging does; needs
// Server.mu.
func (c *call) logEvent(e eventLog, name string, body []byte) {
	e.when = c.now.Truncate(time.Microsecond)
	e.event = "api." + name
	extra := map[string]any{}
	_ = json.Unmarshal(body, &extra)
	for k := range extra {
		if k == "value" || sensitive(k) {
			extra[k] = "***"
		}
	}
	if !c.v1() {
		e.event = v2EventNames[name]
		extra["method"] = c.r.Method
	}
	raw, _ := json.Marshal(extra)
	e.extra = ptr(string(raw))
	if owner := c.owner(); owner != "" {
		e.owner = &owner
	}
	c.s.st.addEvent(e)
}

// GET /eventLogs with the dag_id, run_id, event and owner filters.
func listEventLogs(c *call) reply {
	limit, offset, errs := c.page()
	if len(errs) > 0 {
		return c.invalid(errs)
	}
	q := c.query()
	eq := func(want string, have *string) bool { return want == "" || (have != nil && *have == want) }
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	var picked []*eventLog
	for _, e := range c.s.st.events {
		if eq(q.Get("dag_id"), e.dagID) && eq(q.Get("run_id"), e.runID) &&
			eq(q.Get("owner"), e.owner) && eq(q.Get("event"), &e.event) {
			picked = append(picked, e)
		}
	}
	lo, hi := window(len(picked), limit, offset)
	out := make([]map[string]any, 0, hi-lo)
	for _, e := range picked[lo:hi] {
		item := map[string]any{
			"event_log_id": e.id, "when": c.stamp(e.when), "dag_id": e.dagID, "task_id": e.taskID,
			"run_id": e.runID, "map_index": nil, "try_number": nil, "event": e.event,
			"owner": e.owner, "extra": e.extra,
		}
		if c.v1() {
			item["execution_date"] = c.stampPtr(e.logicalDate)
		} else {
			item["logical_date"] = c.stampPtr(e.logicalDate)
			item["dag_display_name"] = nil
			item["task_display_name"] = nil
			if e.dagID != nil {
				if d := c.s.st.byID[*e.dagID]; d != nil {
					item["dag_display_name"] = d.DisplayName
				}
			}
		}
		out = append(out, item)
	}
	return okJSON(map[string]any{"event_logs": out, "total_entries": len(picked)})
}

// importError is one DAG file that failed to parse.
type importError struct {
	id         int
	timestamp  time.Time
	filename   string
	stackTrace string
}

// GET /importErrors
func listImportErrors(c *call) reply {
	limit, offset, errs := c.page()
	if len(errs) > 0 {
		return c.invalid(errs)
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	all := c.s.st.importErrors
	lo, hi := window(len(all), limit, offset)
	out := make([]map[string]any, 0, hi-lo)
	for _, e := range all[lo:hi] {
		item := map[string]any{"import_error_id": e.id, "timestamp": c.stamp(e.timestamp),
			"filename": e.filename, "stack_trace": e.stackTrace}
		if !c.v1() {
			item["bundle_name"] = "dags-folder"
		}
		out = append(out, item)
	}
	return okJSON(map[string]any{"import_errors": out, "total_entries": len(all)})
}

// PATCH /api/v1/users/{username}: Airflow 2's (deprecated) user API, here
// only for the service account and only to change its password, so that
// credential rotation can be tested end to end.
func patchUser(c *call) reply {
	name := c.params["username"]
	f, rep := c.object()
	if rep != nil {
		return *rep
	}
	f.only("first_name", "last_name", "username", "email", "roles", "password")
	password := f.str("password")
	f.str("username")
	if len(f.errs) > 0 {
		return c.invalid(f.errs)
	}
	mask := c.query()["update_mask"]
	if len(mask) > 0 && !slices.Contains(mask, "password") {
		password = nil
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.s.username == "" || subtle.ConstantTimeCompare([]byte(name), []byte(c.s.username)) != 1 {
		return c.fail(http.StatusNotFound, "User not found", fmt.Sprintf("The User with username `%s` was not found", name))
	}
	if password != nil {
		if *password == "" {
			return c.fail(http.StatusBadRequest, "Bad Request", "{'password': ['Shorter than minimum length 1.']}")
		}
		c.s.st.password = *password
		c.s.st.account.changedOn = c.now.Truncate(time.Microsecond)
	}
	c.logEvent(eventLog{}, "patch_user", c.body)
	return okJSON(c.renderUser())
}

// renderUser is the v1 UserCollectionItem of the service account; needs
// Server.mu.
func (c *call) renderUser() map[string]any {
	a := c.s.st.account
	return map[string]any{
		"first_name": "Airgate", "last_name": "Service", "username": c.s.username,
		"email": c.s.username + "@airgate.invalid", "active": true,
		"last_login": c.stampPtr(a.lastLogin), "login_count": a.loginCount, "failed_login_count": 0,
		"roles":      []map[string]any{{"name": "Admin"}},
		"created_on": c.stamp(a.createdOn), "changed_on": c.stamp(a.changedOn),
	}
}
