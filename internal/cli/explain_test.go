package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const demoPolicy = "../server/testdata/demo-policy.yaml"

func TestExplainReasons(t *testing.T) {
	const platformEngineers = "1a0c0004-0000-4000-8000-0000000000a4"
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"viewer cannot trigger", []string{"--user", "bob@x", "--groups", "airflow-viewers", "POST", "/api/v1/dags/team_a_daily/dagRuns"},
			[]string{"decision verdict: deny (permission-missing"}},
		{"viewer reads runs", []string{"--user", "bob@x", "--groups", "airflow-viewers", "GET", "/api/v2/dags/team_b_daily/dagRuns"},
			[]string{"decision verdict: allow"}},
		{"operator outside scope", []string{"--user", "alice@x", "--groups", "airflow-team-a-operators", "POST", "/api/v1/dags/team_b_daily/dagRuns"},
			[]string{"dag-not-in-scope", "decision verdict: deny"}},
		{"nested admin", []string{"--user", "carol@x", "--groups", platformEngineers, "--nested-groups", "airflow-admins", "--mfa", "GET", "/api/v1/connections"},
			[]string{"nested-membership-ignored", "decision verdict: deny"}},
		{"admin without mfa", []string{"--user", "dave@x", "--groups", "airflow-admins", "GET", "/api/v2/connections"},
			[]string{"mfa-required", "decision verdict: deny"}},
		{"admin with mfa", []string{"--user", "dave@x", "--groups", "airflow-admins", "--mfa", "GET", "/api/v2/connections"},
			[]string{"decision verdict: allow"}},
		{"no role", []string{"--user", "erin@x", "GET", "/api/v1/dags"},
			[]string{"no-matching-role"}},
		{"agent app outside scope", []string{"--app", "e71a9e00-0000-4000-8000-000000000002", "--app-roles", "Airflow.Operator", "POST", "/api/v2/dags/team_b_daily/dagRuns"},
			[]string{"dag-not-in-scope"}},
		{"unknown operation", []string{"--user", "bob@x", "--groups", "airflow-viewers", "GET", "/api/v1/dags/a%2F..%2Fb"},
			[]string{"route: unknown (dot-segment)", "unknown-operation"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := run(t, "", append([]string{"explain", "--policy", demoPolicy}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("explain output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	out, _, code := run(t, "", "explain", "--policy", demoPolicy, "--json", "--user", "dave@x", "--groups", "airflow-admins", "GET", "/api/v1/connections")
	if code != 0 || !strings.Contains(out, `"mfa-required"`) || !strings.Contains(out, `"operation": "get_connections"`) {
		t.Errorf("explain --json = %d %s", code, out)
	}
}

func TestExplainUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"explain", "GET", "/api/v1/dags"},
		{"explain", "--policy", demoPolicy, "GET"},
		{"explain", "--policy", demoPolicy, "--token", "x", "GET", "/api/v1/dags"},
		{"explain", "--policy", demoPolicy, "--user", "a", "--app", "b", "GET", "/api/v1/dags"},
		{"explain", "--policy", demoPolicy, "--source-ip", "nope", "GET", "/api/v1/dags"},
	} {
		if _, errOut, code := run(t, "", args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 with a message", args, code, errOut)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	pol, err := os.ReadFile(demoPolicy)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("policy.yaml", string(pol))
	write("pw", "s3cret\n")
	good := write("good.yaml", `
entra:
  tenant_id: 6a1f3c9e-2b7d-4e58-9f0a-3c5d7e9b1a24
  client_id: a19a7e00-0000-4000-8000-000000000001
  client_secret: {file: pw}
policy: {file: policy.yaml}
upstream: {url: "http://127.0.0.1:8081", airflow_version: 2, username: svc, password: {file: pw}}
`)
	out, errOut, code := run(t, "", "config", "check", "--config", good)
	if code != 0 || !strings.HasPrefix(out, "ok: ") || !strings.Contains(out, "3 mappings") && !strings.Contains(out, "4 mappings") {
		t.Fatalf("config check good = %d\n%s%s", code, out, errOut)
	}

	write("risky-policy.yaml", `version: 1
roles:
  everything:
    permissions: [{resource: "*", actions: ["*"]}]
    dags: ["*"]
mappings:
  - {group: 1a0c0001-0000-4000-8000-0000000000a1, name: airflow-admins, roles: [Admin], nested: true}
  - {group: 1a0c0003-0000-4000-8000-0000000000a3, roles: [everything]}
`)
	risky := write("risky.yaml", strings.Replace(string(mustRead(t, good)), "policy.yaml", "risky-policy.yaml", 1))
	out, _, code = run(t, "", "config", "check", "--config", risky)
	if code != 0 || !strings.Contains(out, "nested-admin") || !strings.Contains(out, "wildcard-resource") {
		t.Errorf("config check risky = %d\n%s", code, out)
	}

	bad := write("bad.yaml", `
listen: nowhere
entra: {tenant_id: contoso, client_id: a19a7e00-0000-4000-8000-000000000001, ca_file: missing.pem}
policy: {file: policy.yaml}
upstream: {url: "http://127.0.0.1:8081", airflow_version: 2, username: svc, password: {env: AIRGATE_TEST_UNSET_PW}}
`)
	out, _, code = run(t, "", "config", "check", "--config", bad)
	for _, w := range []string{`listen: "nowhere" is not HOST:PORT`, `entra.tenant_id: "contoso" is not a GUID`, `entra.ca_file: "missing.pem" cannot be read`, "upstream.password: environment variable AIRGATE_TEST_UNSET_PW is not set"} {
		if !strings.Contains(out, w) {
			t.Errorf("config check bad lacks %q:\n%s", w, out)
		}
	}
	if code != 1 {
		t.Errorf("config check bad exit = %d, want 1", code)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
