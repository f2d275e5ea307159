package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const validYAML = `
listen: 127.0.0.1:9000
entra:
  tenant_id: 11111111-2222-3333-4444-555555555555
  client_id: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee
  audiences: [api://airgate]
  client_secret: {env: AIRGATE_CLIENT_SECRET}
policy:
  file: policy.yaml
upstream:
  url: http://127.0.0.1:8081
  airflow_version: 2
  username: airgate
  password: {file: airflow-password}
`

func TestParseValid(t *testing.T) {
	c, err := Parse(strings.NewReader(validYAML))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if c.Listen != "127.0.0.1:9000" || c.Upstream.AirflowVersion != 2 || c.Entra.ClockSkew.D().Minutes() != 2 || c.Audit.Mode != "strict" {
		t.Errorf("unexpected values after Parse: %+v", c)
	}
}

func TestValidateNamesFieldAndValue(t *testing.T) {
	tests := []struct {
		name   string
		edit   string // appended YAML overriding the valid config
		dev    bool
		want   []string
		notDev bool
	}{
		{name: "tenant not a guid", edit: "entra: {tenant_id: contoso, client_id: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee}", want: []string{`entra.tenant_id: "contoso" is not a GUID`}},
		{name: "listen", edit: "listen: 8080", want: []string{`listen: "8080" is not HOST:PORT`}},
		{name: "algorithm", edit: "entra: {tenant_id: 11111111-2222-3333-4444-555555555555, client_id: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, algorithms: [HS256]}", want: []string{`entra.algorithms[0]: "HS256" is not an asymmetric JWS algorithm`}},
		{name: "version", edit: "upstream: {url: http://x:1, airflow_version: 4}", want: []string{`upstream.airflow_version: "4" must be 2 or 3`}},
		{name: "insecure value outside dev", edit: "upstream: {url: http://x:1, airflow_version: 2, username: u, password: {insecure_value: hunter2}}", want: []string{"upstream.password.insecure_value: is refused outside dev mode"}},
		{name: "insecure skip verify", edit: "upstream: {url: http://x:1, airflow_version: 3, insecure_skip_verify: true}", want: []string{"upstream.insecure_skip_verify"}},
		{name: "proxy cidr", edit: "trusted_proxies: [10.0.0.0/33]", want: []string{`trusted_proxies[0]: "10.0.0.0/33" is not a CIDR`}},
		{name: "http authority", edit: "entra: {tenant_id: 11111111-2222-3333-4444-555555555555, client_id: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, authority: 'http://login'}", want: []string{`entra.authority: "http://login" must use https outside dev mode`}},
		{name: "audit mode", edit: "audit: {mode: yolo}", want: []string{`audit.mode: "yolo" must be "strict" or "fast"`}},
		{name: "auth manager", edit: "upstream: {url: http://x:1, airflow_version: 3, auth_manager: ldap}", want: []string{`upstream.auth_manager: "ldap"`}},
		{name: "airflow key without kid", edit: "upstream: {url: http://x:1, airflow_version: 3, airflow_keys: [{file: k.pem}]}", want: []string{"upstream.airflow_keys[0].kid: is required"}},
		{name: "two secret sources", edit: "upstream: {url: http://x:1, airflow_version: 2, username: u, password: {file: a, env: B}}", want: []string{"upstream.password: sets more than one"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(validYAML + "\n" + tc.edit + "\n"))
			if err != nil {
				// A repeated top-level key is a YAML error; build the case
				// from the edit alone on top of the defaults instead.
				c, err = Parse(strings.NewReader(tc.edit))
				if err != nil {
					t.Fatal(err)
				}
			}
			err = c.Validate()
			if err == nil {
				t.Fatal("Validate() = nil, want errors")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v\nwant it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("a secret value leaked into the error: %v", err)
			}
		})
	}
}

func TestParseRejectsUnknownFields(t *testing.T) {
	_, err := Parse(strings.NewReader("listen: 127.0.0.1:1\nupstrem: {url: x}\n"))
	if err == nil || !strings.Contains(err.Error(), "upstrem") {
		t.Fatalf("Parse() = %v, want an error naming the unknown field", err)
	}
	if _, err := Parse(strings.NewReader("entra: {clock_skew: soon}")); err == nil || !strings.Contains(err.Error(), `"soon" is not a duration`) {
		t.Fatalf("Parse() = %v, want a duration error", err)
	}
}

func TestLoadResolvesRelativePaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "airgate.yaml")
	if err := os.WriteFile(path, []byte(validYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "airflow-password"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Path(c.Policy.File); got != filepath.Join(dir, "policy.yaml") {
		t.Errorf("Path(policy) = %s", got)
	}
	if got := c.Path("postgres://u@h/db"); got != "postgres://u@h/db" {
		t.Errorf("Path(dsn) = %s", got)
	}
	v, err := c.Read(c.Upstream.Password)
	if err != nil || v != "s3cret" {
		t.Errorf("Read(password) = %q, %v", v, err)
	}
	t.Setenv("AIRGATE_CLIENT_SECRET", "")
	if _, err := c.Read(c.Entra.ClientSecret); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Read(unset env) = %v, want an error naming the variable", err)
	}
}
