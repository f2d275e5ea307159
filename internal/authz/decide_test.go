package authz

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/catalog"
	"github.com/airgate/airgate/internal/identity"
)

type decideCase struct {
	name    string
	in      Input
	allow   bool
	reasons []Reason
	missing *catalog.Requirement
	// permits and forbids are DAG ids the list filter must permit and
	// forbid; filterAll says it permits every DAG.
	permits, forbids []string
	filterAll        bool
}

func (tc decideCase) run(t *testing.T, e *Engine) {
	t.Helper()
	d, err := e.Decide(context.Background(), tc.in)
	if err != nil {
		t.Fatalf("Decide() error = %v", err)
	}
	if d.Allow != tc.allow || !slices.Equal(d.Reasons, tc.reasons) {
		t.Errorf("Decide() = allow %v %v, want allow %v %v (missing %+v)", d.Allow, d.Reasons, tc.allow, tc.reasons, d.Missing)
	}
	switch {
	case tc.missing == nil && d.Missing != nil:
		t.Errorf("Missing = %+v, want nil", *d.Missing)
	case tc.missing != nil && (d.Missing == nil || *d.Missing != *tc.missing):
		t.Errorf("Missing = %+v, want %+v", d.Missing, *tc.missing)
	}
	if d.Allow && len(d.Matched) == 0 && tc.reasons[0] == ReasonAllowed {
		t.Errorf("allowed with no Matched grants")
	}
	if tc.filterAll || len(tc.permits)+len(tc.forbids) > 0 {
		if !d.DAGs.Active() {
			t.Fatalf("DAGs filter inactive, want active")
		}
		if d.DAGs.All() != tc.filterAll {
			t.Errorf("DAGs.All() = %v, want %v (%s)", d.DAGs.All(), tc.filterAll, d.DAGs.String())
		}
	} else if d.Allow && d.DAGs.Active() {
		t.Errorf("DAGs filter %s active, want inactive", d.DAGs.String())
	}
	for _, id := range tc.permits {
		if !d.DAGs.Permits(id, nil) {
			t.Errorf("DAGs.Permits(%q) = false, want true (%s)", id, d.DAGs.String())
		}
	}
	for _, id := range tc.forbids {
		if d.DAGs.Permits(id, nil) {
			t.Errorf("DAGs.Permits(%q) = true, want false (%s)", id, d.DAGs.String())
		}
	}
}

func req(resource, action, dag string) *catalog.Requirement {
	return &catalog.Requirement{Resource: resource, Action: action, DAGID: dag}
}

var (
	allowed = []Reason{ReasonAllowed}
	missing = []Reason{ReasonPermissionMissing}
	noScope = []Reason{ReasonDAGNotInScope}
)

