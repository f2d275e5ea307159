package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/airflowsim"
	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/authz"
	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/idp"
)

// stack is the emulator, an Airflow double and airgate in front of it, all
// over real HTTP on loopback.
type stack struct {
	t       *testing.T
	version int
	idp     *idp.Server
	info    idp.ReadyInfo
	tokens  *idp.Client
	airflow *airflowsim.Server
	gw      *Server
	gwURL   string
	cfg     *config.Config
	dir     string
}

const svcUser, svcPassword = "airgate-svc", "svc-password-1"

func newStack(t *testing.T, version int, edit func(*config.Config)) *stack {
	t.Helper()
	return newStackWith(t, version, stackOptions{edit: edit})
}

// stackOptions vary a test stack.
type stackOptions struct {
	// idp are the emulator's options (its clock is set from now).
	idp idp.Options
	// now, when set, is one clock for the emulator, the Airflow double and
	// the gateway, for tests of expiry and refresh.
	now func() time.Time
	// edit changes the gateway's configuration before it starts.
	edit func(*config.Config)
}

func newStackWith(t *testing.T, version int, o stackOptions) *stack {
	t.Helper()
	s := &stack{t: t, version: version, dir: t.TempDir()}
	var err error
	if o.now != nil {
		o.idp.Now = o.now
	}
	if s.idp, err = idp.New(o.idp); err != nil {
		t.Fatal(err)
	}
	if s.info, err = s.idp.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.idp.Close() })
	if s.tokens, err = idp.NewClient(s.info); err != nil {
		t.Fatal(err)
	}

	// airgate's listener first: Airflow 3 trusts airgate's JWKS.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.gwURL = "http://" + ln.Addr().String()
	opts := airflowsim.Options{Username: svcUser, Password: svcPassword, Now: o.now}
	if version == 3 {
		opts = airflowsim.Options{JWKSURL: s.gwURL + "/.well-known/jwks.json", Issuer: "airgate", Now: o.now}
	}
	s.airflow = airflowsim.New(opts)
	up := &http.Server{Handler: s.airflow}
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go up.Serve(upLn)
	t.Cleanup(func() { up.Close() })

	pol, err := os.ReadFile("testdata/demo-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "policy.yaml"), pol, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.SetDir(s.dir)
	cfg.Dev = true
	cfg.Listen = ln.Addr().String()
	cfg.Entra.TenantID = s.info.TenantID
	cfg.Entra.ClientID = s.info.Apps["airgate"].ClientID
	cfg.Entra.Audiences = []string{"api://airgate", cfg.Entra.ClientID}
	cfg.Entra.Authority = strings.TrimSuffix(s.info.AuthorityHost, "/")
	cfg.Entra.IssuerV1 = strings.TrimSuffix(s.info.AuthorityHost, "/") + "/{tenantid}/"
	cfg.Entra.GraphURL = s.info.Graph
	cfg.Entra.CAFile = s.info.CAFile
	cfg.Entra.ClientSecret = config.Secret{InsecureValue: s.info.Apps["airgate"].ClientSecret}
	cfg.Policy.File = "policy.yaml"
	cfg.Upstream.URL = "http://" + upLn.Addr().String()
	cfg.Upstream.AirflowVersion = version
	cfg.Upstream.Username = svcUser
	cfg.Upstream.Password = config.Secret{InsecureValue: svcPassword}
	cfg.Audit.DB = filepath.Join(s.dir, "audit.db")
	cfg.Audit.CheckpointInterval = config.Duration(time.Hour)
	cfg.Keys.File = filepath.Join(s.dir, "keys.json")
	f := false
	cfg.Log.Requests = &f
	if o.edit != nil {
		o.edit(cfg)
	}
	s.cfg = cfg
	s.gw, err = New(context.Background(), cfg, Options{Logger: testLogger(), Now: o.now})
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s.gw.Handler()}
	go hs.Serve(ln)
	t.Cleanup(func() {
		hs.Close()
		s.gw.Close()
	})
	return s
}

