package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/authz"
	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/idp"
	"github.com/airgate/airgate/internal/testutil"
)

// The server package's end-to-end tests use a copy of the demo policy
// (they cannot import this package); the copies must not drift.
func TestPolicyMatchesServerTestdata(t *testing.T) {
	server, err := os.ReadFile("../server/testdata/demo-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(server, Policy()) {
		t.Error("internal/server/testdata/demo-policy.yaml differs from internal/demo/policy.yaml: copy policy.yaml over it")
	}
	p, err := authz.ParsePolicy(Policy())
	if err != nil {
		t.Fatalf("demo policy: %v", err)
	}
	if w := p.Warnings(); len(w) != 0 {
		t.Errorf("demo policy warnings: %v", w)
	}
}

func TestAddresses(t *testing.T) {
	for _, tc := range []struct {
		name            string
		o               Options
		gw, idpAddr, af string
		wantErr         bool
	}{
		{name: "defaults", gw: DefaultAddr, idpAddr: DefaultIdPAddr, af: DefaultAirflowAddr},
		{name: "port 0 picks free ports for all", o: Options{Addr: "127.0.0.1:0"}, gw: "127.0.0.1:0", idpAddr: "127.0.0.1:0", af: "127.0.0.1:0"},
		{name: "port 0 on localhost", o: Options{Addr: "localhost:0"}, gw: "localhost:0", idpAddr: "localhost:0", af: "localhost:0"},
		{name: "given addresses win", o: Options{Addr: ":0", IdPAddr: "127.0.0.1:9443", AirflowAddr: "127.0.0.1:9081"}, gw: ":0", idpAddr: "127.0.0.1:9443", af: "127.0.0.1:9081"},
		{name: "fixed gateway port keeps fixed defaults", o: Options{Addr: "127.0.0.1:9080"}, gw: "127.0.0.1:9080", idpAddr: DefaultIdPAddr, af: DefaultAirflowAddr},
		{name: "not host:port", o: Options{Addr: "8080"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw, i, af, err := addresses(tc.o)
			if (err != nil) != tc.wantErr {
				t.Fatalf("addresses() error = %v, want error %v", err, tc.wantErr)
			}
			if gw != tc.gw || i != tc.idpAddr || af != tc.af {
				t.Errorf("addresses() = %s %s %s, want %s %s %s", gw, i, af, tc.gw, tc.idpAddr, tc.af)
			}
		})
	}
}

func TestStartRefusesUnknownAirflowVersion(t *testing.T) {
	if _, err := Start(context.Background(), Options{AirflowVersion: 4, Addr: "127.0.0.1:0"}); err == nil {
		t.Fatal("Start(Airflow 4) error = nil")
	}
}

// fixedReady is a Ready with stable values, for golden output.
func fixedReady(version int) Ready {
	dir := "/tmp/airgate-demo-123"
	return Ready{
		Gateway: "http://127.0.0.1:8080", Airflow: "http://127.0.0.1:8081", AirflowVersion: version,
		IdP: idp.ReadyInfo{
			Authority: "https://127.0.0.1:8443/" + idp.DemoTenantID, Issuer: "https://127.0.0.1:8443/" + idp.DemoTenantID + "/v2.0",
			TenantID: idp.DemoTenantID, Domain: idp.DemoDomain, CAFile: dir + "/idp-ca.pem",
			Graph: "https://127.0.0.1:8443/graph/v1.0", AuthorityHost: "https://127.0.0.1:8443/",
			Apps: map[string]idp.ReadyApp{"airgate": {ClientID: idp.DemoAirgateClientID, AppIDURI: idp.DemoAirgateAppIDURI, ClientSecret: "s3cret"}},
		},
		IdPReadyFile: dir + "/idp.json", AuditDB: dir + "/audit.db", Policy: dir + "/policy.yaml",
		Config: dir + "/airgate.yaml", Dir: dir, TempDir: true,
	}
}

func TestInstructionsGolden(t *testing.T) {
	for _, version := range []int{2, 3} {
		t.Run(fmt.Sprintf("airflow%d", version), func(t *testing.T) {
			r := fixedReady(version)
			var out bytes.Buffer
			if err := WriteInstructions(&out, r, "airgate"); err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, fmt.Sprintf("instructions-airflow%d.txt", version), out.Bytes())
			got, err := ParseExamples(&out)
			if err != nil {
				t.Fatal(err)
			}
			if want := Examples(r, "airgate"); !reflect.DeepEqual(got, want) {
				t.Errorf("ParseExamples(WriteInstructions()) =\n%+v\nwant Examples() =\n%+v", got, want)
			}
		})
	}
}