func TestDecideDemo(t *testing.T) {
	e := newEngine(t, demoPolicy(t))
	anon := input(nil, "GET", "/api/v1/dags")
	tests := []decideCase{
		// Airflow 2, /api/v1.
		{name: "v1 viewer lists DAGs", in: input(alice, "GET", "/api/v1/dags"), allow: true, reasons: allowed, filterAll: true},
		{name: "v1 viewer reads DAG runs", in: input(alice, "GET", "/api/v1/dags/team_a_daily/dagRuns"), allow: true, reasons: allowed},
		{name: "v1 viewer cannot trigger", in: input(alice, "POST", "/api/v1/dags/team_a_daily/dagRuns"),
			reasons: missing, missing: req("DAGs", "can_edit", "team_a_daily")},
		{name: "v1 team-a triggers team_a_daily", in: input(bob, "POST", "/api/v1/dags/team_a_daily/dagRuns"), allow: true, reasons: allowed},
		{name: "v1 team-a cannot trigger team_b_daily", in: input(bob, "POST", "/api/v1/dags/team_b_daily/dagRuns"),
			reasons: noScope, missing: req("DAGs", "can_edit", "team_b_daily")},
		{name: "v1 team-a reads team_a runs", in: input(bob, "GET", "/api/v1/dags/team_a_daily/dagRuns/run1"), allow: true, reasons: allowed},
		{name: "v1 team-a lists DAGs filtered", in: input(bob, "GET", "/api/v1/dags"), allow: true, reasons: allowed,
			permits: []string{"team_a_daily", "team_a_"}, forbids: []string{"team_b_daily", "xteam_a_daily"}},
		{name: "v1 team-a ~ runs need DAG Runs for every DAG", in: input(bob, "GET", "/api/v1/dags/~/dagRuns"),
			reasons: []Reason{ReasonAllDAGsRequired}, missing: req("DAG Runs", "can_read", "")},
		{name: "v1 team-a keeps Viewer's global Pools read", in: input(bob, "GET", "/api/v1/pools"), allow: true, reasons: allowed},
		{name: "v1 viewer ~ runs filtered to every DAG", in: input(alice, "GET", "/api/v1/dags/~/dagRuns"), allow: true, reasons: allowed, filterAll: true},
		{name: "v1 admin with MFA deletes a connection", in: input(dave, "DELETE", "/api/v1/connections/aws"), allow: true, reasons: allowed},
		{name: "v1 admin without MFA", in: input(erin, "DELETE", "/api/v1/connections/aws"),
			reasons: []Reason{"mfa-required"}, missing: req("Connections", "can_delete", "")},
		{name: "v1 nested admin ignored", in: input(carol, "DELETE", "/api/v1/connections/aws"),
			reasons: []Reason{ReasonNestedMembershipIgnored, ReasonNoMatchingRole}},
		{name: "v1 app role triggers team_a", in: input(etl, "POST", "/api/v1/dags/team_a_hourly/dagRuns"), allow: true, reasons: allowed},
		{name: "v1 app role cannot trigger team_b", in: input(etl, "POST", "/api/v1/dags/team_b_hourly/dagRuns"),
			reasons: noScope, missing: req("DAGs", "can_edit", "team_b_hourly")},
		{name: "v1 app role cannot read connections", in: input(etl, "GET", "/api/v1/connections"),
			reasons: missing, missing: req("Connections", "can_read", "")},
		{name: "v1 unknown operation", in: input(alice, "GET", "/api/v1/nope"), reasons: []Reason{ReasonUnknownOperation}},
		{name: "v1 bad DAG id", in: input(alice, "GET", "/api/v1/dags/a%20b"), reasons: []Reason{ReasonUnknownOperation}},
		{name: "v1 public health without principal", in: input(nil, "GET", "/api/v1/health"), allow: true, reasons: []Reason{ReasonPublicOperation}},
		{name: "v1 anonymous", in: anon, reasons: []Reason{ReasonUnauthenticated}},
		{name: "nobody's groups", in: input(user("zed@example.com", []string{"99999999-9999-4999-8999-999999999999"}), "GET", "/api/v1/dags"),
			reasons: []Reason{ReasonNoMatchingRole}},
		{name: "auth logout needs only a principal", in: input(alice, "GET", "/auth/logout"), allow: true, reasons: []Reason{ReasonAuthenticatedOperation}},
		{name: "auth logout anonymous", in: input(nil, "GET", "/auth/logout"), reasons: []Reason{ReasonUnauthenticated}},

		// Airflow 3, /api/v2.
		{name: "v2 viewer lists DAGs", in: input(alice, "GET", "/api/v2/dags"), allow: true, reasons: allowed, filterAll: true},
		{name: "v2 viewer reads DAG runs through FAB words", in: input(alice, "GET", "/api/v2/dags/team_a_daily/dagRuns"), allow: true, reasons: allowed},
		{name: "v2 viewer cannot trigger", in: input(alice, "POST", "/api/v2/dags/team_a_daily/dagRuns"),
			reasons: missing, missing: req("DAG.RUN", "POST", "team_a_daily")},
		{name: "v2 team-a triggers team_a_daily", in: input(bob, "POST", "/api/v2/dags/team_a_daily/dagRuns"), allow: true, reasons: allowed},
		{name: "v2 team-a cannot trigger team_b_daily", in: input(bob, "POST", "/api/v2/dags/team_b_daily/dagRuns"),
			reasons: noScope, missing: req("DAG.RUN", "POST", "team_b_daily")},
		{name: "v2 team-a lists DAGs filtered", in: input(bob, "GET", "/api/v2/dags"), allow: true, reasons: allowed,
			permits: []string{"team_a_daily"}, forbids: []string{"team_b_daily"}},
		{name: "v2 team-a task instances of team_a", in: input(bob, "GET", "/api/v2/dags/team_a_daily/dagRuns/r/taskInstances"), allow: true, reasons: allowed},
		{name: "v2 admin with MFA", in: input(dave, "DELETE", "/api/v2/connections/aws"), allow: true, reasons: allowed},
		{name: "v2 admin without MFA", in: input(erin, "DELETE", "/api/v2/connections/aws"),
			reasons: []Reason{"mfa-required"}, missing: req("CONNECTION", "DELETE", "")},
		{name: "v2 nested admin ignored", in: input(carol, "DELETE", "/api/v2/connections/aws"),
			reasons: []Reason{ReasonNestedMembershipIgnored, ReasonNoMatchingRole}},
		{name: "v2 app role triggers team_a", in: input(etl, "POST", "/api/v2/dags/team_a_daily/dagRuns"), allow: true, reasons: allowed},
		{name: "v2 unknown operation", in: input(alice, "GET", "/api/v2/nope"), reasons: []Reason{ReasonUnknownOperation}},
		{name: "v2 public version", in: input(nil, "GET", "/api/v2/version"), allow: true, reasons: []Reason{ReasonPublicOperation}},
		{name: "unclassified request", in: Input{Principal: alice}, reasons: []Reason{ReasonUnknownOperation}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, e) })
	}
}