// userToken gets an access token for a demo user through a real grant.
func (s *stack) userToken(user string, mfa bool) string {
	s.t.Helper()
	var tok *idp.Token
	var err error
	if mfa {
		tok, err = s.tokens.AuthCode(context.Background(), "airgate", user, true, "api://airgate/access_as_user")
	} else {
		tok, err = s.tokens.Password(context.Background(), "airgate", user, "api://airgate/access_as_user")
	}
	if err != nil {
		s.t.Fatalf("token for %s: %v", user, err)
	}
	return tok.AccessToken
}

func (s *stack) appToken(app string) string {
	s.t.Helper()
	tok, err := s.tokens.ClientCredentials(context.Background(), app, "api://airgate/.default")
	if err != nil {
		s.t.Fatalf("token for %s: %v", app, err)
	}
	return tok.AccessToken
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, r.body)
	}
	return m
}

// do sends a request with a raw path (sent exactly as given).
func (s *stack) do(method, rawPath, token, body string, headers map[string]string) response {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.gwURL+"/", rd)
	if err != nil {
		s.t.Fatal(err)
	}
	path, query, _ := strings.Cut(rawPath, "?")
	req.URL.Opaque = path // sent as is, escapes and all
	req.URL.RawQuery = query
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func (s *stack) api() string {
	if s.version == 2 {
		return "/api/v1"
	}
	return "/api/v2"
}

func triggerBody(version int, note string) string {
	b := map[string]any{}
	if version == 3 {
		b["logical_date"] = nil
	}
	if note != "" {
		b["note"] = note
	}
	out, _ := json.Marshal(b)
	return string(out)
}

