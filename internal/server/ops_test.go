package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/airflowsim"
	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/tokens"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestOperationalEndpoints(t *testing.T) {
	s := newStack(t, 2, nil)
	bob := s.userToken("bob", false)
	if r := s.do("GET", "/api/v1/dags", bob, "", nil); r.status != 200 {
		t.Fatalf("warm-up request = %d", r.status)
	}
	if r := s.do("GET", "/api/v1/dags", bob, "", nil); r.status != 200 {
		t.Fatalf("second request = %d", r.status)
	}
	if r := s.do("GET", "/-/healthz", "", "", nil); r.status != 200 {
		t.Errorf("healthz = %d", r.status)
	}
	r := s.do("GET", "/-/readyz", "", "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"upstream":"ok"`) {
		t.Errorf("readyz = %d %s", r.status, r.body)
	}
	m := s.do("GET", "/-/metrics", "", "", nil)
	for _, want := range []string{
		`airgate_requests_total{api="v1",code="2xx"}`,
		`airgate_decisions_total{decision="allow",reason="allowed"}`,
		`airgate_request_duration_seconds_bucket{stage="total"`,
		`airgate_request_duration_seconds_bucket{stage="upstream"`,
		"airgate_jwks_refreshes_total 1",
		"airgate_token_cache_hit_ratio 0.5",
		"airgate_graph_calls_total",
		"airgate_audit_commits_total",
		"airgate_audit_records_total",
	} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	j := s.do("GET", "/.well-known/jwks.json", "", "", nil)
	var set struct {
		Keys []struct{ Kid, Alg, Kty, D string } `json:"keys"`
	}
	if err := json.Unmarshal(j.body, &set); err != nil || len(set.Keys) == 0 || set.Keys[0].Alg != "ES256" || set.Keys[0].D != "" {
		t.Errorf("jwks = %s", j.body)
	}
}

func TestUpstreamFailures(t *testing.T) {
	// An upstream that accepts connections and never answers, then one
	// that is gone.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	s := newStack(t, 2, func(c *config.Config) {
		c.Upstream.URL = "http://" + hang.Addr().String()
		c.Upstream.Timeout = config.Duration(300 * time.Millisecond)
	})
	bob := s.userToken("bob", false)
	r := s.do("GET", "/api/v1/dags/team_a_daily", bob, "", nil)
	if r.status != http.StatusGatewayTimeout || r.json(t)["code"] != "upstream-timeout" {
		t.Errorf("hanging upstream = %d %s", r.status, r.body)
	}
	hang.Close()
	r = s.do("GET", "/api/v1/dags/team_a_daily", bob, "", nil)
	if r.status != http.StatusBadGateway || r.json(t)["code"] != "upstream-error" || r.json(t)["request_id"] == "" {
		t.Errorf("closed upstream = %d %s", r.status, r.body)
	}
	if rz := s.do("GET", "/-/readyz", "", "", nil); rz.status != 503 {
		t.Errorf("readyz with upstream down = %d", rz.status)
	}
}

func TestFailClosed(t *testing.T) {
	// In fast mode too: with the audit log known to be down, a read is
	// refused before it reaches Airflow.
	for _, mode := range []string{"strict", "fast"} {
		t.Run("audit store cannot write, "+mode, func(t *testing.T) {
			s := newStack(t, 2, func(c *config.Config) { c.Audit.Mode = mode })
			bob := s.userToken("bob", false)
			if err := s.gw.audit.Close(); err != nil {
				t.Fatal(err)
			}
			s.airflow.Reset()
			for _, path := range []string{"/api/v1/dags", "/api/v1/dags/team_a_daily"} {
				r := s.do("GET", path, bob, "", nil)
				if r.status != 503 || r.json(t)["code"] != "audit-unavailable" {
					t.Errorf("%s: status %d %s, want 503 audit-unavailable", path, r.status, r.body)
				}
			}
			if len(s.airflow.Requests()) != 0 {
				t.Error("an unaudited request reached Airflow")
			}
		})
	}
	t.Run("graph unreachable", func(t *testing.T) {
		s := newStack(t, 3, nil)
		alice := s.userToken("alice", false)
		// Warm the signing keys, then take the IdP (and Graph) away.
		if r := s.do("GET", "/api/v2/dags/team_a_daily", s.appToken("etl-agent"), "", nil); r.status != 200 {
			t.Fatalf("warm-up = %d %s", r.status, r.body)
		}
		s.idp.Close()
		s.airflow.Reset()
		r := s.do("GET", "/api/v2/dags/team_a_daily", alice, "", nil)
		if r.status != 503 || r.json(t)["code"] != "directory-unavailable" {
			t.Errorf("status %d %s, want 503 directory-unavailable", r.status, r.body)
		}
		if len(s.airflow.Requests()) != 0 {
			t.Error("a request reached Airflow without its memberships")
		}
	})
}

