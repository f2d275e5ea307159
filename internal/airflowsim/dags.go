package airflowsim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"slices"
	"sort"
	"strings"
	"time"
)

// DAG is one DAG the double serves. Only ID is required; the other fields
// have Airflow-like defaults.
type DAG struct {
	// ID is the dag_id.
	ID string
	// DisplayName defaults to ID.
	DisplayName string
	// Description may be empty (null in the APIs).
	Description string
	// Schedule is the DAG's schedule; the zero value is None.
	Schedule Schedule
	// Tags are the DAG's tags, in order.
	Tags []string
	// Owners defaults to ["airflow"].
	Owners []string
	// Fileloc defaults to /opt/airflow/dags/<ID>.py.
	Fileloc string
	// Paused is the DAG's is_paused at New; PATCH /dags/{dag_id} changes it.
	Paused bool
	// StartDate defaults to 2024-01-01T00:00:00Z; timedelta schedules tick
	// from it.
	StartDate time.Time
	// MaxActiveRuns and MaxActiveTasks default to Airflow's 16.
	MaxActiveRuns  int
	MaxActiveTasks int
	// Tasks default to extract >> transform >> load.
	Tasks []Task
}

// Task is one task of a DAG.
type Task struct {
	// ID is the task_id.
	ID string
	// Operator is the operator's class name; it defaults to BashOperator.
	Operator string
	// Downstream are the IDs of the tasks that run after this one.
	Downstream []string
}

// DefaultDAGs returns the DAGs a server has when Options.DAGs is nil:
//
//   - team_a_daily: cron "0 * * * *" (hourly, despite its name), tag team-a
//   - team_a_hourly: timedelta(hours=1), tag team-a
//   - team_b_daily: cron "0 6 * * *", tag team-b, paused
//   - finance_report: schedule None, tag finance
//
// Each call returns a new slice the caller may change.
func DefaultDAGs() []DAG {
	return []DAG{
		{
			ID:          "team_a_daily",
			Description: "Team A's daily load; it runs every hour despite its name.",
			Schedule:    Cron("0 * * * *"),
			Tags:        []string{"team-a", "etl"},
			Owners:      []string{"team-a"},
			Fileloc:     "/opt/airflow/dags/team_a/daily.py",
		},
		{
			ID:          "team_a_hourly",
			Description: "Team A's hourly metrics rollup.",
			Schedule:    Every(time.Hour),
			Tags:        []string{"team-a"},
			Owners:      []string{"team-a"},
			Fileloc:     "/opt/airflow/dags/team_a/hourly.py",
		},
		{
			ID:          "team_b_daily",
			Description: "Team B's morning export.",
			Schedule:    Cron("0 6 * * *"),
			Tags:        []string{"team-b", "etl"},
			Owners:      []string{"team-b"},
			Fileloc:     "/opt/airflow/dags/team_b/daily.py",
			Paused:      true,
		},
		{
			ID:            "finance_report",
			DisplayName:   "Finance report",
			Description:   "Month-end finance report, triggered by hand.",
			Tags:          []string{"finance"},
			Owners:        []string{"finance"},
			Fileloc:       "/opt/airflow/dags/finance/report.py",
			MaxActiveRuns: 1,
			Tasks: []Task{
				{ID: "extract", Operator: "SQLExecuteQueryOperator", Downstream: []string{"transform"}},
				{ID: "transform", Operator: "PythonOperator", Downstream: []string{"publish"}},
				{ID: "publish", Operator: "EmailOperator"},
			},
		},
	}
}

const dagsFolder = "/opt/airflow/dags"

// dagState is a DAG as the metadata database holds it.
type dagState struct {
	DAG
	paused     bool
	lastParsed time.Time
	next       *nextRun // nil when nothing is scheduled
	versionID  string
	versionAt  time.Time
}

// nextRun is what the scheduler has planned for a DAG.
type nextRun struct{ logical, start, end, after time.Time }