func dagIDs(t *testing.T, body []byte) []string {
	t.Helper()
	var v struct {
		DAGs []struct {
			DAGID string `json:"dag_id"`
		} `json:"dags"`
		Total int `json:"total_entries"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("dag list: %v: %s", err, body)
	}
	var ids []string
	for _, d := range v.DAGs {
		ids = append(ids, d.DAGID)
	}
	if v.Total != len(ids) {
		t.Errorf("total_entries = %d for %d DAGs shown", v.Total, len(ids))
	}
	return ids
}

func TestGatewayEndToEnd(t *testing.T) {
	for _, version := range []int{2, 3} {
		t.Run(fmt.Sprintf("airflow%d", version), func(t *testing.T) {
			s := newStack(t, version, nil)
			api := s.api()
			alice := s.userToken("alice", false)
			bob := s.userToken("bob", false)

			type tc struct {
				name    string
				method  string
				path    string
				token   string
				body    string
				status  int
				reason  string // first reason in the error body
				reached bool   // whether Airflow saw the request
			}
			cases := []tc{
				{"viewer lists dags", "GET", api + "/dags", bob, "", 200, "", true},
				{"viewer reads a run list", "GET", api + "/dags/team_b_daily/dagRuns", bob, "", 200, "", true},
				{"viewer cannot trigger", "POST", api + "/dags/team_a_daily/dagRuns", bob, triggerBody(version, ""), 403, "permission-missing", false},
				{"operator triggers own dag", "POST", api + "/dags/team_a_daily/dagRuns", alice, triggerBody(version, "nightly fix"), 200, "", true},
				{"operator cannot trigger another team's dag", "POST", api + "/dags/team_b_daily/dagRuns", alice, triggerBody(version, ""), 403, "dag-not-in-scope", false},
				{"operator cannot read another team's dag", "GET", api + "/dags/team_b_daily", alice, "", 403, "dag-not-in-scope", false},
				{"no role", "GET", api + "/dags", s.userToken("erin", false), "", 403, "no-matching-role", false},
				{"nested admin denied", "GET", api + "/connections", s.userToken("carol", true), "", 403, "nested-membership-ignored", false},
				{"admin without mfa denied", "GET", api + "/connections", s.userToken("dave", false), "", 403, "mfa-required", false},
				{"admin with mfa allowed", "GET", api + "/connections", s.userToken("dave", true), "", 200, "", true},
				{"overage user resolved through graph", "POST", api + "/dags/team_a_hourly/dagRuns", s.userToken("frank", false), triggerBody(version, ""), 200, "", true},
				{"agent app triggers team a", "POST", api + "/dags/team_a_daily/dagRuns", s.appToken("etl-agent"), triggerBody(version, ""), 200, "", true},
				{"agent app cannot trigger team b", "POST", api + "/dags/team_b_daily/dagRuns", s.appToken("etl-agent"), triggerBody(version, ""), 403, "dag-not-in-scope", false},
				{"unknown path", "GET", api + "/nothing/here", alice, "", 404, "unknown-operation", false},
				{"encoded slash to another dag", "GET", api + "/dags/team_a_daily%2F..%2Fteam_b_daily", alice, "", 404, "dot-segment", false},
				{"encoded dag id of another team", "GET", api + "/dags/%74eam_b_daily", alice, "", 403, "dag-not-in-scope", false},
				{"trailing slash", "GET", api + "/dags/team_a_daily/", alice, "", 404, "no-route", false},
				{"case variant", "GET", strings.ToUpper(api) + "/dags", alice, "", 404, "not-airflow-api", false},
				{"no token", "GET", api + "/dags", "", "", 401, "no-credentials", false},
			}
			if version == 2 {
				cases = append(cases, tc{"public health without token", "GET", "/api/v1/health", "", "", 200, "", true},
					tc{"other api version not served", "GET", "/api/v2/dags", alice, "", 404, "api-not-served", false})
			} else {
				cases = append(cases, tc{"public health without token", "GET", "/api/v2/monitor/health", "", "", 200, "", true},
					tc{"airflow's own login is blocked", "POST", "/auth/token", alice, `{"username":"admin","password":"admin"}`, 403, "", false})
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					s.airflow.Reset()
					resp := s.do(c.method, c.path, c.token, c.body, nil)
					if resp.status != c.status {
						t.Fatalf("%s %s = %d, want %d: %s", c.method, c.path, resp.status, c.status, resp.body)
					}
					reached := len(s.airflow.Requests()) > 0
					if reached != c.reached {
						t.Errorf("reached Airflow = %v, want %v", reached, c.reached)
					}
					if resp.header.Get("X-Request-Id") == "" {
						t.Error("no X-Request-Id")
					}
					if c.status >= 400 && !c.reached {
						m := resp.json(t)
						if m["request_id"] == "" || m["code"] == "" {
							t.Errorf("error body lacks code or request_id: %s", resp.body)
						}
						if c.reason != "" {
							reasons, _ := m["reasons"].([]any)
							found := false
							for _, r := range reasons {
								found = found || r == c.reason
							}
							if !found {
								t.Errorf("reasons = %v, want %s among them", m["reasons"], c.reason)
							}
						}
					}
					if c.status == 401 && !strings.HasPrefix(resp.header.Get("WWW-Authenticate"), "Bearer") {
						t.Errorf("401 without WWW-Authenticate: Bearer")
					}
					// airgate explain gives the same reason for the denial.
					if c.status == 403 && c.token != "" && c.reason != "" {
						x, err := Explain(context.Background(), s.cfg, ExplainRequest{Token: c.token, Method: c.method, Target: c.path})
						if err != nil {
							t.Fatalf("Explain: %v", err)
						}
						if x.Explanation == nil || x.Decision.Allow || !containsReason(x.Decision.Reasons, c.reason) {
							t.Errorf("Explain = %+v, want a denial with %s", x.Explanation, c.reason)
						}
					}
				})
			}

			t.Run("filtered list shows only permitted dags", func(t *testing.T) {
				resp := s.do("GET", api+"/dags?limit=1&offset=1", alice, "", nil)
				if resp.status != 200 {
					t.Fatalf("status %d: %s", resp.status, resp.body)
				}
				var v struct {
					DAGs []struct {
						DAGID string `json:"dag_id"`
					} `json:"dags"`
					Total int `json:"total_entries"`
				}
				_ = json.Unmarshal(resp.body, &v)
				if v.Total != 2 || len(v.DAGs) != 1 || !strings.HasPrefix(v.DAGs[0].DAGID, "team_a_") {
					t.Errorf("alice's second DAG page = %s", resp.body)
				}
				full := s.do("GET", api+"/dags", alice, "", nil)
				ids := dagIDs(t, full.body)
				if strings.Join(ids, ",") != "team_a_daily,team_a_hourly" {
					t.Errorf("alice sees %v, want only team A's DAGs", ids)
				}
				req, _ := http.NewRequest("GET", s.gwURL+api+"/dags", nil)
				apiName := "v2"
				if version == 2 {
					apiName = "v1"
				}
				if err := airflowsim.ValidateResponse(apiName, req, full.status, full.header, full.body); err != nil {
					t.Errorf("filtered list is not valid against Airflow's spec: %v", err)
				}
				if all := dagIDs(t, s.do("GET", api+"/dags", bob, "", nil).body); len(all) != 4 {
					t.Errorf("viewer sees %v, want all 4 DAGs", all)
				}
			})

			t.Run("upstream sees airgate's credential and the real caller, never the caller's", func(t *testing.T) {
				s.airflow.Reset()
				resp := s.do("POST", api+"/dags/team_a_daily/dagRuns", alice, triggerBody(version, "my note"), map[string]string{
					"X-Remote-User":   "dave@airgate.example",
					"X-Forwarded-For": "10.9.9.9",
					"X-Airgate-User":  "dave@airgate.example",
					"Remote-User":     "admin",
					"Cookie":          "_token=forged; session=x",
					"X-Original-URL":  "/api/v1/connections",
				})
				if resp.status != 200 {
					t.Fatalf("status %d: %s", resp.status, resp.body)
				}
				reqs := s.airflow.Requests()
				if len(reqs) != 1 {
					t.Fatalf("Airflow saw %d requests", len(reqs))
				}
				got := reqs[0]
				if strings.Contains(got.Header.Get("Authorization"), alice) {
					t.Error("the caller's token reached Airflow")
				}
				for _, h := range []string{"X-Remote-User", "Remote-User", "Cookie", "X-Original-Url"} {
					if v := got.Header.Get(h); v != "" {
						t.Errorf("client header %s reached Airflow: %q", h, v)
					}
				}
				if xff := got.Header.Get("X-Forwarded-For"); xff != "127.0.0.1" {
					t.Errorf("X-Forwarded-For = %q, want airgate's view of the client", xff)
				}
				wantUser := "alice@" + idp.DemoDomain
				if version == 2 {
					if got.Identity.User != svcUser {
						t.Errorf("Airflow 2 authenticated %q, want the service account", got.Identity.User)
					}
					if u := got.Header.Get("X-Airgate-User"); u != wantUser {
						t.Errorf("X-Airgate-User = %q, want %q", u, wantUser)
					}
				} else if got.Identity.Subject != wantUser || got.Identity.Role != "user" {
					t.Errorf("Airflow 3 JWT sub/role = %q/%q, want %q/user", got.Identity.Subject, got.Identity.Role, wantUser)
				}
				var body map[string]any
				_ = json.Unmarshal(got.Body, &body)
				note, _ := body["note"].(string)
				if !strings.HasPrefix(note, "my note") || !strings.Contains(note, wantUser) {
					t.Errorf("note = %q, want the caller's note stamped with %s", note, wantUser)
				}
			})

			t.Run("forged tokens are refused and never reach airflow", func(t *testing.T) {
				now := time.Now()
				base := map[string]any{
					"aud": "api://airgate", "iss": s.info.Issuer, "tid": s.info.TenantID, "oid": idp.DemoDaveID, "sub": "x",
					"azp": s.info.Apps["airgate"].ClientID, "scp": "access_as_user", "ver": "2.0", "preferred_username": "dave@" + idp.DemoDomain,
					"groups": []string{idp.DemoGroupAdminsID}, "amr": []string{"pwd", "mfa"},
					"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
				}
				sign := func(edit func(map[string]any)) string {
					c := map[string]any{}
					for k, v := range base {
						c[k] = v
					}
					edit(c)
					tok, err := s.idp.SignClaims(c, false)
					if err != nil {
						t.Fatal(err)
					}
					return tok
				}
				valid := sign(func(map[string]any) {})
				if r := s.do("GET", api+"/connections", valid, "", nil); r.status != 200 {
					t.Fatalf("control token = %d: %s", r.status, r.body)
				}
				parts := strings.Split(valid, ".")
				noneTok := b64url(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + "."
				tampered := parts[0] + "." + b64url(strings.Replace(mustDecode(t, parts[1]), `"pwd"`, `"kba"`, 1)) + "." + parts[2]
				graph, err := s.tokens.ClientCredentials(context.Background(), "airgate", "https://graph.microsoft.com/.default")
				if err != nil {
					t.Fatal(err)
				}
				for name, tok := range map[string]string{
					"expired": sign(func(c map[string]any) {
						c["exp"] = now.Add(-time.Hour).Unix()
						c["iat"] = now.Add(-2 * time.Hour).Unix()
						c["nbf"] = c["iat"]
					}),
					"wrong audience": sign(func(c map[string]any) { c["aud"] = "api://other" }),
					"wrong tenant":   sign(func(c map[string]any) { c["tid"] = "00000000-0000-4000-8000-000000000000" }),
					"wrong issuer":   sign(func(c map[string]any) { c["iss"] = "https://evil.example/" + s.info.TenantID + "/v2.0" }),
					"alg none":       noneTok,
					"tampered":       tampered,
					"hs256":          hs256WithPublicKey(t, s, parts[1]),
					"graph token":    graph.AccessToken,
				} {
					s.airflow.Reset()
					r := s.do("GET", api+"/connections", tok, "", nil)
					if r.status != 401 {
						t.Errorf("%s token: status %d, want 401: %s", name, r.status, r.body)
					}
					if n := len(s.airflow.Requests()); n != 0 {
						t.Errorf("%s token reached Airflow", name)
					}
				}
			})

			t.Run("audit records every decision and verifies", func(t *testing.T) {
				if err := s.gw.Close(); err != nil {
					t.Fatal(err)
				}
				lg, err := audit.Open(context.Background(), s.cfg.Audit.DB, audit.Options{ReadOnly: true})
				if err != nil {
					t.Fatal(err)
				}
				defer lg.Close()
				rep, err := lg.Verify(context.Background(), s.gw.AuditKeys())
				if err != nil {
					t.Fatalf("audit chain does not verify: %v", err)
				}
				var decisions, denies, outcomesWithRun int
				err = lg.Query(context.Background(), audit.Filter{}, func(e audit.Entry) error {
					switch e.Record.Kind {
					case audit.KindDecision:
						decisions++
						if e.Record.Decision == audit.DecisionDeny {
							denies++
						}
						if strings.HasPrefix(e.Record.TokenFingerprint, "eyJ") {
							t.Errorf("record %d holds a token", e.Record.Seq)
						}
					case audit.KindOutcome:
						if e.Record.DAGRunID != "" {
							outcomesWithRun++
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if decisions < 30 || denies < 15 || outcomesWithRun < 3 {
					t.Errorf("audit has %d decisions, %d denials, %d outcomes with a dag_run_id; report %+v", decisions, denies, outcomesWithRun, rep)
				}
			})
		})
	}
}

func containsReason(rs []authz.Reason, want string) bool {
	for _, r := range rs {
		if string(r) == want {
			return true
		}
	}
	return false
}