// The README's "Try it" section shows what the demo prints: every line of
// its excerpt must be a line of the real output (as run with go run).
func TestREADMEShowsTheDemoOutput(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Try it")
	_, block, ok2 := strings.Cut(section, "```text\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no text block under ## Try it")
	}
	var out bytes.Buffer
	if err := WriteInstructions(&out, fixedReady(3), "go run ./cmd/airgate"); err != nil {
		t.Fatal(err)
	}
	printed := map[string]bool{}
	for _, l := range strings.Split(out.String(), "\n") {
		printed[l] = true
	}
	for _, l := range strings.Split(strings.TrimSuffix(block, "\n"), "\n") {
		if strings.TrimSpace(l) == "..." {
			continue
		}
		if !printed[l] {
			t.Errorf("README.md shows a line the demo does not print:\n%s", l)
		}
	}
}

func TestExamplesQuotePaths(t *testing.T) {
	r := fixedReady(3)
	r.IdPReadyFile = "/tmp/it's here/idp.json"
	r.Config = "/tmp/a b/airgate.yaml"
	for _, e := range Examples(r, "'/opt/my tools/airgate'") {
		for _, l := range e.Lines {
			if strings.Contains(l, "it's here") || strings.Contains(l, " b/airgate.yaml") && !strings.Contains(l, "'/tmp/a b/airgate.yaml'") {
				t.Errorf("unquoted path in %q", l)
			}
		}
	}
	if got := shq("/tmp/it's"); got != `'/tmp/it'\''s'` {
		t.Errorf("shq = %s", got)
	}
}

func TestParseExamplesRejectsEmpty(t *testing.T) {
	if _, err := ParseExamples(strings.NewReader("alice does nothing: expect 200\n\nnext\n")); err == nil {
		t.Error("ParseExamples(example without commands) error = nil")
	}
}

func TestConfigGolden(t *testing.T) {
	for _, version := range []int{2, 3} {
		t.Run(fmt.Sprintf("airflow%d", version), func(t *testing.T) {
			r := fixedReady(version)
			b, err := configYAML(configValues{Listen: "127.0.0.1:8080", PublicURL: r.Gateway, Airflow: r.Airflow, AirflowVersion: version, IdP: r.IdP})
			if err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, fmt.Sprintf("airgate-airflow%d.yaml", version), b)
			cfg, err := config.Parse(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
			if cfg.Upstream.AirflowVersion != version || cfg.Entra.ClientSecret.File == "" || cfg.Entra.ClientSecret.InsecureValue != "" {
				t.Errorf("config = %+v", cfg)
			}
			if version == 2 && (cfg.Upstream.Password.File == "" || cfg.Upstream.Username != ServiceAccount) {
				t.Errorf("upstream = %+v, want the service account with a password file", cfg.Upstream)
			}
		})
	}
}