func newDAGState(d DAG, now time.Time) *dagState {
	if d.DisplayName == "" {
		d.DisplayName = d.ID
	}
	if d.Owners == nil {
		d.Owners = []string{"airflow"}
	}
	if d.Fileloc == "" {
		d.Fileloc = dagsFolder + "/" + d.ID + ".py"
	}
	if d.StartDate.IsZero() {
		d.StartDate = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if d.MaxActiveRuns == 0 {
		d.MaxActiveRuns = 16
	}
	if d.MaxActiveTasks == 0 {
		d.MaxActiveTasks = 16
	}
	if d.Tasks == nil {
		d.Tasks = []Task{
			{ID: "extract", Downstream: []string{"transform"}},
			{ID: "transform", Downstream: []string{"load"}},
			{ID: "load"},
		}
	}
	d.Tags = slices.Clone(d.Tags)
	d.Owners = slices.Clone(d.Owners)
	d.Tasks = slices.Clone(d.Tasks)
	for i := range d.Tasks {
		if d.Tasks[i].Operator == "" {
			d.Tasks[i].Operator = "BashOperator"
		}
	}
	return &dagState{
		DAG:        d,
		paused:     d.Paused,
		lastParsed: now.Add(-30 * time.Second),
		versionID:  newUUID(),
		versionAt:  now.Add(-7 * 24 * time.Hour),
	}
}

func (d *dagState) relativeFileloc() string {
	if rel, ok := strings.CutPrefix(d.Fileloc, dagsFolder+"/"); ok {
		return rel
	}
	return path.Base(d.Fileloc)
}

// fileToken imitates itsdangerous' URLSafeSerializer output over the file
// path: a payload and a signature, both base64url.
func (d *dagState) fileToken() string {
	payload, _ := json.Marshal(d.Fileloc)
	sum := sha256.Sum256(append([]byte("airflowsim:"), payload...))
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(sum[:20])
}

func (d *dagState) description() *string {
	if d.Description == "" {
		return nil
	}
	return &d.Description
}

// v1DAG is the v1 DAG schema.
type v1DAG struct {
	DagID                       string   `json:"dag_id"`
	DagDisplayName              string   `json:"dag_display_name"`
	RootDagID                   *string  `json:"root_dag_id"`
	IsPaused                    bool     `json:"is_paused"`
	IsActive                    bool     `json:"is_active"`
	IsSubdag                    bool     `json:"is_subdag"`
	LastParsedTime              *string  `json:"last_parsed_time"`
	LastPickled                 *string  `json:"last_pickled"`
	LastExpired                 *string  `json:"last_expired"`
	SchedulerLock               *bool    `json:"scheduler_lock"`
	PickleID                    *string  `json:"pickle_id"`
	DefaultView                 string   `json:"default_view"`
	Fileloc                     string   `json:"fileloc"`
	FileToken                   string   `json:"file_token"`
	Owners                      []string `json:"owners"`
	Description                 *string  `json:"description"`
	ScheduleInterval            any      `json:"schedule_interval"`
	TimetableDescription        string   `json:"timetable_description"`
	Tags                        []v1Tag  `json:"tags"`
	MaxActiveTasks              int      `json:"max_active_tasks"`
	MaxActiveRuns               int      `json:"max_active_runs"`
	HasTaskConcurrencyLimits    bool     `json:"has_task_concurrency_limits"`
	HasImportErrors             bool     `json:"has_import_errors"`
	NextDagrun                  *string  `json:"next_dagrun"`
	NextDagrunDataIntervalStart *string  `json:"next_dagrun_data_interval_start"`
	NextDagrunDataIntervalEnd   *string  `json:"next_dagrun_data_interval_end"`
	NextDagrunCreateAfter       *string  `json:"next_dagrun_create_after"`
	MaxConsecutiveFailedDagRuns int      `json:"max_consecutive_failed_dag_runs"`
}

type v1Tag struct {
	Name string `json:"name"`
}

// v1DAGDetail is the v1 DAGDetail schema: DAG plus the parsed DAG's settings.
type v1DAGDetail struct {
	v1DAG
	Timezone                  string         `json:"timezone"`
	Catchup                   bool           `json:"catchup"`
	Orientation               string         `json:"orientation"`
	Concurrency               int            `json:"concurrency"`
	StartDate                 *string        `json:"start_date"`
	DagRunTimeout             any            `json:"dag_run_timeout"`
	DatasetExpression         map[string]any `json:"dataset_expression"`
	DocMd                     *string        `json:"doc_md"`
	Params                    map[string]any `json:"params"`
	EndDate                   *string        `json:"end_date"`
	IsPausedUponCreation      *bool          `json:"is_paused_upon_creation"`
	LastParsed                *string        `json:"last_parsed"`
	TemplateSearchPath        []string       `json:"template_search_path"`
	RenderTemplateAsNativeObj bool           `json:"render_template_as_native_obj"`
}

func (c *call) v1DAG(d *dagState) v1DAG {
	out := v1DAG{
		DagID:                d.ID,
		DagDisplayName:       d.DisplayName,
		IsPaused:             d.paused,
		IsActive:             true,
		LastParsedTime:       c.stampPtr(&d.lastParsed),
		DefaultView:          "grid",
		Fileloc:              d.Fileloc,
		FileToken:            d.fileToken(),
		Owners:               slices.Clone(d.Owners),
		Description:          d.description(),
		ScheduleInterval:     d.Schedule.v1Interval(),
		TimetableDescription: d.Schedule.description(),
		Tags:                 []v1Tag{},
		MaxActiveTasks:       d.MaxActiveTasks,
		MaxActiveRuns:        d.MaxActiveRuns,
	}
	for _, t := range d.Tags {
		out.Tags = append(out.Tags, v1Tag{Name: t})
	}
	if d.next != nil {
		out.NextDagrun = c.stampPtr(&d.next.logical)
		out.NextDagrunDataIntervalStart = c.stampPtr(&d.next.start)
		out.NextDagrunDataIntervalEnd = c.stampPtr(&d.next.end)
		out.NextDagrunCreateAfter = c.stampPtr(&d.next.after)
	}
	return out
}

func (c *call) v1DAGDetail(d *dagState) v1DAGDetail {
	return v1DAGDetail{
		v1DAG:       c.v1DAG(d),
		Timezone:    "Timezone('UTC')",
		Orientation: "LR",
		Concurrency: d.MaxActiveTasks,
		StartDate:   c.stampPtr(&d.StartDate),
		Params:      map[string]any{},
		LastParsed:  c.stampPtr(&d.lastParsed),
	}
}

// v2DAG is the v2 DAGResponse schema.
type v2DAG struct {
	DagID                       string     `json:"dag_id"`
	DagDisplayName              string     `json:"dag_display_name"`
	IsPaused                    bool       `json:"is_paused"`
	IsStale                     bool       `json:"is_stale"`
	LastParsedTime              *string    `json:"last_parsed_time"`
	LastParseDuration           *float64   `json:"last_parse_duration"`
	LastExpired                 *string    `json:"last_expired"`
	BundleName                  *string    `json:"bundle_name"`
	BundleVersion               *string    `json:"bundle_version"`
	RelativeFileloc             *string    `json:"relative_fileloc"`
	Fileloc                     string     `json:"fileloc"`
	Description                 *string    `json:"description"`
	TimetableSummary            *string    `json:"timetable_summary"`
	TimetableDescription        *string    `json:"timetable_description"`
	Tags                        []v2DagTag `json:"tags"`
	MaxActiveTasks              int        `json:"max_active_tasks"`
	MaxActiveRuns               *int       `json:"max_active_runs"`
	MaxConsecutiveFailedDagRuns int        `json:"max_consecutive_failed_dag_runs"`
	HasTaskConcurrencyLimits    bool       `json:"has_task_concurrency_limits"`
	HasImportErrors             bool       `json:"has_import_errors"`
	NextDagrunLogicalDate       *string    `json:"next_dagrun_logical_date"`
	NextDagrunDataIntervalStart *string    `json:"next_dagrun_data_interval_start"`
	NextDagrunDataIntervalEnd   *string    `json:"next_dagrun_data_interval_end"`
	NextDagrunRunAfter          *string    `json:"next_dagrun_run_after"`
	Owners                      []string   `json:"owners"`
	FileToken                   string     `json:"file_token"`
}

type v2DagTag struct {
	Name           string `json:"name"`
	DagID          string `json:"dag_id"`
	DagDisplayName string `json:"dag_display_name"`
}

// v2DAGDetails is the v2 DAGDetailsResponse schema.
type v2DAGDetails struct {
	v2DAG
	Catchup                   bool              `json:"catchup"`
	DagRunTimeout             *string           `json:"dag_run_timeout"`
	AssetExpression           map[string]any    `json:"asset_expression"`
	DocMd                     *string           `json:"doc_md"`
	StartDate                 *string           `json:"start_date"`
	EndDate                   *string           `json:"end_date"`
	IsPausedUponCreation      *bool             `json:"is_paused_upon_creation"`
	Params                    map[string]any    `json:"params"`
	RenderTemplateAsNativeObj bool              `json:"render_template_as_native_obj"`
	TemplateSearchPath        []string          `json:"template_search_path"`
	Timezone                  *string           `json:"timezone"`
	LastParsed                *string           `json:"last_parsed"`
	DefaultArgs               map[string]any    `json:"default_args"`
	OwnerLinks                map[string]string `json:"owner_links"`
	IsFavorite                bool              `json:"is_favorite"`
	ActiveRunsCount           int               `json:"active_runs_count"`
	Concurrency               int               `json:"concurrency"`
	LatestDagVersion          *v2DagVersion     `json:"latest_dag_version"`
}

// v2DagVersion is the v2 DagVersionResponse schema.
type v2DagVersion struct {
	ID             string  `json:"id"`
	VersionNumber  int     `json:"version_number"`
	DagID          string  `json:"dag_id"`
	BundleName     *string `json:"bundle_name"`
	BundleVersion  *string `json:"bundle_version"`
	CreatedAt      string  `json:"created_at"`
	DagDisplayName string  `json:"dag_display_name"`
	BundleURL      *string `json:"bundle_url"`
}

func (c *call) v2DAG(d *dagState) v2DAG {
	out := v2DAG{
		DagID:                d.ID,
		DagDisplayName:       d.DisplayName,
		IsPaused:             d.paused,
		LastParsedTime:       c.stampPtr(&d.lastParsed),
		LastParseDuration:    ptr(0.184),
		BundleName:           ptr("dags-folder"),
		RelativeFileloc:      ptr(d.relativeFileloc()),
		Fileloc:              d.Fileloc,
		Description:          d.description(),
		TimetableSummary:     d.Schedule.summary(),
		TimetableDescription: ptr(d.Schedule.description()),
		Tags:                 []v2DagTag{},
		MaxActiveTasks:       d.MaxActiveTasks,
		MaxActiveRuns:        ptr(d.MaxActiveRuns),
		Owners:               slices.Clone(d.Owners),
		FileToken:            d.fileToken(),
	}
	for _, t := range d.Tags {
		out.Tags = append(out.Tags, v2DagTag{Name: t, DagID: d.ID, DagDisplayName: d.DisplayName})
	}
	if d.next != nil {
		out.NextDagrunLogicalDate = c.stampPtr(&d.next.logical)
		out.NextDagrunDataIntervalStart = c.stampPtr(&d.next.start)
		out.NextDagrunDataIntervalEnd = c.stampPtr(&d.next.end)
		out.NextDagrunRunAfter = c.stampPtr(&d.next.after)
	}
	return out
}

func (c *call) v2DagVersion(d *dagState) v2DagVersion {
	return v2DagVersion{
		ID:             d.versionID,
		VersionNumber:  1,
		DagID:          d.ID,
		BundleName:     ptr("dags-folder"),
		CreatedAt:      c.stamp(d.versionAt),
		DagDisplayName: d.DisplayName,
	}
}

func (c *call) v2DAGDetails(d *dagState, activeRuns int) v2DAGDetails {
	version := c.v2DagVersion(d)
	return v2DAGDetails{
		v2DAG:            c.v2DAG(d),
		StartDate:        c.stampPtr(&d.StartDate),
		Params:           map[string]any{},
		Timezone:         ptr("UTC"),
		LastParsed:       c.stampPtr(&d.lastParsed),
		DefaultArgs:      map[string]any{"owner": strings.Join(d.Owners, ",")},
		ActiveRunsCount:  activeRuns,
		Concurrency:      d.MaxActiveTasks,
		LatestDagVersion: &version,
	}
}

// dagNotFound is Airflow's 404 for an unknown DAG ID.
func (c *call) dagNotFound(dagID string) reply {
	if c.v1() {
		return c.fail(http.StatusNotFound, "DAG not found", fmt.Sprintf("DAG with dag_id: '%s' not found", dagID))
	}
	return c.fail(http.StatusNotFound, "", fmt.Sprintf("Dag with id %s was not found", dagID))
}

// GET /dags
func listDAGs(c *call) reply {
	limit, offset, errs := c.page()
	q := c.query()
	var paused *bool
	if raw := q.Get("paused"); raw != "" {
		b, ok := queryBool(raw)
		if !ok {
			errs = append(errs, v2ValidationError{Type: "bool_parsing", Loc: []any{"query", "paused"},
				Msg: "Input should be a valid boolean, unable to interpret input", Input: raw})
		}
		paused = &b
	}
	if len(errs) > 0 {
		return c.invalid(errs)
	}
	match := func(string) bool { return true }
	if p := q.Get("dag_id_pattern"); p != "" {
		match = likeMatcher(p, !c.v1())
	}
	tags := q["tags"]
	allTags := !c.v1() && q.Get("tags_match_mode") == "all"
	owners := q["owners"]

	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	var picked []*dagState
	for _, d := range c.s.st.dags {
		if !match(d.ID) || (paused != nil && d.paused != *paused) {
			continue
		}
		if len(tags) > 0 && !hasTags(d.Tags, tags, allTags) {
			continue
		}
		if len(owners) > 0 && !hasTags(d.Owners, owners, false) {
			continue
		}
		picked = append(picked, d)
	}
	sortDAGs(picked, q.Get("order_by"))
	lo, hi := window(len(picked), limit, offset)
	if c.v1() {
		out := make([]v1DAG, 0, hi-lo)
		for _, d := range picked[lo:hi] {
			out = append(out, c.v1DAG(d))
		}
		return okJSON(map[string]any{"dags": out, "total_entries": len(picked)})
	}
	out := make([]v2DAG, 0, hi-lo)
	for _, d := range picked[lo:hi] {
		out = append(out, c.v2DAG(d))
	}
	return okJSON(map[string]any{"dags": out, "total_entries": len(picked)})
}

func hasTags(have, want []string, all bool) bool {
	for _, w := range want {
		found := slices.Contains(have, w)
		if found && !all {
			return true
		}
		if !found && all {
			return false
		}
	}
	return all
}

func sortDAGs(ds []*dagState, order string) {
	desc := strings.HasPrefix(order, "-")
	key := func(d *dagState) string { return d.ID }
	if strings.TrimPrefix(order, "-") == "dag_display_name" {
		key = func(d *dagState) string { return d.DisplayName }
	}
	sort.SliceStable(ds, func(i, j int) bool {
		if desc {
			return key(ds[i]) > key(ds[j])
		}
		return key(ds[i]) < key(ds[j])
	})
}

// GET /dags/{dag_id}
func getDAG(c *call) reply {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	d := c.s.st.byID[c.params["dag_id"]]
	if d == nil {
		return c.dagNotFound(c.params["dag_id"])
	}
	if c.v1() {
		return okJSON(c.v1DAG(d))
	}
	return okJSON(c.v2DAG(d))
}

// GET /dags/{dag_id}/details
func getDAGDetails(c *call) reply {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	d := c.s.st.byID[c.params["dag_id"]]
	if d == nil {
		return c.dagNotFound(c.params["dag_id"])
	}
	if c.v1() {
		return okJSON(c.v1DAGDetail(d))
	}
	active := 0
	for _, r := range c.s.st.runs {
		if r.dagID == d.ID && (r.state == "queued" || r.state == "running") {
			active++
		}
	}
	return okJSON(c.v2DAGDetails(d, active))
}

// PATCH /dags/{dag_id}: only is_paused can change, in both APIs.
func patchDAG(c *call) reply {
	if mask := c.query()["update_mask"]; len(mask) > 0 && (len(mask) != 1 || mask[0] != "is_paused") {
		return c.fail(http.StatusBadRequest, "Bad Request", "Only `is_paused` field can be updated through the REST API")
	}
	f, rep := c.object()
	if rep != nil {
		return *rep
	}
	f.only("is_paused")
	if f.require("is_paused") {
		f.boolean("is_paused")
	}
	if len(f.errs) > 0 {
		return c.invalid(f.errs)
	}
	paused := f.obj["is_paused"].(bool)

	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	d := c.s.st.byID[c.params["dag_id"]]
	if d == nil {
		return c.dagNotFound(c.params["dag_id"])
	}
	d.paused = paused
	c.logEvent(eventLog{dagID: &d.ID}, "patch_dag", c.body)
	if c.v1() {
		return okJSON(c.v1DAG(d))
	}
	return okJSON(c.v2DAG(d))
}
