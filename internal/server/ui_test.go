package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/airgate/airgate/internal/catalog"
	"github.com/airgate/airgate/internal/config"
)

func TestClassifyUI(t *testing.T) {
	const shell, private, none = "ui_shell", "ui_private_api", ""
	cases := []struct {
		version int
		method  string
		path    string
		want    string
	}{
		{3, "GET", "/", shell},
		{3, "GET", "/home", shell},
		{3, "HEAD", "/static/assets/main.js", shell},
		{3, "GET", "/dags/team_a_daily/grid", shell},
		{3, "GET", "/dags/team%5Fa", shell},
		{3, "GET", "/ui/dags", private},
		{3, "GET", "/ui/grid/team_b_daily", private},
		{3, "GET", "/ui/config", shell},
		{3, "GET", "/ui/auth/menus", shell},
		{3, "POST", "/ui/dags", none},
		{3, "POST", "/home", none},
		{3, "DELETE", "/", none},
		{3, "GET", "/UI/dags", none},
		{3, "GET", "/API/v2/connections", none},
		{3, "GET", "/Api/V1/connections", none},
		{3, "GET", "/api/v2/nothing/here", none},
		{3, "GET", "/api/v3/dags", none},
		{3, "GET", "/execution/task-instances/x/run", none},
		{3, "GET", "/public/dags", none},
		{3, "GET", "/internal_api/v1/rpcapi", none},
		{3, "GET", "/static/%2e%2e/api/v2/connections", none},
		{3, "GET", "/static/../api/v2/connections", none},
		{3, "GET", "/a%2Fb", none},
		{3, "GET", "/a%5cb", none},
		{3, "GET", "//evil.example/", none},
		{3, "GET", "/x%00y", none},
		{3, "GET", "/x%zz", none},
		{2, "GET", "/", shell},
		{2, "GET", "/home", shell},
		{2, "GET", "/connection/list/", shell},
		{2, "GET", "/dags/team_a_daily/grid", shell},
		{2, "GET", "/ui/dags", none},
		{2, "POST", "/dags/team_a_daily/trigger", none},
		{2, "GET", "/api/experimental/dags", none},
	}
	cat := catalog.Default()
	for _, tc := range cases {
		t.Run(fmt.Sprintf("v%d %s %s", tc.version, tc.method, tc.path), func(t *testing.T) {
			cfg := config.Default()
			cfg.Upstream.AirflowVersion = tc.version
			rt := &runtime{cfg: cfg}
			path, query, _ := strings.Cut(tc.path, "?")
			c := cat.Classify(tc.method, path, query)
			rt.classifyUI(tc.method, path, &c)
			got := ""
			if c.Op != nil {
				got = c.Op.ID
			}
			if got != tc.want {
				t.Errorf("classified as %q, want %q", got, tc.want)
			}
			if isUI(c) && !rt.serves(c.API) {
				t.Errorf("a UI classification for an API this Airflow does not serve (%s)", c.API)
			}
		})
	}
}

