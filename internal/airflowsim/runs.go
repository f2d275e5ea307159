package airflowsim

import (
	"crypto/rand"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"time"
)

// allowedRunID is Airflow's default [scheduler] allowed_run_id_pattern.
var allowedRunID = regexp.MustCompile(`^[A-Za-z0-9_.~:+-]+$`)

// dagRunStates are the DagRunState values, in Airflow's enum order.
var dagRunStates = []string{"queued", "running", "success", "failed"}

// dagRun is one row of Airflow's dag_run table with its task instances.
type dagRun struct {
	seq            int
	dagID, runID   string
	logicalDate    *time.Time
	runAfter       time.Time
	queuedAt       *time.Time
	start, end     *time.Time
	intervalStart  *time.Time
	intervalEnd    *time.Time
	lastDecision   *time.Time
	runType        string // manual or scheduled
	state          string
	triggeredBy    string
	triggeringUser *string
	conf           map[string]any
	note           *string
	partitionKey   *string
	external       bool
	tis            []*taskInstance
}

// addRun inserts a queued run with a task instance (state None) per task.
func (st *store) addRun(d *dagState, runID, runType string, logical *time.Time, runAfter time.Time, start, end *time.Time) *dagRun {
	st.nextSeq++
	queued := runAfter
	r := &dagRun{
		seq:           st.nextSeq,
		dagID:         d.ID,
		runID:         runID,
		logicalDate:   logical,
		runAfter:      runAfter,
		queuedAt:      &queued,
		intervalStart: start,
		intervalEnd:   end,
		runType:       runType,
		state:         "queued",
		conf:          map[string]any{},
	}
	for i, t := range d.Tasks {
		r.tis = append(r.tis, &taskInstance{
			id:       newUUID(),
			taskID:   t.ID,
			operator: t.Operator,
			pool:     "default_pool",
			queue:    "default",
			weight:   len(d.Tasks) - i,
		})
	}
	st.runs = append(st.runs, r)
	return r
}

// finish plays a run to its end: started a couple of seconds after it was
// queued, each task taking twenty seconds; a failed run fails its second
// task and marks the rest upstream_failed.
func (r *dagRun) finish(state string, at time.Time) {
	start := at.Add(2 * time.Second)
	r.start = &start
	t := start
	failed := false
	for i, ti := range r.tis {
		queued, began := t, t.Add(time.Second)
		done := began.Add(20 * time.Second)
		switch {
		case failed:
			ti.state = "upstream_failed"
			continue
		case state == "failed" && i == min(1, len(r.tis)-1):
			ti.state, failed = "failed", true
		default:
			ti.state = "success"
		}
		ti.tryNumber = 1
		ti.scheduledWhen, ti.queuedWhen = &queued, &queued
		ti.start, ti.end = &began, &done
		ti.hostname = "airflow-worker-0"
		ti.pid = ptr(4200 + r.seq*10 + i)
		t = done
	}
	end := t.Add(time.Second)
	r.end, r.lastDecision = &end, &end
	r.state = state
}

func (r *dagRun) duration() *float64 {
	if r.start == nil || r.end == nil {
		return nil
	}
	return ptr(r.end.Sub(*r.start).Seconds())
}

// v1DAGRun is the v1 DAGRun schema.
type v1DAGRun struct {
	DagRunID               string         `json:"dag_run_id"`
	DagID                  string         `json:"dag_id"`
	LogicalDate            *string        `json:"logical_date"`
	ExecutionDate          *string        `json:"execution_date"`
	StartDate              *string        `json:"start_date"`
	EndDate                *string        `json:"end_date"`
	DataIntervalStart      *string        `json:"data_interval_start"`
	DataIntervalEnd        *string        `json:"data_interval_end"`
	LastSchedulingDecision *string        `json:"last_scheduling_decision"`
	RunType                string         `json:"run_type"`
	State                  string         `json:"state"`
	ExternalTrigger        bool           `json:"external_trigger"`
	Conf                   map[string]any `json:"conf"`
	Note                   *string        `json:"note"`
}