func TestNestedMappingAllows(t *testing.T) {
	doc := strings.Replace(string(demoPolicy(t)), "nested: false", "nested: true", 1)
	e := newEngine(t, []byte(doc))
	decideCase{name: "nested admin", in: input(carol, "DELETE", "/api/v1/connections/aws"), allow: true, reasons: allowed}.run(t, e)
	w := e.Policy().Warnings()
	if len(w) != 1 || w[0].Code != "nested-admin" || w[0].Field != "mappings[2]" {
		t.Errorf("Warnings() = %v, want one nested-admin warning on mappings[2]", w)
	}
}

func TestGroupResolution(t *testing.T) {
	e := newEngine(t, demoPolicy(t))
	overage := *bob
	overage.Groups, overage.GroupsOverage = nil, true
	nestedOnly := `version: 1
mappings:
  - group: ` + gTeamA + `
    nested: true
    roles: [Viewer]
`
	en := newEngine(t, []byte(nestedOnly))
	tests := []struct {
		e  *Engine
		tc decideCase
	}{
		{e, decideCase{name: "direct groups not resolved", in: func() Input {
			in := input(bob, "GET", "/api/v1/dags")
			in.DirectGroups, in.DirectGroupsKnown = nil, false
			return in
		}(), reasons: []Reason{ReasonDirectGroupsUnresolved, ReasonNoMatchingRole}}},
		{e, decideCase{name: "overage with direct groups resolved", in: func() Input {
			in := input(&overage, "GET", "/api/v1/dags")
			in.DirectGroups, in.DirectGroupsKnown = []string{gTeamA}, true
			return in
		}(), allow: true, reasons: allowed, permits: []string{"team_a_x"}, forbids: []string{"b"}}},
		{en, decideCase{name: "overage unresolved", in: input(&overage, "GET", "/api/v1/dags"),
			reasons: []Reason{ReasonOverageUnresolved, ReasonNoMatchingRole}}},
		{en, decideCase{name: "overage resolved transitively", in: func() Input {
			in := input(&overage, "GET", "/api/v1/dags")
			in.TransitiveGroups, in.TransitiveGroupsKnown = []string{"other", gTeamA}, true
			return in
		}(), allow: true, reasons: allowed, filterAll: true}},
		{en, decideCase{name: "group ids compare case-insensitively", in: input(user("u@example.com", []string{strings.ToUpper(gTeamA)}), "GET", "/api/v1/dags"),
			allow: true, reasons: allowed, filterAll: true}},
		{e, decideCase{name: "app roles never come from groups", in: input(user("u@example.com", []string{"Airflow.Operator"}), "GET", "/api/v1/dags"),
			reasons: []Reason{ReasonNoMatchingRole}}},
	}
	for _, tt := range tests {
		t.Run(tt.tc.name, func(t *testing.T) { tt.tc.run(t, tt.e) })
	}
}

