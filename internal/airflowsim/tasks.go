package airflowsim

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"
)

// operatorModules maps the operators the default DAGs use to their modules.
var operatorModules = map[string]string{
	"BashOperator":            "airflow.operators.bash",
	"PythonOperator":          "airflow.operators.python",
	"EmailOperator":           "airflow.operators.email",
	"EmptyOperator":           "airflow.operators.empty",
	"SQLExecuteQueryOperator": "airflow.providers.common.sql.operators.sql",
}

func classRef(operator string) map[string]any {
	module, ok := operatorModules[operator]
	if !ok {
		module = "airflow.operators"
	}
	return map[string]any{"module_path": module, "class_name": operator}
}

// taskInstance is one row of Airflow's task_instance table.
type taskInstance struct {
	id                        string
	taskID                    string
	operator                  string
	state                     string // empty is None
	tryNumber                 int
	start, end                *time.Time
	queuedWhen, scheduledWhen *time.Time
	hostname                  string
	pid                       *int
	pool, queue               string
	weight                    int
}

func (ti *taskInstance) duration() *float64 {
	if ti.start == nil || ti.end == nil {
		return nil
	}
	return ptr(ti.end.Sub(*ti.start).Seconds())
}

func (ti *taskInstance) stateOrNil() *string {
	if ti.state == "" {
		return nil
	}
	return ptr(ti.state)
}

// v1TaskInstance is the v1 TaskInstance schema.
type v1TaskInstance struct {
	TaskID           string         `json:"task_id"`
	TaskDisplayName  string         `json:"task_display_name"`
	DagID            string         `json:"dag_id"`
	DagRunID         string         `json:"dag_run_id"`
	ExecutionDate    *string        `json:"execution_date"`
	StartDate        *string        `json:"start_date"`
	EndDate          *string        `json:"end_date"`
	Duration         *float64       `json:"duration"`
	State            *string        `json:"state"`
	TryNumber        int            `json:"try_number"`
	MapIndex         int            `json:"map_index"`
	MaxTries         int            `json:"max_tries"`
	Hostname         string         `json:"hostname"`
	Unixname         string         `json:"unixname"`
	Pool             string         `json:"pool"`
	PoolSlots        int            `json:"pool_slots"`
	Queue            *string        `json:"queue"`
	PriorityWeight   *int           `json:"priority_weight"`
	Operator         *string        `json:"operator"`
	QueuedWhen       *string        `json:"queued_when"`
	Pid              *int           `json:"pid"`
	Executor         *string        `json:"executor"`
	ExecutorConfig   string         `json:"executor_config"`
	SLAMiss          any            `json:"sla_miss"`
	RenderedMapIndex *string        `json:"rendered_map_index"`
	RenderedFields   map[string]any `json:"rendered_fields"`
	Trigger          any            `json:"trigger"`
	TriggererJob     any            `json:"triggerer_job"`
	Note             *string        `json:"note"`
}

// v2TaskInstance is the v2 TaskInstanceResponse schema.
type v2TaskInstance struct {
	ID               string         `json:"id"`
	TaskID           string         `json:"task_id"`
	DagID            string         `json:"dag_id"`
	DagRunID         string         `json:"dag_run_id"`
	MapIndex         int            `json:"map_index"`
	LogicalDate      *string        `json:"logical_date"`
	RunAfter         string         `json:"run_after"`
	StartDate        *string        `json:"start_date"`
	EndDate          *string        `json:"end_date"`
	Duration         *float64       `json:"duration"`
	State            *string        `json:"state"`
	TryNumber        int            `json:"try_number"`
	MaxTries         int            `json:"max_tries"`
	TaskDisplayName  string         `json:"task_display_name"`
	DagDisplayName   string         `json:"dag_display_name"`
	Hostname         *string        `json:"hostname"`
	Unixname         *string        `json:"unixname"`
	Pool             string         `json:"pool"`
	PoolSlots        int            `json:"pool_slots"`
	Queue            *string        `json:"queue"`
	PriorityWeight   *int           `json:"priority_weight"`
	Operator         *string        `json:"operator"`
	OperatorName     *string        `json:"operator_name"`
	QueuedWhen       *string        `json:"queued_when"`
	ScheduledWhen    *string        `json:"scheduled_when"`
	Pid              *int           `json:"pid"`
	Executor         *string        `json:"executor"`
	ExecutorConfig   string         `json:"executor_config"`
	Note             *string        `json:"note"`
	RenderedMapIndex *string        `json:"rendered_map_index"`
	RenderedFields   map[string]any `json:"rendered_fields"`
	Trigger          any            `json:"trigger"`
	TriggererJob     any            `json:"triggerer_job"`
	DagVersion       *v2DagVersion  `json:"dag_version"`
}

