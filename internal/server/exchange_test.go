package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/idp"
	"github.com/airgate/airgate/internal/tokens"
)

const (
	grantExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	typeAccess    = "urn:ietf:params:oauth:token-type:access_token"
	typeJWT       = "urn:ietf:params:oauth:token-type:jwt"
)

// newExchangeStack is newStack with the token exchange on: issuer = the
// gateway's URL, a 12-hour maximum so that schedules bound lifetimes.
func newExchangeStack(t *testing.T, version int, edit func(*config.Config)) *stack {
	t.Helper()
	return newStack(t, version, func(c *config.Config) {
		c.PublicURL = "http://" + c.Listen
		c.Exchange.Enabled = true
		c.Exchange.MaxTTL = config.Duration(12 * time.Hour)
		c.Exchange.RateLimit.Burst = 1000
		if edit != nil {
			edit(c)
		}
	})
}

// post sends a form to one of airgate's endpoints.
func (s *stack) post(path string, form url.Values, header map[string]string) response {
	s.t.Helper()
	req, err := http.NewRequest("POST", s.gwURL+path, strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
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

func exchangeForm(subject, scope string, kv ...string) url.Values {
	f := url.Values{
		"grant_type":         {grantExchange},
		"subject_token":      {subject},
		"subject_token_type": {typeAccess},
		"scope":              {scope},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// exchange posts an exchange and returns the response body as a map.
func (s *stack) exchange(form url.Values) (int, map[string]any, response) {
	s.t.Helper()
	resp := s.post("/oauth2/token", form, nil)
	return resp.status, resp.json(s.t), resp
}

func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func reasonsOf(t *testing.T, r response) []string {
	t.Helper()
	var out []string
	rs, _ := r.json(t)["reasons"].([]any)
	for _, x := range rs {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// TestExchangeEndToEnd is issue 7's acceptance test, against the emulator
// and the Airflow double, for Airflow 2 and 3.
func TestExchangeEndToEnd(t *testing.T) {
	for _, version := range []int{2, 3} {
		t.Run(fmt.Sprintf("airflow%d", version), func(t *testing.T) {
			s := newExchangeStack(t, version, nil)
			api := s.api()
			var grantedJTIs []string

			t.Run("discovery", func(t *testing.T) {
				for _, p := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
					resp := s.do("GET", p, "", "", nil)
					if resp.status != 200 {
						t.Fatalf("%s = %d", p, resp.status)
					}
					m := resp.json(t)
					if m["issuer"] != s.gwURL || m["token_endpoint"] != s.gwURL+"/oauth2/token" || m["jwks_uri"] != s.gwURL+"/.well-known/jwks.json" {
						t.Errorf("%s = %s", p, resp.body)
					}
					if gt, _ := m["grant_types_supported"].([]any); len(gt) != 1 || gt[0] != grantExchange {
						t.Errorf("grant_types_supported = %v", m["grant_types_supported"])
					}
				}
			})

			t.Run("etl-agent triggers team_a_daily and nothing else", func(t *testing.T) {
				status, m, resp := s.exchange(exchangeForm(s.appToken("etl-agent"), "dag:team_a_daily:trigger"))
				if status != 200 {
					t.Fatalf("exchange = %d %s", status, resp.body)
				}
				if m["token_type"] != "Bearer" || m["issued_token_type"] != typeJWT || m["scope"] != "dag:team_a_daily:trigger" {
					t.Errorf("response = %s", resp.body)
				}
				if resp.header.Get("Cache-Control") != "no-store" {
					t.Error("token response may be cached")
				}
				tok := m["access_token"].(string)
				c := claimsOf(t, tok)
				grantedJTIs = append(grantedJTIs, c["jti"].(string))
				if c["iss"] != s.gwURL || c["aud"] != "airgate" || c["sub"] != idp.DemoETLAgentSPID || c["azp"] != idp.DemoETLAgentClientID || c["idtyp"] != "app" {
					t.Errorf("claims = %v", c)
				}
				// An hourly DAG: the token lives at most the hour plus the
				// 5-minute grace, although 12 hours are allowed.
				exp := int64(m["expires_in"].(float64))
				if exp > 3600+300 || exp < 3500 || int64(c["exp"].(float64)-c["iat"].(float64)) != exp {
					t.Errorf("expires_in = %d (exp-iat %v), want about an hour and at most 3900", exp, c["exp"].(float64)-c["iat"].(float64))
				}

				type step struct {
					name, method, path, body string
					status                   int
					reason                   string
				}
				for _, st := range []step{
					{"trigger team_a_daily", "POST", api + "/dags/team_a_daily/dagRuns", triggerBody(version, ""), 200, ""},
					{"trigger team_b_daily", "POST", api + "/dags/team_b_daily/dagRuns", triggerBody(version, ""), 403, ReasonScopeNotGranted},
					{"trigger team_a_hourly", "POST", api + "/dags/team_a_hourly/dagRuns", triggerBody(version, ""), 403, ReasonScopeNotGranted},
					{"read team_a_daily", "GET", api + "/dags/team_a_daily", "", 403, ReasonScopeNotGranted},
					{"list runs of team_a_daily", "GET", api + "/dags/team_a_daily/dagRuns", "", 403, ReasonScopeNotGranted},
					{"list dags", "GET", api + "/dags", "", 403, ReasonScopeNotGranted},
					{"read connections", "GET", api + "/connections", "", 403, ReasonScopeNotGranted},
					{"pause team_a_daily", "PATCH", api + "/dags/team_a_daily", `{"is_paused":true}`, 403, ReasonScopeNotGranted},
				} {
					s.airflow.Reset()
					r := s.do(st.method, st.path, tok, st.body, nil)
					if r.status != st.status {
						t.Errorf("%s = %d, want %d: %s", st.name, r.status, st.status, r.body)
						continue
					}
					reached := s.airflow.Requests()
					if st.status == 200 {
						if len(reached) == 0 {
							t.Errorf("%s: Airflow saw nothing", st.name)
						} else if id := reached[len(reached)-1].Identity; version == 3 && id.Subject != idp.DemoETLAgentClientID {
							t.Errorf("%s: Airflow saw %+v, want the agent's app id", st.name, id)
						}
						continue
					}
					if len(reached) != 0 {
						t.Errorf("%s: refused request reached Airflow", st.name)
					}
					if rs := reasonsOf(t, r); !slices.Contains(rs, st.reason) {
						t.Errorf("%s: reasons %v, want %s", st.name, rs, st.reason)
					}
				}
			})

			t.Run("a scope not held is refused by name", func(t *testing.T) {
				status, m, resp := s.exchange(exchangeForm(s.appToken("etl-agent"), "dag:team_a_daily:trigger dag:team_b_daily:trigger"))
				if status != 400 || m["error"] != "invalid_scope" || !strings.Contains(m["error_description"].(string), "dag:team_b_daily:trigger") {
					t.Fatalf("exchange = %d %s", status, resp.body)
				}
				if strings.Contains(m["error_description"].(string), "dag:team_a_daily:trigger ") {
					t.Errorf("description blames the held scope: %s", m["error_description"])
				}
				for _, sc := range []string{"dag:team_a_daily:edit", "dag:team_*:read", "dag:no_such_dag:read"} {
					status, m, resp := s.exchange(exchangeForm(s.appToken("etl-agent"), sc))
					if status != 400 || m["error"] != "invalid_scope" || !strings.Contains(m["error_description"].(string), sc) {
						t.Errorf("%s: exchange = %d %s", sc, status, resp.body)
					}
				}
			})

			t.Run("requested ttl and audience", func(t *testing.T) {
				status, m, resp := s.exchange(exchangeForm(s.appToken("etl-agent"), "dag:team_a_daily:trigger", "requested_ttl", "600", "audience", "airgate"))
				if status != 200 || m["expires_in"].(float64) != 600 {
					t.Fatalf("exchange = %d %s", status, resp.body)
				}
				status, m, _ = s.exchange(exchangeForm(s.appToken("etl-agent"), "dag:team_a_daily:trigger", "audience", "apache-airflow"))
				if status != 400 || m["error"] != "invalid_target" {
					t.Errorf("audience apache-airflow = %d %v", status, m)
				}
			})

			t.Run("an agent acting for bob cannot gain more than bob has", func(t *testing.T) {
				bob := s.userToken("bob", false)
				form := exchangeForm(bob, "dag:team_a_daily:trigger", "actor_token", s.appToken("etl-agent"), "actor_token_type", typeAccess)
				status, m, resp := s.exchange(form)
				if status != 400 || m["error"] != "invalid_scope" || !strings.Contains(m["error_description"].(string), "the subject may not trigger") {
					t.Fatalf("bob+agent trigger = %d %s", status, resp.body)
				}
				// Reading is what both may do. A fresh bob token: the refused
				// exchange did not use up the first, but tokens are cheap.
				form = exchangeForm(s.userToken("bob", false), "dag:team_a_daily:read", "actor_token", s.appToken("etl-agent"), "actor_token_type", typeAccess)
				status, m, resp = s.exchange(form)
				if status != 200 {
					t.Fatalf("bob+agent read = %d %s", status, resp.body)
				}
				tok := m["access_token"].(string)
				c := claimsOf(t, tok)
				grantedJTIs = append(grantedJTIs, c["jti"].(string))
				act, _ := c["act"].(map[string]any)
				if c["upn"] != "bob@airgate.example" || act["azp"] != idp.DemoETLAgentClientID || act["sub"] != idp.DemoETLAgentSPID {
					t.Errorf("claims = %v", c)
				}
				if r := s.do("GET", api+"/dags/team_a_daily", tok, "", nil); r.status != 200 {
					t.Errorf("read with bob+agent token = %d %s", r.status, r.body)
				}
				r := s.do("POST", api+"/dags/team_a_daily/dagRuns", tok, triggerBody(version, ""), nil)
				if r.status != 403 || !slices.Contains(reasonsOf(t, r), ReasonScopeNotGranted) {
					t.Errorf("trigger with bob+agent read token = %d %s", r.status, r.body)
				}
				// The actor limits too: bob may read team_b_daily, the agent
				// may not.
				form = exchangeForm(s.userToken("bob", false), "dag:team_b_daily:read", "actor_token", s.appToken("etl-agent"), "actor_token_type", typeAccess)
				status, m, resp = s.exchange(form)
				if status != 400 || m["error"] != "invalid_scope" || !strings.Contains(m["error_description"].(string), "the actor may not read") {
					t.Errorf("bob+agent read team_b = %d %s", status, resp.body)
				}
				// bob's own token is no actor.
				form = exchangeForm(s.appToken("etl-agent"), "dag:team_a_daily:read", "actor_token", s.userToken("bob", false), "actor_token_type", typeAccess)
				if status, m, _ := s.exchange(form); status != 400 || m["error"] != "invalid_grant" {
					t.Errorf("user as actor = %d %v", status, m)
				}
			})

			t.Run("a revoked token stops working at once", func(t *testing.T) {
				_, m, _ := s.exchange(exchangeForm(s.appToken("etl-agent"), "dag:team_a_daily:trigger"))
				tok := m["access_token"].(string)
				if r := s.do("POST", api+"/dags/team_a_daily/dagRuns", tok, triggerBody(version, ""), nil); r.status != 200 {
					t.Fatalf("before revocation = %d %s", r.status, r.body)
				}
				if r := s.post("/oauth2/revoke", url.Values{"token": {tok}}, nil); r.status != 200 {
					t.Fatalf("revoke = %d %s", r.status, r.body)
				}
				s.airflow.Reset()
				r := s.do("POST", api+"/dags/team_a_daily/dagRuns", tok, triggerBody(version, ""), nil)
				if r.status != 401 || !slices.Contains(reasonsOf(t, r), tokens.CodeTokenRevoked) || len(s.airflow.Requests()) != 0 {
					t.Errorf("after revocation = %d %s", r.status, r.body)
				}
				// Revoking again, or revoking garbage, is fine (RFC 7009).
				for _, x := range []string{tok, "not-a-token"} {
					if r := s.post("/oauth2/revoke", url.Values{"token": {x}}, nil); r.status != 200 {
						t.Errorf("revoke again = %d", r.status)
					}
				}
			})

			t.Run("a revocation from another process reaches a replica", func(t *testing.T) {
				// A second gateway on the same state and keys, reading the
				// database on every check; the revocation is written as
				// `airgate tokens revoke` writes it.
				cfg := *s.cfg
				cfg.Exchange.RevocationMaxStaleness = 0
				replica, err := New(context.Background(), &cfg, Options{Logger: s.gw.log})
				if err != nil {
					t.Fatal(err)
				}
				defer replica.Close()
				_, m, _ := s.exchange(exchangeForm(s.appToken("etl-agent"), "dag:team_a_daily:trigger"))
				tok := m["access_token"].(string)
				p, err := replica.rt.Load().bearer.Verify(context.Background(), tok)
				if err != nil || p.Exchange == nil {
					t.Fatalf("replica verifies = %v, %v", p, err)
				}
				st, err := tokens.OpenStore(context.Background(), cfg.ExchangeStateDB(), tokens.StoreOptions{NoPoller: true})
				if err != nil {
					t.Fatal(err)
				}
				defer st.Close()
				if err := st.RevokeSubject(context.Background(), idp.DemoETLAgentClientID, "test", 13*time.Hour); err != nil {
					t.Fatal(err)
				}
				if _, err := replica.rt.Load().bearer.Verify(context.Background(), tok); err == nil || !strings.Contains(err.Error(), tokens.CodeTokenRevoked) {
					t.Errorf("replica after revocation: %v", err)
				}
				// Tokens exchanged after the revocation work (the subject is
				// not banned, its earlier tokens are void).
				time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second))) // iat has whole seconds
				status, m, resp := s.exchange(exchangeForm(s.appToken("etl-agent"), "dag:team_a_daily:trigger"))
				if status != 200 {
					t.Fatalf("exchange after revocation = %d %s", status, resp.body)
				}
				if _, err := replica.rt.Load().bearer.Verify(context.Background(), m["access_token"].(string)); err != nil {
					t.Errorf("new token after subject revocation: %v", err)
				}
			})

			t.Run("an expired subject token cannot be exchanged", func(t *testing.T) {
				now := time.Now()
				expired, err := s.idp.SignClaims(map[string]any{
					"iss": s.info.Issuer, "aud": s.cfg.Entra.ClientID, "tid": s.info.TenantID, "ver": "2.0",
					"oid": idp.DemoETLAgentSPID, "sub": idp.DemoETLAgentSPID, "azp": idp.DemoETLAgentClientID, "idtyp": "app",
					"roles": []string{"Airflow.Operator"}, "iat": now.Add(-2 * time.Hour).Unix(), "nbf": now.Add(-2 * time.Hour).Unix(),
					"exp": now.Add(-time.Hour).Unix(),
				}, false)
				if err != nil {
					t.Fatal(err)
				}
				status, m, resp := s.exchange(exchangeForm(expired, "dag:team_a_daily:trigger"))
				if status != 400 || m["error"] != "invalid_grant" || !strings.Contains(m["error_description"].(string), "token-expired") {
					t.Errorf("expired subject = %d %s", status, resp.body)
				}
			})

			t.Run("replayed and tampered tokens fail", func(t *testing.T) {
				subject := s.appToken("etl-agent")
				if status, _, resp := s.exchange(exchangeForm(subject, "dag:team_a_daily:trigger")); status != 200 {
					t.Fatalf("first exchange = %d %s", status, resp.body)
				}
				status, m, resp := s.exchange(exchangeForm(subject, "dag:team_a_daily:trigger"))
				if status != 400 || m["error"] != "invalid_grant" || !strings.Contains(m["error_description"].(string), "already exchanged") {
					t.Errorf("replayed subject token = %d %s", status, resp.body)
				}
				// A subject token with one signature character changed.
				fresh := s.appToken("etl-agent")
				i, repl := len(fresh)-10, "A"
				if fresh[i] == 'A' {
					repl = "B"
				}
				flipped := fresh[:i] + repl + fresh[i+1:]
				status, m, resp = s.exchange(exchangeForm(flipped, "dag:team_a_daily:trigger"))
				if status != 400 || m["error"] != "invalid_grant" {
					t.Errorf("tampered subject token = %d %s", status, resp.body)
				}
				// An exchanged token with a widened scope.
				_, m, _ = s.exchange(exchangeForm(fresh, "dag:team_a_daily:trigger"))
				tok := m["access_token"].(string)
				parts := strings.Split(tok, ".")
				c := claimsOf(t, tok)
				c["scope"] = "dag:*:trigger dag:*:delete"
				b, _ := json.Marshal(c)
				widened := parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
				s.airflow.Reset()
				r := s.do("POST", api+"/dags/team_b_daily/dagRuns", widened, triggerBody(version, ""), nil)
				if r.status != 401 || !slices.Contains(reasonsOf(t, r), "bad-signature") || len(s.airflow.Requests()) != 0 {
					t.Errorf("widened token = %d %s", r.status, r.body)
				}
				// An exchanged token is not a subject token.
				status, m, _ = s.exchange(exchangeForm(tok, "dag:team_a_daily:trigger"))
				if status != 400 || m["error"] != "invalid_grant" {
					t.Errorf("re-exchange = %d %v", status, m)
				}
			})

			t.Run("malformed requests", func(t *testing.T) {
				sub := s.appToken("etl-agent")
				cases := []struct {
					name string
					form url.Values
					code string
				}{
					{"wrong grant", exchangeForm(sub, "dag:team_a_daily:read", "grant_type", "client_credentials"), "unsupported_grant_type"},
					{"no subject", exchangeForm("", "dag:team_a_daily:read"), "invalid_request"},
					{"saml subject", exchangeForm(sub, "dag:team_a_daily:read", "subject_token_type", "urn:ietf:params:oauth:token-type:saml2"), "invalid_request"},
					{"actor without type", exchangeForm(sub, "dag:team_a_daily:read", "actor_token", sub), "invalid_request"},
					{"bad ttl", exchangeForm(sub, "dag:team_a_daily:read", "requested_ttl", "forever"), "invalid_request"},
					{"bad resource", exchangeForm(sub, "dag:team_a_daily:read", "resource", "https://evil.example"), "invalid_target"},
					{"no scope", exchangeForm(sub, ""), "invalid_scope"},
				}
				for _, tc := range cases {
					status, m, resp := s.exchange(tc.form)
					if status != 400 || m["error"] != tc.code || m["error_description"] == "" {
						t.Errorf("%s = %d %s, want 400 %s", tc.name, status, resp.body, tc.code)
					}
				}
				// Repeated parameters (RFC 6749 §3.2) and other encodings.
				body := exchangeForm(sub, "dag:team_a_daily:read").Encode() + "&scope=dag:team_b_daily:read"
				req, _ := http.NewRequest("POST", s.gwURL+"/oauth2/token", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 400 {
					t.Errorf("repeated scope = %d", resp.StatusCode)
				}
				if r := s.do("POST", "/oauth2/token", "", `{"grant_type":"x"}`, nil); r.status != 400 {
					t.Errorf("JSON body = %d", r.status)
				}
				if r := s.do("GET", "/oauth2/token", "", "", nil); r.status != 405 {
					t.Errorf("GET = %d", r.status)
				}
			})

			t.Run("the audit chain holds the exchanges and verifies", func(t *testing.T) {
				if err := s.gw.Close(); err != nil {
					t.Fatal(err)
				}
				lg, err := audit.Open(context.Background(), s.cfg.Audit.DB, audit.Options{ReadOnly: true})
				if err != nil {
					t.Fatal(err)
				}
				defer lg.Close()
				if _, err := lg.Verify(context.Background(), s.gw.AuditKeys()); err != nil {
					t.Fatalf("audit chain does not verify: %v", err)
				}
				grants, refusals := map[string]audit.Record{}, 0
				var usedBy []audit.Record
				err = lg.Query(context.Background(), audit.Filter{}, func(e audit.Entry) error {
					r := e.Record
					switch {
					case r.Kind == audit.KindTokenExchange && r.Decision == audit.DecisionAllow:
						grants[r.ExchangeID] = r
					case r.Kind == audit.KindTokenExchange:
						refusals++
						if len(r.Reasons) == 0 || r.Detail["error"] == "" {
							t.Errorf("refusal %d without reasons or error: %+v", r.Seq, r)
						}
					case r.Kind == audit.KindDecision && r.ExchangeID != "":
						usedBy = append(usedBy, r)
					}
					if strings.Count(r.TokenFingerprint, ".") >= 2 || strings.Contains(fmt.Sprint(r.Detail), "eyJ") {
						t.Errorf("record %d holds a token", r.Seq)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if refusals < 10 {
					t.Errorf("%d refusals recorded", refusals)
				}
				for _, jti := range grantedJTIs {
					g, ok := grants[jti]
					if !ok {
						t.Errorf("no token-exchange record for %s", jti)
						continue
					}
					if g.Detail["scope"] == "" || g.Detail["expires_in"] == "" || g.Principal.Kind == "" {
						t.Errorf("grant record %+v", g)
					}
				}
				bobAgent := grants[grantedJTIs[1]]
				if bobAgent.Principal.UPN != "bob@airgate.example" || bobAgent.Principal.Actor != idp.DemoETLAgentClientID || bobAgent.Detail["actor_app_id"] != idp.DemoETLAgentClientID {
					t.Errorf("bob+agent grant = %+v", bobAgent)
				}
				if !strings.HasPrefix(grants[grantedJTIs[0]].Detail["lifetime"], "schedule:team_a_daily") && grants[grantedJTIs[0]].Detail["lifetime"] != "subject-token" {
					t.Errorf("lifetime = %q", grants[grantedJTIs[0]].Detail["lifetime"])
				}
				sawBoth := false
				for _, d := range usedBy {
					if d.Principal.Kind != audit.PrincipalAgent {
						t.Errorf("decision %d with an exchanged token: principal %+v", d.Seq, d.Principal)
					}
					sawBoth = sawBoth || (d.ExchangeID == grantedJTIs[1] && d.Principal.UPN == "bob@airgate.example" && d.Principal.Actor == idp.DemoETLAgentClientID)
				}
				if !sawBoth {
					t.Error("no decision record shows bob and the agent together")
				}
			})
		})
	}
}

// TestExchangeClientAuthAndRateLimit checks configured client
// authentication and the per-subject rate limit.
func TestExchangeClientAuthAndRateLimit(t *testing.T) {
	s := newExchangeStack(t, 3, func(c *config.Config) {
		c.Exchange.RequireClientAuth = true
		c.Exchange.Clients = []config.ExchangeClient{{ID: "ci-runner", Secret: config.Secret{InsecureValue: "s3cret"}}}
		c.Exchange.RateLimit = config.ExchangeRateLimit{PerMinute: 1, Burst: 2}
		c.Exchange.SingleUseSubjectTokens = false
	})
	sub := s.appToken("etl-agent")
	form := exchangeForm(sub, "dag:team_a_daily:trigger")
	basic := func(id, secret string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))}
	}
	for _, tc := range []struct {
		name   string
		header map[string]string
		extra  []string
	}{
		{"no client", nil, nil},
		{"wrong secret", basic("ci-runner", "nope"), nil},
		{"unknown client", basic("someone", "s3cret"), nil},
		{"wrong post secret", nil, []string{"client_id", "ci-runner", "client_secret", "nope"}},
	} {
		f := exchangeForm(sub, "dag:team_a_daily:trigger", tc.extra...)
		r := s.post("/oauth2/token", f, tc.header)
		if r.status != 401 || r.json(t)["error"] != "invalid_client" || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s = %d %s", tc.name, r.status, r.body)
		}
	}
	r := s.post("/oauth2/token", form, basic("ci-runner", "s3cret"))
	if r.status != 200 {
		t.Fatalf("right client = %d %s", r.status, r.body)
	}
	if c := claimsOf(t, r.json(t)["access_token"].(string)); c["client_id"] != "ci-runner" {
		t.Errorf("client_id claim = %v", c["client_id"])
	}
	// The actor token authenticates the exchanging party too.
	f := exchangeForm(s.userToken("alice", false), "dag:team_a_daily:read", "actor_token", sub, "actor_token_type", typeAccess)
	if r := s.post("/oauth2/token", f, nil); r.status != 200 {
		t.Errorf("actor as client = %d %s", r.status, r.body)
	}
	// The agent's bucket holds two (alice's exchange used her own): the
	// second passes, the third gets 429 with Retry-After.
	if r := s.post("/oauth2/token", form, basic("ci-runner", "s3cret")); r.status != 200 {
		t.Fatalf("second exchange = %d %s", r.status, r.body)
	}
	r = s.post("/oauth2/token", form, basic("ci-runner", "s3cret"))
	if r.status != 429 || r.header.Get("Retry-After") == "" || r.json(t)["error"] != "temporarily_unavailable" {
		t.Errorf("over the limit = %d %v %s", r.status, r.header, r.body)
	}
}

// TestExchangeDisabled checks that nothing of the exchange answers, and
// no airgate-looking token is accepted, when it is off.
func TestExchangeDisabled(t *testing.T) {
	s := newStack(t, 3, nil)
	if r := s.post("/oauth2/token", exchangeForm(s.appToken("etl-agent"), "dag:team_a_daily:trigger"), nil); r.status != 404 {
		t.Errorf("token endpoint = %d", r.status)
	}
	if r := s.do("GET", "/.well-known/openid-configuration", "", "", nil); r.status != 404 {
		t.Errorf("discovery = %d", r.status)
	}
}

func TestExchangeConfigValidation(t *testing.T) {
	base := func() *config.Config {
		c := config.Default()
		c.Entra.TenantID, c.Entra.ClientID = idp.DemoTenantID, idp.DemoAirgateClientID
		c.Policy.File, c.Upstream.URL = "p.yaml", "http://airflow:8080"
		c.Exchange.Enabled = true
		c.PublicURL = "https://airgate.example"
		return c
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*config.Config)
		field string
	}{
		{"no issuer", func(c *config.Config) { c.PublicURL = "" }, "exchange.issuer"},
		{"issuer is airflow's", func(c *config.Config) { c.Exchange.Issuer = "https://x"; c.Upstream.JWTIssuer = "https://x" }, "exchange.issuer"},
		{"airflow audience", func(c *config.Config) { c.Exchange.Audiences = []string{"apache-airflow"} }, "exchange.audiences[0]"},
		{"ttl", func(c *config.Config) { c.Exchange.MaxTTL = config.Duration(48 * time.Hour) }, "exchange.max_ttl"},
		{"client without secret", func(c *config.Config) { c.Exchange.Clients = []config.ExchangeClient{{ID: "x"}} }, "exchange.clients[0].secret"},
		{"client insecure secret", func(c *config.Config) {
			c.Exchange.Clients = []config.ExchangeClient{{ID: "x", Secret: config.Secret{InsecureValue: "v"}}}
		}, "exchange.clients[0].secret.insecure_value"},
		{"actor not guid", func(c *config.Config) { c.Exchange.AllowedActors = []string{"etl-agent"} }, "exchange.allowed_actors[0]"},
		{"staleness", func(c *config.Config) { c.Exchange.RevocationMaxStaleness = config.Duration(time.Hour) }, "exchange.revocation_max_staleness"},
	} {
		c := base()
		tc.edit(c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%s: Validate = %v, want a problem with %s", tc.name, err, tc.field)
		}
	}
}
