package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/airgate/airgate/internal/config"
)

// TestRealBrowser signs the demo users in through airgate with a real
// headless Chromium, in front of an Airflow 2 and an Airflow 3 double, and
// checks what each of them sees: the UI stand-in naming them, the DAGs the
// UI's API call returns, and the access-denied pages.
func TestRealBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("real-browser tests are not short")
	}
	chromiumPath(t) // skip or fail before starting anything
	start := time.Now()
	contact := "the Airflow platform team (#airflow-help)"
	stacks := map[int]*stack{}
	var spki []string
	for _, v := range []int{2, 3} {
		stacks[v] = newStack(t, v, func(c *config.Config) { c.Session.Contact = contact })
		spki = append(spki, leafSPKI(t, stacks[v]))
	}
	c := startChrome(t, spki)

	for _, v := range []int{2, 3} {
		s := stacks[v]
		api := s.api()
		t.Run(fmt.Sprintf("airflow%d", v), func(t *testing.T) {
			t.Run("alice sees team A only", func(t *testing.T) {
				tb := c.newTab(t)
				tb.signIn(s.gwURL, "/home", "alice", false)
				if got := signedInUser(tb, v); got != upn("alice") {
					t.Errorf("the UI shows %q, want alice", got)
				}
				if !strings.HasPrefix(tb.location(), s.gwURL+"/home") {
					t.Errorf("landed on %s, want the page asked for", tb.location())
				}
				if ids := fetchDAGs(t, tb, api); strings.Join(ids, ",") != "team_a_daily,team_a_hourly" {
					t.Errorf("alice's UI lists %v, want team A's DAGs only", ids)
				}
				if r := tb.fetch("GET", api+"/dags/team_b_daily", ""); r.Status != 403 || !strings.Contains(r.Body, "dag-not-in-scope") || !strings.HasPrefix(r.Type, "application/json") {
					t.Errorf("alice reads team B's DAG: %+v", r)
				}
				if r := tb.fetch("POST", api+"/dags/team_a_daily/dagRuns", triggerBody(v, "from Chromium")); r.Status != 200 {
					t.Errorf("alice triggers team_a_daily from the UI: %+v", r)
				}
				// A _token cookie the page (or an attacker) sets never reaches
				// Airflow, which would honour it before the bearer token.
				if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.cookie = "_token=forged.jwt.value; path=/"`)); err != nil {
					t.Fatal(err)
				}
				tb.do("reloading the UI", chromedp.Navigate(s.gwURL+"/home"), chromedp.WaitVisible(chromedp.CSS("#identity")))
				if got := signedInUser(tb, v); got != upn("alice") {
					t.Errorf("with a forged _token cookie the UI shows %q, want alice", got)
				}
				assertNoCookieReachedAirflow(t, s)
			})

			t.Run("bob sees every DAG, and is denied connections", func(t *testing.T) {
				tb := c.newTab(t)
				tb.signIn(s.gwURL, "/", "bob", false)
				if got := signedInUser(tb, v); got != upn("bob") {
					t.Errorf("the UI shows %q, want bob", got)
				}
				if ids := fetchDAGs(t, tb, api); len(ids) != 4 {
					t.Errorf("bob's UI lists %v, want all 4 DAGs", ids)
				}
				if st := tb.navigate(s.gwURL + api + "/connections"); st != 403 {
					t.Errorf("bob opens the connections: %d", st)
				}
				text := tb.bodyText()
				for _, want := range []string{"Access denied", "bob@airgate.example may not call this Airflow operation", "None of your roles grants the permission", contact} {
					if !strings.Contains(text, want) {
						t.Errorf("the denied page does not say %q:\n%s", want, text)
					}
				}
				if rid := tb.text("#request-id"); len(rid) != 16 {
					t.Errorf("request id %q", rid)
				}

				// Sign out: the session ends here and at the emulator,
				// and the UI asks to sign in again.
				tb.do("signing out", chromedp.Navigate(s.gwURL+"/oauth2/sign_out"), chromedp.WaitVisible(chromedp.CSS("#title")))
				if got := tb.text("#title"); got != "Signed out" {
					t.Errorf("after sign-out: %q", got)
				}
				tb.do("opening the UI after sign-out", chromedp.Navigate(s.gwURL+"/home"), chromedp.WaitVisible(chromedp.CSS("#accounts")))
				if st := tb.navigate(s.gwURL + api + "/dags"); st != 401 {
					t.Errorf("the API after sign-out: %d, want 401", st)
				}
			})

			t.Run("carol, an admin only through nesting, is told why", func(t *testing.T) {
				tb := c.newTab(t)
				tb.signIn(s.gwURL, "/home", "carol", true)
				// She holds no role: the UI itself is denied, in plain words.
				text := tb.bodyText()
				for _, want := range []string{"Access denied", "carol@airgate.example may not open Airflow's web UI", "indirect (nested) member", "nested-membership-ignored", contact} {
					if !strings.Contains(text, want) {
						t.Errorf("carol's page does not say %q:\n%s", want, text)
					}
				}
				if st := tb.navigate(s.gwURL + api + "/connections"); st != 403 || !strings.Contains(tb.bodyText(), "nested-membership-ignored") {
					t.Errorf("carol opens the connections (Admin only): %d\n%s", st, tb.bodyText())
				}
				// The denied page allows no scripts or connections (CSP):
				// call the API from another page of the gateway's origin.
				tb.navigate(s.gwURL + "/-/healthz")
				if r := tb.fetch("GET", api+"/connections", ""); r.Status != 403 || !strings.Contains(r.Body, "nested-membership-ignored") {
					t.Errorf("carol's API call: %+v", r)
				}
			})

			t.Run("dave without MFA is denied admin calls", func(t *testing.T) {
				tb := c.newTab(t)
				tb.signIn(s.gwURL, "/home", "dave", false)
				if got := signedInUser(tb, v); got != upn("dave") {
					t.Errorf("the UI shows %q, want dave", got)
				}
				if st := tb.navigate(s.gwURL + api + "/connections"); st != 403 {
					t.Errorf("dave without MFA opens the connections: %d", st)
				}
				text := tb.bodyText()
				for _, want := range []string{"multi-factor authentication", "mfa-required", "admin-with-mfa"} {
					if !strings.Contains(text, want) {
						t.Errorf("the denied page does not say %q:\n%s", want, text)
					}
				}
				tb.navigate(s.gwURL + "/home")
				if r := tb.fetch("GET", api+"/connections", ""); r.Status != 403 || !strings.Contains(r.Body, "mfa-required") {
					t.Errorf("dave's API call without MFA: %+v", r)
				}
			})

			t.Run("dave with MFA is an admin", func(t *testing.T) {
				tb := c.newTab(t)
				tb.signIn(s.gwURL, "/home", "dave", true)
				if got := signedInUser(tb, v); got != upn("dave") {
					t.Errorf("the UI shows %q, want dave", got)
				}
				if st := tb.navigate(s.gwURL + api + "/connections"); st != 200 || !strings.Contains(tb.bodyText(), "connections") {
					t.Errorf("dave with MFA opens the connections: %d\n%s", st, tb.bodyText())
				}
				if r := tb.fetch("GET", api+"/connections", ""); r.Status != 200 {
					t.Errorf("dave's API call with MFA: %+v", r)
				}
			})
		})
	}
	t.Logf("browser suite took %v", time.Since(start).Round(time.Millisecond))
}

// signedInUser reads the user the Airflow UI stand-in received: the
// X-Airgate-User header (Airflow 2) or the minted JWT's subject (Airflow 3).
func signedInUser(tb *tab, version int) string {
	tb.t.Helper()
	if version == 2 {
		if u := tb.text("#basic-user"); u != svcUser {
			tb.t.Errorf("Airflow 2 authenticated %q, want airgate's service account", u)
		}
		return tb.text("#header-user")
	}
	if role := tb.text("#jwt-role"); role != "viewer" {
		tb.t.Errorf("the UI shell's Airflow 3 JWT has role %q, want viewer", role)
	}
	return tb.text("#jwt-sub")
}

// fetchDAGs lists DAGs the way the UI does, from the page.
func fetchDAGs(t *testing.T, tb *tab, api string) []string {
	t.Helper()
	r := tb.fetch("GET", api+"/dags", "")
	if r.Status != 200 {
		t.Fatalf("the UI's DAG list: %+v", r)
	}
	var v struct {
		DAGs []struct {
			DAGID string `json:"dag_id"`
		} `json:"dags"`
	}
	if err := json.Unmarshal([]byte(r.Body), &v); err != nil {
		t.Fatalf("DAG list: %v: %s", err, r.Body)
	}
	var ids []string
	for _, d := range v.DAGs {
		ids = append(ids, d.DAGID)
	}
	return ids
}

// assertNoCookieReachedAirflow checks that no browser cookie (airgate's
// session, or a _token) was forwarded to Airflow.
func assertNoCookieReachedAirflow(t *testing.T, s *stack) {
	t.Helper()
	for _, r := range s.airflow.Requests() {
		if c := r.Header.Get("Cookie"); c != "" {
			t.Errorf("%s %s reached Airflow with a cookie: %q", r.Method, r.Path, c)
		}
	}
}