// v2DAGRun is the v2 DAGRunResponse schema.
type v2DAGRun struct {
	DagRunID               string         `json:"dag_run_id"`
	DagID                  string         `json:"dag_id"`
	LogicalDate            *string        `json:"logical_date"`
	QueuedAt               *string        `json:"queued_at"`
	StartDate              *string        `json:"start_date"`
	EndDate                *string        `json:"end_date"`
	Duration               *float64       `json:"duration"`
	DataIntervalStart      *string        `json:"data_interval_start"`
	DataIntervalEnd        *string        `json:"data_interval_end"`
	RunAfter               string         `json:"run_after"`
	LastSchedulingDecision *string        `json:"last_scheduling_decision"`
	RunType                string         `json:"run_type"`
	State                  string         `json:"state"`
	TriggeredBy            *string        `json:"triggered_by"`
	TriggeringUserName     *string        `json:"triggering_user_name"`
	Conf                   map[string]any `json:"conf"`
	Note                   *string        `json:"note"`
	DagVersions            []v2DagVersion `json:"dag_versions"`
	BundleVersion          *string        `json:"bundle_version"`
	DagDisplayName         string         `json:"dag_display_name"`
	PartitionKey           *string        `json:"partition_key"`
}

// renderRun renders r in the calling API's schema; needs Server.mu.
func (c *call) renderRun(r *dagRun) any {
	if c.v1() {
		return v1DAGRun{
			DagRunID:               r.runID,
			DagID:                  r.dagID,
			LogicalDate:            c.stampPtr(r.logicalDate),
			ExecutionDate:          c.stampPtr(r.logicalDate),
			StartDate:              c.stampPtr(r.start),
			EndDate:                c.stampPtr(r.end),
			DataIntervalStart:      c.stampPtr(r.intervalStart),
			DataIntervalEnd:        c.stampPtr(r.intervalEnd),
			LastSchedulingDecision: c.stampPtr(r.lastDecision),
			RunType:                r.runType,
			State:                  r.state,
			ExternalTrigger:        r.external,
			Conf:                   maps.Clone(r.conf),
			Note:                   r.note,
		}
	}
	d := c.s.st.byID[r.dagID]
	out := v2DAGRun{
		DagRunID:               r.runID,
		DagID:                  r.dagID,
		LogicalDate:            c.stampPtr(r.logicalDate),
		QueuedAt:               c.stampPtr(r.queuedAt),
		StartDate:              c.stampPtr(r.start),
		EndDate:                c.stampPtr(r.end),
		Duration:               r.duration(),
		DataIntervalStart:      c.stampPtr(r.intervalStart),
		DataIntervalEnd:        c.stampPtr(r.intervalEnd),
		RunAfter:               c.stamp(r.runAfter),
		LastSchedulingDecision: c.stampPtr(r.lastDecision),
		RunType:                r.runType,
		State:                  r.state,
		TriggeringUserName:     r.triggeringUser,
		Conf:                   maps.Clone(r.conf),
		Note:                   r.note,
		DagVersions:            []v2DagVersion{},
		DagDisplayName:         r.dagID,
		PartitionKey:           r.partitionKey,
	}
	if r.triggeredBy != "" {
		out.TriggeredBy = ptr(r.triggeredBy)
	}
	if d != nil {
		out.DagVersions = append(out.DagVersions, c.v2DagVersion(d))
		out.DagDisplayName = d.DisplayName
	}
	return out
}

func (c *call) runNotFound(dagID, runID string) reply {
	if c.v1() {
		return c.fail(http.StatusNotFound, "DAGRun not found",
			fmt.Sprintf("DAGRun with DAG ID: '%s' and DagRun ID: '%s' not found", dagID, runID))
	}
	return c.fail(http.StatusNotFound, "", fmt.Sprintf("The DagRun with dag_id: `%s` and run_id: `%s` was not found", dagID, runID))
}

// runFilter selects runs for the list endpoints.
type runFilter struct {
	dagIDs  []string // empty: every DAG
	states  []string
	runType []string
}

func (f runFilter) keep(r *dagRun) bool {
	return (len(f.dagIDs) == 0 || slices.Contains(f.dagIDs, r.dagID)) &&
		(len(f.states) == 0 || slices.Contains(f.states, r.state)) &&
		(len(f.runType) == 0 || slices.Contains(f.runType, r.runType))
}

// runCollection renders one page of the matching runs; needs Server.mu.
func (c *call) runCollection(f runFilter, limit, offset int) reply {
	var picked []*dagRun
	for _, r := range c.s.st.runs {
		if f.keep(r) {
			picked = append(picked, r)
		}
	}
	lo, hi := window(len(picked), limit, offset)
	out := make([]any, 0, hi-lo)
	for _, r := range picked[lo:hi] {
		out = append(out, c.renderRun(r))
	}
	return okJSON(map[string]any{"dag_runs": out, "total_entries": len(picked)})
}