// TestUIAccess checks who may load the UI shell and Airflow 3's private
// UI API, over bearer tokens (the session path is the same pipeline).
func TestUIAccess(t *testing.T) {
	for _, version := range []int{2, 3} {
		t.Run(fmt.Sprintf("airflow%d", version), func(t *testing.T) {
			s := newStack(t, version, nil)
			type tc struct {
				name    string
				user    string
				mfa     bool
				method  string
				path    string
				status  int
				reason  string
				reached bool
			}
			cases := []tc{
				{"viewer loads the shell", "bob", false, "GET", "/home", 200, "", true},
				{"team operator loads the shell", "alice", false, "GET", "/", 200, "", true},
				{"admin without MFA holds a role: shell yes", "dave", false, "GET", "/home", 200, "", true},
				{"no role: no shell", "erin", false, "GET", "/home", 403, "no-matching-role", false},
				{"nested admin: no shell", "carol", true, "GET", "/home", 403, "nested-membership-ignored", false},
				{"no writes to UI pages", "bob", false, "POST", "/home", 404, "unknown-operation", false},
			}
			if version == 3 {
				cases = append(cases,
					tc{"private UI API needs every DAG: viewer", "bob", false, "GET", "/ui/dags", 404, "", true},
					tc{"private UI API needs every DAG: team operator", "alice", false, "GET", "/ui/dags", 403, "all-dags-required", false},
					tc{"private UI config needs a role only", "alice", false, "GET", "/ui/config", 404, "", true},
					tc{"private UI API: no role", "erin", false, "GET", "/ui/config", 403, "no-matching-role", false},
				)
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					s.airflow.Reset()
					r := s.do(c.method, c.path, s.userToken(c.user, c.mfa), "", nil)
					if r.status != c.status {
						t.Fatalf("%s %s as %s = %d, want %d: %s", c.method, c.path, c.user, r.status, c.status, r.body)
					}
					if reached := len(s.airflow.Requests()) > 0; reached != c.reached {
						t.Errorf("reached Airflow = %v, want %v", reached, c.reached)
					}
					if c.reason != "" && !strings.Contains(string(r.body), `"`+c.reason+`"`) {
						t.Errorf("reasons do not include %s: %s", c.reason, r.body)
					}
				})
			}
			// Denials for a browser navigation are pages.
			r := s.do("GET", "/home", s.userToken("erin", false), "", map[string]string{"Accept": "text/html"})
			if r.status != 403 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.body), "not mapped to any airgate role") {
				t.Errorf("erin's browser gets %d %s: %.300s", r.status, r.header.Get("Content-Type"), r.body)
			}
			if err := s.gw.Close(); err != nil {
				t.Fatal(err)
			}
			var uiAccess int
			for _, rec := range s.auditRecords() {
				if rec.Operation == "ui_shell" && rec.Decision == "allow" {
					if len(rec.Reasons) != 1 || rec.Reasons[0] != "ui-access" {
						t.Errorf("allowed UI shell record has reasons %v, want [ui-access]", rec.Reasons)
					}
					uiAccess++
				}
			}
			want := 3 // bob, alice and dave on the shell
			if version == 3 {
				want++ // alice on /ui/config
			}
			if uiAccess != want {
				t.Errorf("%d allowed UI shell decisions audited, want %d", uiAccess, want)
			}
		})
	}
}

func TestDeniedPagesForSignedInBrowsers(t *testing.T) {
	s := newStack(t, 3, func(c *config.Config) { c.Session.Contact = "the Data Platform team (#airflow-help)" })
	b := s.browser()
	if p := b.signIn("/home", "alice", false); p.status != 200 {
		t.Fatalf("sign-in: %v", p)
	}
	p := b.navigate(s.gwURL + "/api/v2/dags/team_b_daily")
	if p.status != http.StatusForbidden || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") {
		t.Fatalf("alice opens team B's DAG: %v", p)
	}
	for _, want := range []string{
		`<strong id="user">alice@airgate.example</strong> may not call this Airflow operation`,
		`<code>GET /api/v2/dags/team_b_daily (get_dag)</code> on DAG <code id="dag">team_b_daily</code>`,
		"Your roles grant this permission, but not for this DAG.",
		`<code>GET on DAG for DAG team_b_daily</code>`,
		`<dd id="roles">team-a-operator</dd>`,
		"dag-not-in-scope",
		"the Data Platform team (#airflow-help)",
		`id="request-id">` + p.header.Get("X-Request-Id") + "<",
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the page does not say %q:\n%s", want, p.body)
		}
	}
	// The same call from the UI's JavaScript is JSON.
	j := b.fetch("GET", "/api/v2/dags/team_b_daily", "")
	if j.status != 403 || !strings.HasPrefix(j.header.Get("Content-Type"), "application/json") {
		t.Errorf("fetch: %d %s", j.status, j.header.Get("Content-Type"))
	}
}