// TestTranslation checks roles written in one dialect against requests
// checked in the other: FAB roles on Airflow 3's API and the simple auth
// manager's roles on Airflow 2's.
func TestTranslation(t *testing.T) {
	doc := "version: 1\nmappings:\n"
	for _, r := range []string{"Viewer", "User", "Op", "Admin", "viewer", "user", "op", "admin"} {
		doc += "  - {app_role: R." + r + ", roles: [" + r + "]}\n"
	}
	e := newEngine(t, []byte(doc))
	app := func(role string) *identity.Principal {
		return &identity.Principal{Kind: identity.App, AppID: "app", AppRoles: []string{"R." + role}}
	}
	tests := []struct {
		role, method, path string
		want               bool
	}{
		// FAB roles, Airflow 3 requests.
		{"Viewer", "GET", "/api/v2/dags/etl/dagRuns", true},
		{"Viewer", "GET", "/api/v2/dags/~/dagRuns", true},
		{"Viewer", "POST", "/api/v2/dags/etl/dagRuns", false},
		{"User", "POST", "/api/v2/dags/etl/dagRuns", true},
		{"User", "GET", "/api/v2/dags/etl/dagRuns/r/taskInstances", true},
		{"Viewer", "GET", "/api/v2/connections", false},
		{"Op", "DELETE", "/api/v2/connections/aws", true},
		{"User", "DELETE", "/api/v2/connections/aws", false},
		{"Viewer", "GET", "/api/v2/assets", true},       // Assets and Asset Aliases (Airflow 3 Viewer)
		{"User", "POST", "/api/v2/backfills", true},     // BACKFILL POST through DAG Runs can_create
		{"Viewer", "GET", "/api/v2/plugins", false},     // VIEW.PLUGINS: Plugins can_read is Op's
		{"Op", "GET", "/api/v2/plugins", true},          // VIEW.PLUGINS
		{"Viewer", "GET", "/api/v2/importErrors", true}, // VIEW.IMPORT_ERRORS: ImportError
		{"Viewer", "GET", "/api/v2/eventLogs", false},   // DAG.AUDIT_LOG: Audit Logs is Admin's
		{"Admin", "GET", "/api/v2/eventLogs", true},     // through update_admin_permission's "*"
		{"Admin", "PATCH", "/api/v2/dags/etl", true},    // DAG PUT
		{"Viewer", "GET", "/api/v2/config", false},      // CONFIGURATION: Configurations is Op's
		{"Op", "GET", "/api/v2/config", true},           // CONFIGURATION
		{"Viewer", "GET", "/api/v2/dags/etl/dagVersions", true},
		// Simple roles, Airflow 2 requests.
		{"viewer", "GET", "/api/v1/dags", true},
		{"viewer", "GET", "/api/v1/dags/etl/dagRuns", true},
		{"viewer", "POST", "/api/v1/dags/etl/dagRuns", false},
		{"user", "POST", "/api/v1/dags/etl/dagRuns", true},
		{"user", "PATCH", "/api/v1/dags/etl/dagRuns/r/taskInstances/t", true},
		{"viewer", "GET", "/api/v1/connections", false},
		{"op", "GET", "/api/v1/connections", true},
		{"op", "DELETE", "/api/v1/connections/aws", true},
		{"op", "GET", "/api/v1/users", false}, // Users has no entity: only "*"
		{"admin", "GET", "/api/v1/users", true},
		{"viewer", "GET", "/api/v1/importErrors", true},
		{"viewer", "GET", "/api/v1/eventLogs", true}, // DAG.AUDIT_LOG GET is viewer's in Airflow 3
		// Each dialect directly.
		{"Viewer", "GET", "/api/v1/eventLogs", false},
		{"user", "POST", "/api/v2/dags/etl/dagRuns", true},
		{"user", "GET", "/api/v2/connections", false},
	}
	for _, tc := range tests {
		t.Run(tc.role+" "+tc.method+" "+tc.path, func(t *testing.T) {
			d, err := e.Decide(context.Background(), input(app(tc.role), tc.method, tc.path))
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != tc.want {
				t.Errorf("%s %s %s: Allow = %v %v (missing %+v), want %v", tc.role, tc.method, tc.path, d.Allow, d.Reasons, d.Missing, tc.want)
			}
		})
	}
}