// GET /dags/{dag_id}/dagRuns, with "~" for every DAG.
func listRuns(c *call) reply {
	limit, offset, errs := c.page()
	if len(errs) > 0 {
		return c.invalid(errs)
	}
	q := c.query()
	f := runFilter{states: q["state"], runType: q["run_type"]}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if id := c.params["dag_id"]; id != "~" {
		// Airflow 2 just filters; Airflow 3 checks that the DAG exists.
		if c.s.st.byID[id] == nil && !c.v1() {
			return c.fail(http.StatusNotFound, "", fmt.Sprintf("The Dag with ID: `%s` was not found", id))
		}
		f.dagIDs = []string{id}
	}
	return c.runCollection(f, limit, offset)
}

// POST /dags/~/dagRuns/list: v1 ListDagRunsForm, v2 DAGRunsBatchBody.
func listRunsBatch(c *call) reply {
	if !c.v1() && c.params["dag_id"] != "~" {
		return c.invalid([]v2ValidationError{{Type: "literal_error", Loc: []any{"path", "dag_id"},
			Msg: "Input should be '~'", Input: c.params["dag_id"]}})
	}
	f, rep := c.object()
	if rep != nil {
		return *rep
	}
	allowed := []string{"order_by", "page_offset", "page_limit", "dag_ids", "states",
		"start_date_gte", "start_date_lte", "end_date_gte", "end_date_lte"}
	if c.v1() {
		allowed = append(allowed, "execution_date_gte", "execution_date_lte", "updated_at_gte", "updated_at_lte")
	} else {
		allowed = append(allowed, "logical_date_gte", "logical_date_lte", "run_after_gte", "run_after_lte",
			"start_date_gt", "start_date_lt", "end_date_gt", "end_date_lt", "logical_date_gt", "logical_date_lt",
			"run_after_gt", "run_after_lt", "duration_gte", "duration_gt", "duration_lte", "duration_lt", "conf_contains")
	}
	f.only(allowed...)
	minLimit := 0
	if c.v1() {
		minLimit = 1
	}
	limit, offset := 100, 0
	if l := f.integer("page_limit", minLimit); l != nil {
		limit = min(*l, maxPageLimit)
	}
	if o := f.integer("page_offset", 0); o != nil {
		offset = *o
	}
	filter := runFilter{dagIDs: f.strings("dag_ids"), states: f.strings("states")}
	f.str("order_by")
	if len(f.errs) > 0 {
		return c.invalid(f.errs)
	}
	if filter.dagIDs != nil && len(filter.dagIDs) == 0 {
		return okJSON(map[string]any{"dag_runs": []any{}, "total_entries": 0})
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.runCollection(filter, limit, offset)
}

// GET /dags/{dag_id}/dagRuns/{dag_run_id}
func getRun(c *call) reply {
	dagID, runID := c.params["dag_id"], c.params["dag_run_id"]
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	r := c.s.st.findRun(dagID, runID)
	if r == nil {
		return c.runNotFound(dagID, runID)
	}
	return okJSON(c.renderRun(r))
}

func (st *store) findRun(dagID, runID string) *dagRun {
	for _, r := range st.runs {
		if r.dagID == dagID && r.runID == runID {
			return r
		}
	}
	return nil
}

// triggerBody is what POST /dags/{dag_id}/dagRuns asked for.
type triggerBody struct {
	runID              *string
	logical            *time.Time
	intervalStart, end *time.Time
	runAfter           *time.Time // v2 only
	partitionKey       *string    // v2 only
	conf               map[string]any
	note               *string
}

// readTrigger parses the v1 DAGRun body or the v2 TriggerDAGRunPostBody.
func (c *call) readTrigger() (triggerBody, *reply) {
	var b triggerBody
	f, rep := c.object()
	if rep != nil {
		return b, rep
	}
	if c.v1() {
		f.only("dag_run_id", "logical_date", "execution_date", "data_interval_start", "data_interval_end", "conf", "note")
	} else {
		f.only("dag_run_id", "logical_date", "run_after", "data_interval_start", "data_interval_end", "conf", "note", "partition_key")
		f.require("logical_date") // required, and may be null
		b.runAfter = f.timestamp("run_after")
		b.partitionKey = f.str("partition_key")
	}
	b.runID = f.str("dag_run_id")
	b.logical = f.timestamp("logical_date")
	if c.v1() {
		if exec := f.timestamp("execution_date"); exec != nil {
			if b.logical != nil && !b.logical.Equal(*exec) {
				rep := c.fail(http.StatusBadRequest, "Bad Request",
					"logical_date conflicts with execution_date")
				return b, &rep
			}
			b.logical = exec
		}
	}
	b.intervalStart, b.end = f.timestamp("data_interval_start"), f.timestamp("data_interval_end")
	b.conf = f.dict("conf")
	b.note = f.str("note")
	if len(f.errs) > 0 {
		rep := c.invalid(f.errs)
		return b, &rep
	}
	if (b.intervalStart == nil) != (b.end == nil) {
		rep := c.fail(http.StatusBadRequest, "Bad Request",
			"{'_schema': [\"Both 'data_interval_start' and 'data_interval_end' must be specified together\"]}")
		if !c.v1() {
			rep = c.invalid([]v2ValidationError{{Type: "value_error", Loc: []any{"body"},
				Msg:   "Value error, Either both data_interval_start and data_interval_end must be provided or both must be None",
				Input: f.obj}})
		}
		return b, &rep
	}
	if b.runID != nil && !allowedRunID.MatchString(*b.runID) {
		rep := c.fail(http.StatusBadRequest, "Bad Request", fmt.Sprintf(
			"The provided run ID '%s' is invalid. It does not match the configured pattern: '%s'",
			*b.runID, allowedRunID.String()))
		return b, &rep
	}
	return b, nil
}

// POST /dags/{dag_id}/dagRuns: trigger a run. It stays queued: the double
// has no scheduler.
func triggerRun(c *call) reply {
	b, rep := c.readTrigger()
	if rep != nil {
		return *rep
	}
	dagID := c.params["dag_id"]
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	d := c.s.st.byID[dagID]
	if d == nil {
		if c.v1() {
			return c.dagNotFound(dagID)
		}
		return c.fail(http.StatusNotFound, "", fmt.Sprintf("DAG with dag_id: '%s' not found", dagID))
	}
	now := c.now.Truncate(time.Microsecond)
	if b.runAfter != nil {
		now = *b.runAfter
	}
	logical := b.logical
	if c.v1() && logical == nil {
		logical = &now // Airflow 2: the logical date defaults to now
	}
	runID := ""
	switch {
	case b.runID != nil:
		runID = *b.runID
	case logical != nil:
		runID = "manual__" + pyISO(*logical)
	default:
		runID = "manual__" + pyISO(now) + "_" + randomSuffix()
	}
	for _, r := range c.s.st.runs {
		if r.dagID != dagID {
			continue
		}
		if r.runID == runID {
			if c.v1() {
				return c.fail(http.StatusConflict, "Conflict",
					fmt.Sprintf("DAGRun with DAG ID: '%s' and DAGRun ID: '%s' already exists", dagID, runID))
			}
			return c.fail(http.StatusConflict, "", fmt.Sprintf(
				"A DAG Run already exists for DAG %s with run id %s", dagID, runID))
		}
		if logical != nil && r.logicalDate != nil && r.logicalDate.Equal(*logical) {
			if c.v1() {
				return c.fail(http.StatusConflict, "Conflict", fmt.Sprintf(
					"DAGRun with DAG ID: '%s' and DAGRun ExecutionDate: '%s' already exists",
					dagID, pyISO(*logical)))
			}
			return c.fail(http.StatusConflict, "", fmt.Sprintf(
				"A DAG Run already exists for DAG %s with logical date %s", dagID, pyISO(*logical)))
		}
	}
	start, end := b.intervalStart, b.end
	if start == nil && logical != nil {
		start, end = d.manualInterval(*logical)
	}
	r := c.s.st.addRun(d, runID, "manual", logical, now, start, end)
	r.external = true
	r.triggeredBy = "rest_api"
	r.partitionKey = b.partitionKey
	if b.conf != nil {
		r.conf = b.conf
	}
	if b.note != nil && *b.note != "" {
		r.note = b.note
	}
	if !c.v1() && c.who.Subject != "" {
		r.triggeringUser = ptr(c.who.Subject)
	}
	c.logEvent(eventLog{dagID: &r.dagID, runID: &r.runID, logicalDate: r.logicalDate}, "post_dag_run", c.body)
	return okJSON(c.renderRun(r))
}

// manualInterval is the timetable's infer_manual_data_interval: the last
// complete schedule period before the logical date, or [date, date].
func (d *dagState) manualInterval(at time.Time) (*time.Time, *time.Time) {
	end, ok := d.Schedule.prevTick(at, d.StartDate)
	if ok {
		if start, ok := d.Schedule.prevTick(end.Add(-time.Nanosecond), d.StartDate); ok {
			return &start, &end
		}
	}
	return &at, &at
}

// randomSuffix is the random tail Airflow 3 adds to run IDs of runs with
// no logical date.
func randomSuffix() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [8]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}
