package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/airflowsim"
	"github.com/airgate/airgate/internal/idp"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeReloadsOnSIGHUP runs `airgate serve` in-process against the
// emulator and the Airflow double, changes the policy, sends SIGHUP, and
// checks that the new policy applies without a restart, then shuts down
// gracefully on cancellation.
func TestServeReloadsOnSIGHUP(t *testing.T) {
	em, err := idp.New(idp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := em.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	af := airflowsim.New(airflowsim.Options{Username: "svc", Password: "pw"})
	upLn, _ := net.Listen("tcp", "127.0.0.1:0")
	up := &http.Server{Handler: af}
	go up.Serve(upLn)
	defer up.Close()

	dir := t.TempDir()
	pol := mustRead(t, demoPolicy)
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("policy.yaml", pol)
	write("secret", []byte(info.Apps["airgate"].ClientSecret))
	write("pw", []byte("pw"))
	authority := strings.TrimSuffix(info.AuthorityHost, "/")
	write("airgate.yaml", []byte(fmt.Sprintf(`
listen: 127.0.0.1:0
dev: true
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
upstream: {url: "http://%s", airflow_version: 2, username: svc, password: {file: pw}}
audit: {db: audit.db}
keys: {file: keys.json}
`, info.TenantID, info.Apps["airgate"].ClientID, info.Apps["airgate"].ClientID, authority, authority, info.Graph, info.CAFile, upLn.Addr())))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr lockedBuffer
	done := make(chan int, 1)
	ready := filepath.Join(dir, "ready.json")
	go func() {
		done <- Main(ctx, []string{"serve", "--config", filepath.Join(dir, "airgate.yaml"), "--ready-file", ready}, Stdio{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &stderr})
	}()
	var addr struct{ URL string }
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(ready); err == nil && json.Unmarshal(b, &addr) == nil {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	client, err := idp.NewClient(info)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := client.Password(context.Background(), "airgate", "alice", "api://airgate/access_as_user")
	if err != nil {
		t.Fatal(err)
	}
	get := func() int {
		req, _ := http.NewRequest("GET", addr.URL+"/api/v1/dags/team_b_daily", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(); got != 403 {
		t.Fatalf("alice reads team B before reload = %d, want 403", got)
	}
	write("policy.yaml", bytes.Replace(pol, []byte("    roles: [team-a-operator]\n  - group: 1a0c0001"), []byte("    roles: [team-a-operator, Viewer]\n  - group: 1a0c0001"), 1))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline = time.Now().Add(10 * time.Second); get() != 200; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("policy not reloaded after SIGHUP: %s", stderr.String())
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exit = %d: %s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if !strings.Contains(stderr.String(), `"msg":"config reloaded"`) {
		t.Errorf("no reload logged: %s", stderr.String())
	}
	// Request lines, written in batches, are all out once serve has
	// stopped, whole lines among the others.
	requests := 0
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var entry struct {
			Msg    string `json:"msg"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if entry.Msg == "request" {
			requests++
			if entry.Status != 200 && entry.Status != 403 {
				t.Errorf("request line with status %d: %s", entry.Status, line)
			}
		}
	}
	if requests < 2 {
		t.Errorf("%d request lines logged, want one per request (at least 2): %s", requests, stderr.String())
	}
	out, errOut, code := run(t, "", "audit", "verify", "--config", filepath.Join(dir, "airgate.yaml"))
	if code != 0 || strings.Contains(errOut, "warning") || !strings.HasPrefix(out, "ok: ") {
		t.Errorf("audit verify after serve = %d: %s %s", code, out, errOut)
	}
}