// TestStart runs the whole demo in-process for each Airflow version and
// checks its files, a request through the gateway, and the double's
// request log.
func TestStart(t *testing.T) {
	for _, version := range []int{2, 3} {
		t.Run(fmt.Sprintf("airflow%d", version), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "demo")
			d, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", AirflowVersion: version, Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			r := d.Ready()
			if r.Dir != dir || r.TempDir || r.AirflowVersion != version {
				t.Errorf("Ready() = %+v", r)
			}

			// The files: secrets and everything holding one are 0600.
			for _, f := range []string{ConfigFile, PolicyFile, IdPReadyFile, ClientSecretFile, KeysFile} {
				fi, err := os.Stat(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm()&0o077 != 0 {
					t.Errorf("%s has mode %04o, want no access for group and others", f, fi.Mode().Perm())
				}
			}
			info, err := idp.ReadReadyFile(r.IdPReadyFile)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(info, r.IdP) {
				t.Errorf("idp.json = %+v, want Ready().IdP %+v", info, r.IdP)
			}
			if pol, _ := os.ReadFile(r.Policy); !bytes.Equal(pol, Policy()) {
				t.Error("policy.yaml is not the demo policy")
			}

			// The configuration loads, validates and points at the files.
			cfg, err := config.Load(r.Config)
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			if cfg.Path(cfg.Policy.File) != r.Policy || cfg.Path(cfg.Audit.DB) != r.AuditDB {
				t.Errorf("config points at policy %s and audit %s", cfg.Path(cfg.Policy.File), cfg.Path(cfg.Audit.DB))
			}
			if s, err := cfg.Read(cfg.Entra.ClientSecret); err != nil || s != r.IdP.Apps["airgate"].ClientSecret {
				t.Errorf("entra.client_secret reads %v, want the emulator's airgate secret", err)
			}
			if cfg.Upstream.URL != r.Airflow || cfg.PublicURL != r.Gateway {
				t.Errorf("upstream %s, public_url %s", cfg.Upstream.URL, cfg.PublicURL)
			}
			if _, err := authz.LoadPolicy(cfg.Path(cfg.Policy.File)); err != nil {
				t.Fatal(err)
			}
			if raw, _ := os.ReadFile(r.Config); bytes.Contains(raw, []byte(r.IdP.Apps["airgate"].ClientSecret)) {
				t.Error("the config file holds the client secret itself")
			}
			if version == 2 {
				pw, err := cfg.Read(cfg.Upstream.Password)
				if err != nil || len(pw) < 32 {
					t.Errorf("upstream.password reads %d bytes, %v", len(pw), err)
				}
			}

			// One allowed and one denied request; only the first reaches
			// Airflow, as alice, never with her token.
			client, err := idp.NewClient(r.IdP)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := client.Password(context.Background(), "airgate", "alice", idp.DemoAirgateAppIDURI+"/access_as_user")
			if err != nil {
				t.Fatal(err)
			}
			api := "/api/v2"
			if version == 2 {
				api = "/api/v1"
			}
			allowID := get(t, r.Gateway+api+"/dags/team_a_daily", tok.AccessToken, 200)
			denyID := get(t, r.Gateway+api+"/dags/team_b_daily", tok.AccessToken, 403)
			if got := requestLog(t, r, denyID); len(got) != 0 {
				t.Errorf("denied request reached Airflow: %+v", got)
			}
			got := requestLog(t, r, allowID)
			if len(got) != 1 {
				t.Fatalf("allowed request reached Airflow %d times: %+v", len(got), got)
			}
			who := got[0].Subject
			if version == 2 {
				who = got[0].AirgateUser
				if got[0].User != ServiceAccount {
					t.Errorf("Airflow 2 authenticated %q, want %s", got[0].User, ServiceAccount)
				}
			}
			if who != "alice@"+idp.DemoDomain {
				t.Errorf("Airflow saw the caller as %q", who)
			}
			if got[0].Credential == "" || got[0].Credential == audit.TokenFingerprint(tok.AccessToken) {
				t.Errorf("credential at Airflow = %q: want airgate's, not alice's", got[0].Credential)
			}
			if resp, err := http.Post(r.Airflow+RequestsPath, "text/plain", nil); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("POST %s = %v, %v; want 405", RequestsPath, resp, err)
			}

			// Reload re-reads the files; a broken policy is refused and
			// the running one stays.
			if err := d.Reload(context.Background()); err != nil {
				t.Fatalf("Reload() = %v", err)
			}
			if err := os.WriteFile(r.Policy, []byte("version: 1\nroles: {x: {extends: [nope]}}\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := d.Reload(context.Background()); err == nil {
				t.Error("Reload(broken policy) error = nil")
			}
			get(t, r.Gateway+api+"/dags/team_a_daily", tok.AccessToken, 200)

			if err := d.Close(); err != nil {
				t.Fatalf("Close() = %v", err)
			}
			if _, err := os.Stat(dir); err != nil {
				t.Errorf("Close removed the caller's directory: %v", err)
			}
		})
	}
}

func TestStartInTempDirRemovesIt(t *testing.T) {
	d, err := Start(context.Background(), Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	r := d.Ready()
	if !r.TempDir {
		t.Error("Ready().TempDir = false for a fresh directory")
	}
	if _, err := os.Stat(r.Config); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.Dir); !os.IsNotExist(err) {
		t.Errorf("directory %s after Close: %v, want removed", r.Dir, err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
}

func TestStartFailsOnBusyAddress(t *testing.T) {
	d, err := Start(context.Background(), Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	gw := strings.TrimPrefix(d.Ready().Gateway, "http://")
	if _, err := Start(context.Background(), Options{Addr: gw, IdPAddr: "127.0.0.1:0", AirflowAddr: "127.0.0.1:0"}); err == nil {
		t.Fatal("Start on a busy address: error = nil")
	}
}

// get sends an authenticated GET, checks its status and returns airgate's
// request id.
func get(t *testing.T, url, token string, want int) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s = %d, want %d: %s", url, resp.StatusCode, want, body)
	}
	id := resp.Header.Get("X-Request-Id")
	if id == "" {
		t.Fatal("no X-Request-Id")
	}
	return id
}

func requestLog(t *testing.T, r Ready, id string) []RecordedRequest {
	t.Helper()
	resp, err := http.Get(r.Airflow + RequestsPath + "?request_id=" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct{ Requests []RecordedRequest }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v.Requests
}
