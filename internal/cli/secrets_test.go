package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airgate/airgate/internal/airflowsim"
	"github.com/airgate/airgate/internal/idp"
	"github.com/airgate/airgate/internal/secrets/rotation"
)

// secretsFixture is the emulator, an Airflow 2 double and a config file
// pointing at both, as the demo's.
type secretsFixture struct {
	info    idp.ReadyInfo
	idp     *idp.Server
	upURL   string
	cfgPath string
}

func newSecretsFixture(t *testing.T, store string) *secretsFixture {
	t.Helper()
	f := &secretsFixture{}
	var err error
	if f.idp, err = idp.New(idp.Options{}); err != nil {
		t.Fatal(err)
	}
	if f.info, err = f.idp.Start(context.Background(), "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.idp.Close() })
	sim := airflowsim.New(airflowsim.Options{Username: "airgate-svc", Password: "svc-password-1"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: sim}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	f.upURL = "http://" + ln.Addr().String()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte("version: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	authority := strings.TrimSuffix(f.info.AuthorityHost, "/")
	cfg := fmt.Sprintf(`dev: true
entra:
  tenant_id: %s
  client_id: %s
  authority: %s
  graph_url: %s
  ca_file: %s
  client_secret: {insecure_value: %q}
policy: {file: policy.yaml}
upstream:
  url: %s
  airflow_version: 2
  username: airgate-svc
  password: {insecure_value: svc-password-1}
audit: {db: audit.db}
keys: {file: keys.json}
rotation:
  store: %s
  entra_client_secret: {overlap: 1h}
`, f.info.TenantID, f.info.Apps["airgate"].ClientID, authority, f.info.Graph, f.info.CAFile,
		f.info.Apps["airgate"].ClientSecret, f.upURL, store)
	f.cfgPath = filepath.Join(dir, "airgate.yaml")
	if err := os.WriteFile(f.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

type statusJSON struct {
	Store   string            `json:"store"`
	Secrets []rotation.Status `json:"secrets"`
}

func (f *secretsFixture) status(t *testing.T) statusJSON {
	t.Helper()
	out, errOut, code := run(t, "", "secrets", "status", "--config", f.cfgPath, "--json")
	if code != 0 {
		t.Fatalf("secrets status: exit %d: %s", code, errOut)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st
}

func (st statusJSON) get(name string) rotation.Status {
	for _, s := range st.Secrets {
		if s.Name == name {
			return s
		}
	}
	return rotation.Status{}
}

func TestSecretsRotateAgainstEmulator(t *testing.T) {
	f := newSecretsFixture(t, "file")
	initial := f.info.Apps["airgate"].ClientSecret

	st := f.status(t)
	if st.Store != "file" || len(st.Secrets) != 3 {
		t.Fatalf("status = %+v", st)
	}
	ent := st.get(rotation.NameEntra)
	if ent.Version != 1 || ent.Kind != "client-secret" || ent.Expires.IsZero() || ent.NextRotation.IsZero() || ent.Hint == "" {
		t.Fatalf("entra status = %+v", ent)
	}

	// Nothing is due yet; a dry run says what --force would do.
	out, errOut, code := run(t, "", "secrets", "rotate", "--config", f.cfgPath)
	if code != 0 || strings.Count(out, "not due") != 3 {
		t.Fatalf("rotate (not due): exit %d\n%s\n%s", code, out, errOut)
	}
	out, _, code = run(t, "", "secrets", "rotate", "--config", f.cfgPath, "--dry-run", "entra-client-secret", "--force")
	if code != 0 || !strings.Contains(out, "entra-client-secret: would rotate version 1") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}

	out, errOut, code = run(t, "", "secrets", "rotate", "--config", f.cfgPath, "--force", "entra-client-secret", "airflow-credential", "signing-key")
	if code != 0 {
		t.Fatalf("rotate --force: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"entra-client-secret: switched to version 2", "airflow-credential: rotated to version 2", "signing-key: rotated to version 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("rotate output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, initial) || strings.Contains(out+errOut, "svc-password-1") {
		t.Fatal("a secret was printed")
	}
	st = f.status(t)
	if e := st.get(rotation.NameEntra); e.Version != 2 || e.Pending != "switched" || e.LastResult != "switched" {
		t.Fatalf("entra after rotate = %+v", e)
	}
	if a := st.get(rotation.NameAirflow); a.Version != 2 || a.LastResult != "rotated" {
		t.Fatalf("airflow after rotate = %+v", a)
	}
	// The old Airflow password is refused by Airflow.
	req, _ := http.NewRequest("GET", f.upURL+"/api/v1/dags", nil)
	req.SetBasicAuth("airgate-svc", "svc-password-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("old Airflow password answered %d", resp.StatusCode)
	}
	// Within the overlap, a second run waits.
	out, _, _ = run(t, "", "secrets", "rotate", "--config", f.cfgPath, "entra-client-secret")
	if !strings.Contains(out, "in progress") {
		t.Fatalf("second rotate during the overlap:\n%s", out)
	}
	// The table names every secret.
	out, _, code = run(t, "", "secrets", "status", "--config", f.cfgPath)
	if code != 0 || !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "entra-client-secret") || !strings.Contains(out, "(open: switched)") {
		t.Fatalf("status table:\n%s", out)
	}
}

func TestSecretsRotateEnvStoreRefuses(t *testing.T) {
	f := newSecretsFixture(t, "env")
	out, errOut, code := run(t, "", "secrets", "rotate", "--config", f.cfgPath, "--force", "entra-client-secret")
	if code != 1 || !strings.Contains(out, "read-only") || !strings.Contains(errOut, "rotation failed") {
		t.Fatalf("rotate over env: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, _, code := run(t, "", "secrets", "rotate", "--config", f.cfgPath, "no-such-secret"); code != 2 {
		t.Fatalf("unknown name: exit %d, want 2", code)
	}
	st := f.status(t)
	if e := st.get(rotation.NameEntra); e.ReadOnly == "" || e.Version != 1 {
		t.Fatalf("env status = %+v", e)
	}
}