const conditionPolicy = `version: 1
roles:
  office-ops:
    extends: [Op]
    when: >-
      ip_in(request.source_ip, ['10.0.0.0/8']) &&
      in_hours(now, 'Europe/Berlin', '08:00', '18:00') &&
      weekday_in(now, 'Europe/Berlin', ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'])
    deny_reason: outside-office
  get-only:
    permissions: [{resource: Connections, actions: [can_read, can_delete]}]
    when: "request.method == 'GET'"
  broken:
    permissions: [{resource: Connections, actions: [can_read]}]
    when: "ip_in(request.source_ip, [request.path])"
mappings:
  - {app_role: Ops, roles: [office-ops]}
  - {app_role: OpsAndOp, roles: [office-ops, Op]}
  - {app_role: GetOnly, roles: [get-only]}
  - {app_role: Broken, roles: [broken]}
  - {app_role: BrokenAndOp, roles: [broken, Op]}
`

func TestConditions(t *testing.T) {
	e := newEngine(t, []byte(conditionPolicy))
	app := func(role string) *identity.Principal {
		return &identity.Principal{Kind: identity.App, AppID: "app", AppRoles: []string{role}}
	}
	with := func(in Input, f func(*Input)) Input { f(&in); return in }
	del := func(role string) Input { return input(app(role), "DELETE", "/api/v1/connections/aws") }
	outside := []Reason{"outside-office"}
	conn := req("Connections", "can_delete", "")
	tests := []decideCase{
		{name: "office network in office hours", in: del("Ops"), allow: true, reasons: allowed},
		{name: "other network", in: with(del("Ops"), func(in *Input) { in.SourceIP = netip.MustParseAddr("192.168.1.1") }),
			reasons: outside, missing: conn},
		{name: "no source address", in: with(del("Ops"), func(in *Input) { in.SourceIP = netip.Addr{} }),
			reasons: outside, missing: conn},
		{name: "after hours", in: with(del("Ops"), func(in *Input) { in.Time = testNow.Add(9 * time.Hour) }),
			reasons: outside, missing: conn},
		{name: "saturday", in: with(del("Ops"), func(in *Input) { in.Time = testNow.AddDate(0, 0, 3) }),
			reasons: outside, missing: conn},
		{name: "engine clock when no time given", in: with(del("Ops"), func(in *Input) { in.Time = time.Time{} }), allow: true, reasons: allowed},
		{name: "another role grants it unconditionally", in: with(del("OpsAndOp"), func(in *Input) { in.SourceIP = netip.MustParseAddr("192.168.1.1") }),
			allow: true, reasons: allowed},
		{name: "condition on the request method holds", in: input(app("GetOnly"), "GET", "/api/v1/connections"), allow: true, reasons: allowed},
		{name: "condition without deny_reason", in: del("GetOnly"), reasons: []Reason{ReasonConditionFailed}, missing: conn},
		{name: "unconditional grant first: a broken condition is not evaluated", in: input(app("BrokenAndOp"), "GET", "/api/v1/connections"),
			allow: true, reasons: allowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, e) })
	}

	// A condition that cannot be evaluated fails the decision.
	_, err := e.Decide(context.Background(), input(app("Broken"), "GET", "/api/v1/connections"))
	if err == nil || !strings.Contains(err.Error(), "roles.broken.when") {
		t.Errorf("Decide(broken condition) error = %v, want an evaluation error", err)
	}
}

