package airflowsim

import (
	"crypto/rand"
	"fmt"
	"sort"
	"time"
)

// store is the double's metadata database. Every method and field access
// needs Server.mu held.
type store struct {
	boot time.Time

	dags []*dagState // sorted by DAG ID
	byID map[string]*dagState

	runs    []*dagRun // in creation order; seq is the row id
	nextSeq int

	vars   []*variable
	conns  []*connection
	pools  []*pool
	events []*eventLog
	nextEv int

	importErrors []importError

	account  serviceAccount
	password string // the service account's current basic-auth password
}

// serviceAccount is the FAB user behind Options.Username.
type serviceAccount struct {
	changedOn  time.Time
	createdOn  time.Time
	lastLogin  *time.Time
	loginCount int
}

func newStore(dags []DAG, password string, now time.Time) *store {
	now = now.Truncate(time.Microsecond)
	st := &store{boot: now, byID: map[string]*dagState{}, password: password}
	for _, d := range dags {
		ds := newDAGState(d, now)
		st.dags = append(st.dags, ds)
		st.byID[ds.ID] = ds
	}
	sort.Slice(st.dags, func(i, j int) bool { return st.dags[i].ID < st.dags[j].ID })
	for _, ds := range st.dags {
		st.seedRuns(ds, now)
	}
	st.seedResources(now)
	st.account = serviceAccount{createdOn: now.Add(-30 * 24 * time.Hour), changedOn: now.Add(-30 * 24 * time.Hour)}
	return st
}

// seedRuns gives a scheduled DAG its last finished interval and works out
// its next one, and gives an unscheduled DAG a failed manual run.
func (st *store) seedRuns(ds *dagState, now time.Time) {
	if ds.Schedule.IsNone() {
		after := now.Add(-3 * time.Hour).Truncate(time.Second)
		run := st.addRun(ds, "manual__"+pyISO(after), "manual", &after, after, &after, &after)
		run.triggeredBy = "ui"
		run.triggeringUser = ptr("admin")
		run.external = true
		run.finish("failed", after)
		return
	}
	// The newest interval that ended at least two minutes ago has run;
	// the one after it is next.
	end, ok := ds.Schedule.prevTick(now.Add(-2*time.Minute), ds.StartDate)
	if !ok {
		if first, ok := ds.Schedule.nextTick(now, ds.StartDate); ok {
			after, _ := ds.Schedule.nextTick(first, ds.StartDate)
			ds.next = &nextRun{logical: first, start: first, end: after, after: after}
		}
		return
	}
	start, ok := ds.Schedule.prevTick(end.Add(-time.Nanosecond), ds.StartDate)
	if ok && !start.Before(ds.StartDate) {
		run := st.addRun(ds, "scheduled__"+pyISO(start), "scheduled", &start, end, &start, &end)
		run.triggeredBy = "timetable"
		run.finish("success", end)
	}
	if after, ok := ds.Schedule.nextTick(end, ds.StartDate); ok {
		ds.next = &nextRun{logical: end, start: end, end: after, after: after}
	}
}

func (st *store) seedResources(now time.Time) {
	st.vars = []*variable{
		{key: "environment", value: "demo", description: ptr("Where this Airflow runs")},
		{key: "team_a_bucket", value: "s3://team-a-data/landing", description: nil},
		{key: "finance_api_secret", value: "s3cr3t-finance-key", description: ptr("Token for the ledger API")},
	}
	st.conns = []*connection{
		{id: "postgres_default", connType: "postgres", host: ptr("postgres"), login: ptr("airflow"),
			schema: ptr("airflow"), port: ptr(5432), password: ptr("airflow")},
		{id: "team_a_http", connType: "http", description: ptr("Team A's reporting API"),
			host: ptr("reports.team-a.example"), login: ptr("svc-airflow"), password: ptr("hunter2"),
			extra: ptr(`{"timeout": 30}`)},
	}
	st.pools = []*pool{
		{name: "default_pool", slots: 128, description: ptr("Default pool")},
		{name: "team_a_pool", slots: 8, description: ptr("Team A's workers"), includeDeferred: true},
	}
	st.addEvent(eventLog{when: now.Add(-24 * time.Hour), event: "cli_scheduler", owner: ptr("airflow"),
		extra: ptr(`{"host_name": "airflow-scheduler-0", "full_command": "['airflow', 'scheduler']"}`)})
	st.addEvent(eventLog{when: now.Add(-24 * time.Hour), event: "cli_api_server", owner: ptr("airflow"),
		extra: ptr(`{"host_name": "airflow-api-0", "full_command": "['airflow', 'api-server']"}`)})
	st.importErrors = []importError{{
		id:        1,
		timestamp: now.Add(-10 * time.Minute),
		filename:  "/opt/airflow/dags/legacy/broken_etl.py",
		stackTrace: "Traceback (most recent call last):\n" +
			"  File \"/opt/airflow/dags/legacy/broken_etl.py\", line 3, in <module>\n" +
			"    from airflow.operators.dummy import DummyOperator\n" +
			"ModuleNotFoundError: No module named 'airflow.operators.dummy'\n",
	}}
}

func (st *store) addEvent(e eventLog) *eventLog {
	st.nextEv++
	e.id = st.nextEv
	st.events = append(st.events, &e)
	return &e
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