// renderTI renders one task instance of r; needs Server.mu.
func (c *call) renderTI(r *dagRun, ti *taskInstance) any {
	if c.v1() {
		return v1TaskInstance{
			TaskID:          ti.taskID,
			TaskDisplayName: ti.taskID,
			DagID:           r.dagID,
			DagRunID:        r.runID,
			ExecutionDate:   c.stampPtr(r.logicalDate),
			StartDate:       c.stampPtr(ti.start),
			EndDate:         c.stampPtr(ti.end),
			Duration:        ti.duration(),
			State:           ti.stateOrNil(),
			TryNumber:       ti.tryNumber,
			MapIndex:        -1,
			Hostname:        ti.hostname,
			Unixname:        "airflow",
			Pool:            ti.pool,
			PoolSlots:       1,
			Queue:           ptr(ti.queue),
			PriorityWeight:  ptr(ti.weight),
			Operator:        ptr(ti.operator),
			QueuedWhen:      c.stampPtr(ti.queuedWhen),
			Pid:             ti.pid,
			ExecutorConfig:  "{}",
			RenderedFields:  map[string]any{},
		}
	}
	out := v2TaskInstance{
		ID:              ti.id,
		TaskID:          ti.taskID,
		DagID:           r.dagID,
		DagRunID:        r.runID,
		MapIndex:        -1,
		LogicalDate:     c.stampPtr(r.logicalDate),
		RunAfter:        c.stamp(r.runAfter),
		StartDate:       c.stampPtr(ti.start),
		EndDate:         c.stampPtr(ti.end),
		Duration:        ti.duration(),
		State:           ti.stateOrNil(),
		TryNumber:       ti.tryNumber,
		TaskDisplayName: ti.taskID,
		DagDisplayName:  r.dagID,
		Unixname:        ptr("airflow"),
		Pool:            ti.pool,
		PoolSlots:       1,
		Queue:           ptr(ti.queue),
		PriorityWeight:  ptr(ti.weight),
		Operator:        ptr(ti.operator),
		OperatorName:    ptr(ti.operator),
		QueuedWhen:      c.stampPtr(ti.queuedWhen),
		ScheduledWhen:   c.stampPtr(ti.scheduledWhen),
		Pid:             ti.pid,
		ExecutorConfig:  "{}",
		RenderedFields:  map[string]any{},
	}
	if ti.hostname != "" {
		out.Hostname = ptr(ti.hostname)
	}
	if d := c.s.st.byID[r.dagID]; d != nil {
		out.DagDisplayName = d.DisplayName
		v := c.v2DagVersion(d)
		out.DagVersion = &v
	}
	return out
}

// GET /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances, with "~" for
// every DAG or run.
func listTaskInstances(c *call) reply {
	limit, offset, errs := c.page()
	if len(errs) > 0 {
		return c.invalid(errs)
	}
	dagID, runID := c.params["dag_id"], c.params["dag_run_id"]
	q := c.query()
	states := q["state"]
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	// Airflow 2 only filters; Airflow 3 answers 404 for an unknown DAG or run.
	if !c.v1() && dagID != "~" {
		if c.s.st.byID[dagID] == nil {
			return c.fail(http.StatusNotFound, "", fmt.Sprintf("DAG with dag_id: `%s` was not found", dagID))
		}
		if runID != "~" && c.s.st.findRun(dagID, runID) == nil {
			return c.fail(http.StatusNotFound, "", fmt.Sprintf("DagRun with run_id: `%s` was not found", runID))
		}
	}
	type row struct {
		r  *dagRun
		ti *taskInstance
	}
	var rows []row
	for _, r := range c.s.st.runs {
		if (dagID != "~" && r.dagID != dagID) || (runID != "~" && r.runID != runID) {
			continue
		}
		for _, ti := range r.tis {
			st := ti.state
			if st == "" {
				st = "none" // Airflow 3 also calls it no_status
			}
			if len(states) > 0 && !slices.Contains(states, st) && !(st == "none" && slices.Contains(states, "no_status")) {
				continue
			}
			rows = append(rows, row{r, ti})
		}
	}
	lo, hi := window(len(rows), limit, offset)
	out := make([]any, 0, hi-lo)
	for _, rw := range rows[lo:hi] {
		out = append(out, c.renderTI(rw.r, rw.ti))
	}
	return okJSON(map[string]any{"task_instances": out, "total_entries": len(rows)})
}

// GET /dags/{dag_id}/tasks
func listTasks(c *call) reply {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	d := c.s.st.byID[c.params["dag_id"]]
	if d == nil {
		return c.dagNotFound(c.params["dag_id"])
	}
	tasks := slices.Clone(d.Tasks)
	desc := c.query().Get("order_by") == "-task_id"
	sort.SliceStable(tasks, func(i, j int) bool {
		if desc {
			return tasks[i].ID > tasks[j].ID
		}
		return tasks[i].ID < tasks[j].ID
	})
	out := make([]map[string]any, 0, len(tasks))
	for _, t := range tasks {
		out = append(out, c.renderTask(d, t))
	}
	if c.v1() {
		return okJSON(map[string]any{"tasks": out}) // the v1 TaskCollection has no total_entries
	}
	return okJSON(map[string]any{"tasks": out, "total_entries": len(out)})
}

// renderTask renders the v1 Task or v2 TaskResponse schema.
func (c *call) renderTask(d *dagState, t Task) map[string]any {
	downstream := slices.Clone(t.Downstream)
	if downstream == nil {
		downstream = []string{}
	}
	retryDelay := timedeltaObject(5 * time.Minute)
	out := map[string]any{
		"task_id":             t.ID,
		"task_display_name":   t.ID,
		"owner":               d.Owners[0],
		"start_date":          c.stampPtr(&d.StartDate),
		"end_date":            nil,
		"trigger_rule":        "all_success",
		"depends_on_past":     false,
		"wait_for_downstream": false,
		"retries":             0,
		"queue":               "default",
		"pool":                "default_pool",
		"pool_slots":          1,
		"execution_timeout":   nil,
		"retry_delay":         retryDelay,
		"priority_weight":     1,
		"weight_rule":         "downstream",
		"ui_color":            "#fff",
		"ui_fgcolor":          "#000",
		"template_fields":     []string{},
		"downstream_task_ids": downstream,
		"doc_md":              nil,
		"class_ref":           classRef(t.Operator),
		"is_mapped":           false,
		"extra_links":         []any{},
	}
	if c.v1() {
		out["retry_exponential_backoff"] = false
		out["executor"] = nil
		return out
	}
	out["retry_exponential_backoff"] = 0
	out["operator_name"] = t.Operator
	out["params"] = map[string]any{}
	return out
}