func TestLogsCarryFingerprintsNotTokens(t *testing.T) {
	var logs syncBuffer
	s := newStack(t, 2, func(c *config.Config) { tr := true; c.Log.Requests = &tr })
	s.gw.log = slog.New(slog.NewJSONHandler(&logs, nil))
	s.gw.reqLog = s.gw.log
	bob := s.userToken("bob", false)
	s.do("GET", "/api/v1/dags", bob, "", nil)
	s.do("GET", "/api/v1/connections", bob+"x", "", nil)
	// A request's line is logged once its answer has gone out.
	out := logs.String()
	for deadline := time.Now().Add(5 * time.Second); strings.Count(out, `"msg":"request"`) < 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		out = logs.String()
	}
	sig := bob[strings.LastIndex(bob, ".")+1:]
	if strings.Contains(out, sig) || strings.Contains(out, svcPassword) {
		t.Fatalf("logs contain a token or secret:\n%s", out)
	}
	if !strings.Contains(out, `"token_fp"`) || !strings.Contains(out, `"request_id"`) || !strings.Contains(out, `"reason":"bad-signature"`) {
		t.Errorf("logs lack fingerprints, request ids or the rejection reason:\n%s", out)
	}
}

func TestReload(t *testing.T) {
	s := newStack(t, 2, nil)
	erin := s.userToken("erin", false)
	if r := s.do("GET", "/api/v1/dags", erin, "", nil); r.status != 403 {
		t.Fatalf("erin before reload = %d", r.status)
	}
	// A policy that also gives erin (by app role none, by user: via a new
	// mapping of no group she is in) is not possible; instead grant
	// Viewer to every member of team A's group and check that the reload
	// takes effect for alice's list of team B's DAGs.
	alice := s.userToken("alice", false)
	if r := s.do("GET", "/api/v1/dags/team_b_daily", alice, "", nil); r.status != 403 {
		t.Fatalf("alice before reload = %d", r.status)
	}
	pol, _ := os.ReadFile(filepath.Join(s.dir, "policy.yaml"))
	widened := strings.Replace(string(pol), "    roles: [team-a-operator]\n  - group: 1a0c0001", "    roles: [team-a-operator, Viewer]\n  - group: 1a0c0001", 1)
	if widened == string(pol) {
		t.Fatal("test policy edit did not apply")
	}
	if err := os.WriteFile(filepath.Join(s.dir, "policy.yaml"), []byte(widened), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.gw.Reload(context.Background(), s.cfg, Options{Logger: s.gw.log}); err != nil {
		t.Fatal(err)
	}
	if r := s.do("GET", "/api/v1/dags/team_b_daily", alice, "", nil); r.status != 200 {
		t.Errorf("alice after reload = %d %s", r.status, r.body)
	}
	// A broken policy keeps the running configuration.
	if err := os.WriteFile(filepath.Join(s.dir, "policy.yaml"), []byte("version: 1\nroles: {x: {permissions: [{resource: Nope, actions: [can_read]}]}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.gw.Reload(context.Background(), s.cfg, Options{Logger: s.gw.log}); err == nil || !strings.Contains(err.Error(), "Nope") {
		t.Errorf("Reload(broken) = %v, want an error naming the bad value", err)
	}
	if r := s.do("GET", "/api/v1/dags/team_b_daily", alice, "", nil); r.status != 200 {
		t.Errorf("alice after failed reload = %d", r.status)
	}
	s.gw.Close()
	lg, err := audit.Open(context.Background(), s.cfg.Audit.DB, audit.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	var reloads []string
	_ = lg.Query(context.Background(), audit.Filter{}, func(e audit.Entry) error {
		if e.Record.Kind == audit.KindConfigReload {
			reloads = append(reloads, e.Record.Detail["result"])
		}
		return nil
	})
	if strings.Join(reloads, ",") != "ok,error" {
		t.Errorf("config reload records = %v, want ok,error", reloads)
	}
}

func TestBatchAndWildcardNarrowing(t *testing.T) {
	s := newStack(t, 2, nil)
	alice := s.userToken("alice", false)
	// As in Airflow, "~" and batch run lists need DAG Runs read on every
	// DAG (FAB's global "DAG Runs"): team A's operators are refused...
	if r := s.do("POST", "/api/v1/dags/~/dagRuns/list", alice, `{"dag_ids":["team_a_daily"]}`, nil); r.status != 403 || r.json(t)["reasons"].([]any)[0] != "all-dags-required" {
		t.Fatalf("batch for a DAG-scoped role = %d %s, want 403 all-dags-required", r.status, r.body)
	}
	// ...until a role grants DAG Runs read globally while DAG read stays
	// with team A's DAGs: then Airflow, and airgate, narrow to those.
	pol, _ := os.ReadFile(filepath.Join(s.dir, "policy.yaml"))
	edited := strings.Replace(string(pol), "roles:\n", "roles:\n  run-auditor:\n    permissions: [{resource: \"DAG Runs\", actions: [can_read]}]\n", 1)
	edited = strings.Replace(edited, "    roles: [team-a-operator]\n  - group: 1a0c0001", "    roles: [team-a-operator, run-auditor]\n  - group: 1a0c0001", 1)
	if err := os.WriteFile(filepath.Join(s.dir, "policy.yaml"), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.gw.Reload(context.Background(), s.cfg, Options{Logger: s.gw.log}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"team_a_daily", "team_b_daily"} {
		s.do("POST", "/api/v1/dags/"+d+"/dagRuns", s.userToken("dave", true), triggerBody(2, ""), nil)
	}
	s.airflow.Reset()
	r := s.do("POST", "/api/v1/dags/~/dagRuns/list", alice, `{"dag_ids":["team_a_daily","team_b_daily"]}`, nil)
	if r.status != 200 {
		t.Fatalf("batch = %d %s", r.status, r.body)
	}
	reqs := posts(s)
	if len(reqs) != 1 || strings.Contains(string(reqs[0].Body), "team_b") || !strings.Contains(string(reqs[0].Body), "team_a_daily") {
		t.Fatalf("Airflow got batch requests %v", reqs)
	}
	if strings.Contains(string(r.body), "team_b_daily") {
		t.Errorf("batch answer shows team B: %s", r.body)
	}
	s.airflow.Reset()
	r = s.do("POST", "/api/v1/dags/~/dagRuns/list", alice, `{}`, nil)
	if reqs := posts(s); r.status != 200 || len(reqs) != 1 || !strings.Contains(string(reqs[0].Body), `"dag_ids":["team_a_daily","team_a_hourly"]`) {
		t.Errorf("batch without dag_ids: %d, Airflow got %v", r.status, reqs)
	}
	r = s.do("POST", "/api/v1/dags/~/dagRuns/list", alice, `{"dag_ids":["team_b_daily"]}`, nil)
	if r.status != 403 {
		t.Errorf("batch for only forbidden DAGs = %d, want 403 (an empty dag_ids would mean every DAG to Airflow)", r.status)
	}
	w := s.do("GET", "/api/v1/dags/~/dagRuns", alice, "", nil)
	if w.status != 200 || strings.Contains(string(w.body), "team_b_daily") || !strings.Contains(string(w.body), "team_a_daily") {
		t.Errorf("~ dag runs for alice = %d %s", w.status, w.body)
	}
	if !strings.Contains(string(s.do("GET", "/api/v1/dags/~/dagRuns", s.userToken("bob", false), "", nil).body), "team_b_daily") {
		t.Error("viewer does not see team B's runs through ~")
	}
}

// posts returns the POST requests Airflow received (airgate's own DAG list
// reads are GETs).
func posts(s *stack) []airflowsim.Request {
	var out []airflowsim.Request
	for _, r := range s.airflow.Requests() {
		if r.Method == "POST" {
			out = append(out, r)
		}
	}
	return out
}

func TestOwnEndpointErrorsAreJSON(t *testing.T) {
	s := newStack(t, 2, nil)
	for _, c := range []struct{ method, path string }{{"POST", "/-/healthz"}, {"GET", "/-/nothing"}, {"DELETE", "/.well-known/jwks.json"}} {
		r := s.do(c.method, c.path, "", "", nil)
		if r.status != 404 || r.json(t)["code"] != "not-found" {
			t.Errorf("%s %s = %d %s", c.method, c.path, r.status, r.body)
		}
	}
}

// TestTagSelectorsAndTrustedProxies grants by a DAG tag read from Airflow
// and by a source-IP condition that only a trusted proxy can vouch for.
func TestTagSelectorsAndTrustedProxies(t *testing.T) {
	s := newStack(t, 3, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} })
	pol, _ := os.ReadFile(filepath.Join(s.dir, "policy.yaml"))
	edited := strings.Replace(string(pol), "roles:\n", `roles:
  finance-reader:
    permissions: [{resource: "DAG", actions: [GET]}, {resource: "DAGs", actions: [can_read]}]
    dag_tags: [finance]
    when: "ip_in(request.source_ip, ['10.20.0.0/16'])"
    deny_reason: outside-office-network
`, 1)
	edited = strings.Replace(edited, "    roles: [team-a-operator]\n  - group: 1a0c0001", "    roles: [team-a-operator, finance-reader]\n  - group: 1a0c0001", 1)
	if err := os.WriteFile(filepath.Join(s.dir, "policy.yaml"), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.gw.Reload(context.Background(), s.cfg, Options{Logger: s.gw.log}); err != nil {
		t.Fatal(err)
	}
	alice := s.userToken("alice", false)
	office := map[string]string{"X-Forwarded-For": "10.20.3.4"}
	if r := s.do("GET", "/api/v2/dags/finance_report", alice, "", office); r.status != 200 {
		t.Errorf("finance DAG by tag from the office network = %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/api/v2/dags/finance_report", alice, "", map[string]string{"X-Forwarded-For": "192.0.2.1"}); r.status != 403 || !strings.Contains(string(r.body), "outside-office-network") {
		t.Errorf("finance DAG from elsewhere = %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/api/v2/dags/team_b_daily", alice, "", office); r.status != 403 {
		t.Errorf("a DAG without the tag = %d", r.status)
	}
	ids := dagIDs(t, s.do("GET", "/api/v2/dags", alice, "", office).body)
	if strings.Join(ids, ",") != "finance_report,team_a_daily,team_a_hourly" {
		t.Errorf("alice's DAG list from the office = %v", ids)
	}
}

// TestUntrustedForwardingHeadersIgnored: the default trusts no proxy, so a
// client cannot claim an address.
func TestUntrustedForwardingHeadersIgnored(t *testing.T) {
	s := newStack(t, 2, nil)
	pol, _ := os.ReadFile(filepath.Join(s.dir, "policy.yaml"))
	edited := strings.Replace(string(pol), "    extends: [Admin]\n    when: \"'mfa' in principal.amr\"", "    extends: [Admin]\n    when: \"ip_in(request.source_ip, ['10.0.0.0/8'])\"", 1)
	if err := os.WriteFile(filepath.Join(s.dir, "policy.yaml"), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.gw.Reload(context.Background(), s.cfg, Options{Logger: s.gw.log}); err != nil {
		t.Fatal(err)
	}
	dave := s.userToken("dave", false)
	for _, h := range []map[string]string{{"X-Forwarded-For": "10.1.2.3"}, {"Forwarded": "for=10.1.2.3"}, {"X-Real-Ip": "10.1.2.3"}} {
		if r := s.do("GET", "/api/v1/connections", dave, "", h); r.status != 403 {
			t.Errorf("spoofed %v = %d, want 403", h, r.status)
		}
	}
}

// TestAirflowOwnKeysPublished: with trusted_jwks_url pointing at airgate,
// Airflow 3 validates its own tokens (task workers, its UI) against
// airgate's key set, so airgate publishes Airflow's public key and those
// tokens keep working.
func TestAirflowOwnKeysPublished(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	keyDir := t.TempDir()
	keyFile := filepath.Join(keyDir, "airflow-jwt.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newStack(t, 3, func(c *config.Config) {
		c.Upstream.AirflowKeys = []config.AirflowKey{{File: keyFile, KID: "airflow-own-1"}}
	})
	set := s.do("GET", "/.well-known/jwks.json", "", "", nil)
	if !strings.Contains(string(set.body), `"kid":"airflow-own-1"`) || strings.Contains(string(set.body), `"d":`) {
		t.Fatalf("jwks = %s", set.body)
	}
	// A token Airflow itself would sign (as its API server does for the
	// UI and the execution API) validates at the Airflow double, which
	// trusts only airgate's key set.
	now := time.Now()
	tok, err := tokens.Sign("airflow-own-1", "EdDSA", priv, map[string]any{
		"sub": "admin", "role": "admin", "aud": "apache-airflow", "iss": "airgate",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", s.cfg.Upstream.URL+"/api/v2/dags", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("Airflow's own token at Airflow = %d, want 200", resp.StatusCode)
	}
}
