package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgate/airgate/internal/airflowsim"
	"github.com/airgate/airgate/internal/idp"
	"github.com/airgate/airgate/internal/server"
	"github.com/airgate/airgate/internal/tokens"
)

// exchangeGateway is the emulator, an Airflow 3 double and a gateway with
// the token exchange on, configured from a file as `airgate serve` would be.
type exchangeGateway struct {
	url, cfgPath, dir string
	client            *idp.Client
}

func startExchangeGateway(t *testing.T) *exchangeGateway {
	t.Helper()
	em, err := idp.New(idp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := em.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gw := &exchangeGateway{url: "http://" + ln.Addr().String(), dir: t.TempDir()}
	af := airflowsim.New(airflowsim.Options{JWKSURL: gw.url + "/.well-known/jwks.json", Issuer: "airgate"})
	upLn, _ := net.Listen("tcp", "127.0.0.1:0")
	up := &http.Server{Handler: af}
	go up.Serve(upLn)
	t.Cleanup(func() { up.Close() })

	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(gw.dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("policy.yaml", mustRead(t, demoPolicy))
	write("secret", []byte(info.Apps["airgate"].ClientSecret))
	authority := strings.TrimSuffix(info.AuthorityHost, "/")
	write("airgate.yaml", []byte(fmt.Sprintf(`
listen: %s
dev: true
public_url: %s
entra:
  tenant_id: %s
  client_id: %s
  audiences: [api://airgate, %s]
  authority: %s
  issuer_v1: %s/{tenantid}/
  graph_url: %s
  ca_file: %s
  client_secret: {file: secret}
policy: {file: policy.yaml}
upstream: {url: "http://%s", airflow_version: 3}
audit: {db: audit.db}
keys: {file: keys.json}
log: {requests: false}
exchange:
  enabled: true
  revocation_max_staleness: 0s
`, ln.Addr(), gw.url, info.TenantID, info.Apps["airgate"].ClientID, info.Apps["airgate"].ClientID, authority, authority, info.Graph, info.CAFile, upLn.Addr())))
	gw.cfgPath = filepath.Join(gw.dir, "airgate.yaml")
	cfg, err := loadConfig(gw.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(context.Background(), cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler()}
	go hs.Serve(ln)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	if gw.client, err = idp.NewClient(info); err != nil {
		t.Fatal(err)
	}
	return gw
}

func (gw *exchangeGateway) appToken(t *testing.T) string {
	t.Helper()
	tok, err := gw.client.ClientCredentials(context.Background(), "etl-agent", "api://airgate/.default")
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

func (gw *exchangeGateway) trigger(t *testing.T, tok string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", gw.url+"/api/v2/dags/team_a_daily/dagRuns", strings.NewReader(`{"logical_date":null}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestTokenCommands(t *testing.T) {
	gw := startExchangeGateway(t)

	// Exchange with the subject token on standard input, the gateway from
	// --gateway.
	out, errOut, code := run(t, gw.appToken(t), "token", "exchange", "--gateway", gw.url, "--subject-token", "-", "--scope", "dag:team_a_daily:trigger")
	if code != 0 {
		t.Fatalf("token exchange = %d: %s", code, errOut)
	}
	tok := strings.TrimSpace(out)
	if strings.Count(tok, ".") != 2 || !strings.Contains(errOut, `granted "dag:team_a_daily:trigger"`) {
		t.Fatalf("token exchange printed %q, stderr %q", out, errOut)
	}
	if got := gw.trigger(t, tok); got != 200 {
		t.Errorf("trigger with the exchanged token = %d", got)
	}

	// The gateway from --config, the subject token from a file, JSON out.
	subFile := filepath.Join(gw.dir, "subject")
	if err := os.WriteFile(subFile, []byte(gw.appToken(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = run(t, "", "token", "exchange", "--config", gw.cfgPath, "--subject-token-file", subFile, "--scope", "dag:team_a_daily:trigger", "--ttl", "10m", "--json")
	if code != 0 {
		t.Fatalf("token exchange --config = %d: %s", code, errOut)
	}
	var resp struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.ExpiresIn != 600 {
		t.Errorf("--json = %s (%v)", out, err)
	}

	// Refusals say why and exit 1.
	_, errOut, code = run(t, "", "token", "exchange", "--gateway", gw.url, "--subject-token", gw.appToken(t), "--scope", "dag:team_b_daily:trigger")
	if code != 1 || !strings.Contains(errOut, "invalid_scope") || !strings.Contains(errOut, "dag:team_b_daily:trigger") {
		t.Errorf("refused exchange = %d: %s", code, errOut)
	}

	// Inspect without verification says so.
	out, errOut, code = run(t, "", "token", "inspect", tok)
	if code != 0 {
		t.Fatalf("token inspect = %d: %s", code, errOut)
	}
	for _, want := range []string{"not verified", "scope:     dag:team_a_daily:trigger", "subject:   " + idp.DemoETLAgentSPID + " (app " + idp.DemoETLAgentClientID + ")", "expires:", "(in "} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	// With --gateway the signature is checked.
	out, errOut, code = run(t, "", "token", "inspect", "--gateway", gw.url, "--json", tok)
	var in struct {
		Verified bool     `json:"verified"`
		Scope    []string `json:"scope"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &in) != nil || !in.Verified || len(in.Scope) != 1 {
		t.Errorf("inspect --gateway = %d %s %s", code, out, errOut)
	}
	// The same token with a widened scope and the original signature.
	parts := strings.Split(tok, ".")
	pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(pb), "dag:team_a_daily:trigger", "dag:*:delete", 1))) + "." + parts[2]
	if _, errOut, code := run(t, "", "token", "inspect", "--gateway", gw.url, forged); code != 1 || !strings.Contains(errOut, "does not verify") {
		t.Errorf("inspect of a tampered token = %d %s", code, errOut)
	}

	// tokens revoke by jti, through the state database: the gateway
	// (reading it on every check) refuses the token at once.
	c, _, _, _, err := tokens.Decode(tok)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code = run(t, "", "tokens", "revoke", "--config", gw.cfgPath, "--jti", c.ID, "--reason", "test")
	if code != 0 || !strings.Contains(out, "revoked token "+c.ID) || !strings.Contains(out, "at once") {
		t.Fatalf("tokens revoke = %d %s %s", code, out, errOut)
	}
	if got := gw.trigger(t, tok); got != 401 {
		t.Errorf("trigger with a revoked token = %d, want 401", got)
	}
	if got := gw.trigger(t, resp.AccessToken); got != 200 {
		t.Errorf("another token of the same subject = %d, want 200", got)
	}
	// And by subject: every token issued so far.
	if _, errOut, code := run(t, "", "tokens", "revoke", "--config", gw.cfgPath, "--subject", idp.DemoETLAgentClientID); code != 0 {
		t.Fatalf("tokens revoke --subject = %d %s", code, errOut)
	}
	if got := gw.trigger(t, resp.AccessToken); got != 401 {
		t.Errorf("trigger after subject revocation = %d, want 401", got)
	}
}

func TestTokenUsage(t *testing.T) {
	for _, args := range [][]string{
		{"token", "exchange", "--gateway", "http://x", "--scope", "dag:a:read"},
		{"token", "exchange", "--gateway", "http://x", "--subject-token", "t"},
		{"token", "exchange", "--subject-token", "t", "--scope", "dag:a:read"},
		{"token", "exchange", "--gateway", "ftp://x", "--subject-token", "t", "--scope", "dag:a:read"},
		{"token", "exchange", "--gateway", "http://x", "--config", "c", "--subject-token", "t", "--scope", "dag:a:read"},
		{"token", "exchange", "--gateway", "http://x", "--subject-token", "t", "--subject-token-file", "f", "--scope", "dag:a:read"},
		{"token", "inspect"},
		{"tokens", "revoke", "--config", "x.yaml"},
		{"tokens", "revoke", "--config", "x.yaml", "--jti", "a", "--subject", "b"},
	} {
		if _, errOut, code := run(t, "", args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 with a message", args, code, errOut)
		}
	}
	if _, errOut, code := run(t, "", "token", "inspect", "not-a-token"); code != 1 || !strings.Contains(errOut, "not an airgate token") {
		t.Errorf("inspect garbage = %d %s", code, errOut)
	}
}