const tagPolicy = `version: 1
roles:
  tagged:
    permissions:
      - {resource: DAGs, actions: [can_read]}
      - {resource: DAG Runs, actions: [can_read]}
    dag_tags: [team-a]
mappings:
  - {app_role: T, roles: [tagged]}
`

func TestTagSelectors(t *testing.T) {
	e := newEngine(t, []byte(tagPolicy))
	if !e.UsesTags() {
		t.Fatal("UsesTags() = false")
	}
	p := &identity.Principal{Kind: identity.App, AppID: "app", AppRoles: []string{"T"}}
	dags := &fakeDAGs{tags: map[string][]string{"etl": {"nightly", "team-a"}, "other": {"team-b"}}}
	withDAGs := func(in Input, m DAGMetadata) Input { in.DAGs = m; return in }

	decideCase{name: "tagged DAG", in: withDAGs(input(p, "GET", "/api/v1/dags/etl/dagRuns"), dags), allow: true, reasons: allowed}.run(t, e)
	if dags.calls != 1 {
		t.Errorf("DAGTags called %d times for one decision, want 1", dags.calls)
	}
	decideCase{name: "untagged DAG", in: withDAGs(input(p, "GET", "/api/v1/dags/other/dagRuns"), dags),
		reasons: noScope, missing: req("DAGs", "can_read", "other")}.run(t, e)

	// The list filter needs tags from the response, not from a lookup.
	dags.calls = 0
	d, err := e.Decide(context.Background(), withDAGs(input(p, "GET", "/api/v1/dags"), dags))
	if err != nil || !d.Allow {
		t.Fatalf("Decide(list) = %v, %v", d, err)
	}
	if !d.DAGs.NeedsTags() || !d.DAGs.Permits("x", []string{"team-a"}) || d.DAGs.Permits("x", []string{"team-b"}) || dags.calls != 0 {
		t.Errorf("list filter: NeedsTags %v, Permits(team-a) %v, Permits(team-b) %v, lookups %d; want true, true, false, 0",
			d.DAGs.NeedsTags(), d.DAGs.Permits("x", []string{"team-a"}), d.DAGs.Permits("x", []string{"team-b"}), dags.calls)
	}

	_, err = e.Decide(context.Background(), withDAGs(input(p, "GET", "/api/v1/dags/etl/dagRuns"), &fakeDAGs{err: errGraph}))
	if !errors.Is(err, errGraph) {
		t.Errorf("Decide(failing metadata) error = %v, want it to wrap %v", err, errGraph)
	}
	_, err = e.Decide(context.Background(), input(p, "GET", "/api/v1/dags/etl/dagRuns"))
	if err == nil {
		t.Error("Decide(no metadata source) error = nil, want an error")
	}
}

func TestDecideConcurrent(t *testing.T) {
	e := newEngine(t, []byte(conditionPolicy))
	demo := newEngine(t, demoPolicy(t))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				in := input(&identity.Principal{Kind: identity.App, AppRoles: []string{"Ops"}}, "DELETE", "/api/v1/connections/aws")
				if d, err := e.Decide(context.Background(), in); err != nil || !d.Allow {
					t.Errorf("Decide() = %v, %v", d.Reasons, err)
					return
				}
				if d, err := demo.Decide(context.Background(), input(bob, "GET", "/api/v2/dags")); err != nil || !d.Allow || d.DAGs.Permits("team_b", nil) {
					t.Errorf("Decide() = %v, %v", d.Reasons, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
