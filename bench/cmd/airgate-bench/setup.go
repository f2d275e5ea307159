package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/airgate/airgate/internal/idp"
)

// issuer is the embedded Entra ID emulator: it signs the callers' tokens,
// serves its JWKS, and answers airgate's Microsoft Graph membership calls.
type issuer struct {
	srv  *idp.Server
	info idp.ReadyInfo
}

func startIssuer(ctx context.Context) (*issuer, error) {
	srv, err := idp.New(idp.Options{TokenLifetime: 6 * time.Hour})
	if err != nil {
		return nil, err
	}
	info, err := srv.Start(ctx, "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return nil, err
	}
	return &issuer{srv: srv, info: info}, nil
}

func (is *issuer) Close() { is.srv.Close() }

// benchUser is the caller: a direct member of airflow-team-a-operators in
// the emulator's demo tenant, reading team A's DAG.
const benchUser = "alice"

// userToken gets a real v2 access token for benchUser through the
// emulator's token endpoint.
func (is *issuer) userToken(ctx context.Context) (string, error) {
	c, err := idp.NewClient(is.info)
	if err != nil {
		return "", err
	}
	tok, err := c.Password(ctx, "airgate", benchUser, "api://airgate/access_as_user")
	if err != nil {
		return "", fmt.Errorf("token for %s: %w", benchUser, err)
	}
	return tok.AccessToken, nil
}

// mintTokens writes n distinct tokens, one a line, to path: the claims of
// base with a fresh uti (Entra's unique token id) each, signed by the
// emulator's key on every core. A token is about as costly to sign
// (RSA-2048, ~1 ms) as 40 verifications, which is why the pool is
// pre-minted and sized rather than endless.
func (is *issuer) mintTokens(ctx context.Context, base string, n int, path string) error {
	parts := strings.Split(base, ".")
	if len(parts) != 3 {
		return errors.New("base token is not a JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	var claims map[string]any
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return err
	}
	out := make([]string, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := make(map[string]any, len(claims))
			for k, v := range claims {
				c[k] = v
			}
			var id [12]byte
			for i := w; i < n; i += workers {
				if ctx.Err() != nil {
					return
				}
				_, _ = rand.Read(id[:])
				c["uti"] = base64.RawURLEncoding.EncodeToString(id[:])
				tok, err := is.srv.SignClaims(c, false)
				if err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
					return
				}
				out[i] = tok
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	for _, t := range out {
		bw.WriteString(t)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// benchPolicy is a realistic policy: team A's operator role with a DAG
// glob, an MFA-gated admin role (the one CEL condition), and ten more team
// roles with globs, mapped from Entra groups (direct membership, resolved
// through Graph and cached) and an app role.
func benchPolicy() string {
	var b strings.Builder
	b.WriteString(`version: 1
roles:
  team-a-operator:
    description: Read and trigger team A's DAGs
    permissions:
      - {resource: "DAGs", actions: [can_read, can_edit]}
      - {resource: "DAG Runs", actions: [can_read, can_create]}
      - {resource: "Task Instances", actions: [can_read]}
      - {resource: "DAG", actions: [GET]}
      - {resource: "DAG.RUN", actions: [GET, POST]}
      - {resource: "DAG.TASK_INSTANCE", actions: [GET]}
    dags: ["team_a_*"]
  admin-with-mfa:
    description: Airflow's Admin, only after multi-factor sign-in
    extends: [Admin]
    when: "'mfa' in principal.amr"
    deny_reason: mfa-required
`)
	teams := "bcdefghijk"
	for _, t := range teams {
		fmt.Fprintf(&b, `  team-%c-operator:
    extends: [Viewer]
    permissions:
      - {resource: "DAGs", actions: [can_read, can_edit]}
      - {resource: "DAG Runs", actions: [can_read, can_create]}
      - {resource: "DAG", actions: [GET]}
      - {resource: "DAG.RUN", actions: [GET, POST]}
    dags: ["team_%c_*", "shared_%c_*"]
`, t, t, t)
	}
	fmt.Fprintf(&b, `mappings:
  - group: %s
    name: airflow-viewers
    roles: [Viewer]
  - group: %s
    name: airflow-team-a-operators
    roles: [team-a-operator]
  - group: %s
    name: airflow-admins
    roles: [admin-with-mfa]
  - app_role: Airflow.Operator
    roles: [team-a-operator]
`, idp.DemoGroupViewersID, idp.DemoGroupTeamAOperatorsID, idp.DemoGroupAdminsID)
	for i, t := range teams {
		fmt.Fprintf(&b, "  - group: 5e0c0%03d-0000-4000-8000-000000000001\n    name: team-%c\n    roles: [team-%c-operator]\n", i, t, t)
	}
	return b.String()
}

// gateway is one airgate process.
type gateway struct {
	name   string
	url    string
	dbPath string
	cmd    *exec.Cmd
	done   chan struct{}
}

func (g *gateway) pid() int { return g.cmd.Process.Pid }

// writeGatewayConfig writes airgate's configuration for one audit mode.
func writeGatewayConfig(o *options, is *issuer, upstream, mode string) (string, error) {
	dir := filepath.Join(o.work, "airgate-"+mode)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	app := is.info.Apps["airgate"]
	files := map[string]string{
		"policy.yaml":      benchPolicy(),
		"entra-secret":     app.ClientSecret + "\n",
		"airflow-password": "svc-password-1\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return "", err
		}
	}
	authority := strings.TrimSuffix(is.info.AuthorityHost, "/")
	cfg := fmt.Sprintf(`# airgate-bench: %s audit mode
listen: 127.0.0.1:0
dev: %t
entra:
  tenant_id: %s
  client_id: %s
  client_secret: {file: entra-secret}
  audiences: ["api://airgate", %q]
  authority: %s
  issuer_v1: %s/{tenantid}/
  graph_url: %s
  ca_file: %s
policy:
  file: policy.yaml
upstream:
  url: %s
  airflow_version: %d
  username: airgate-svc
  password: {file: airflow-password}
audit:
  db: audit.db
  mode: %s
keys:
  file: keys.json
log:
  requests: %t
`, mode, o.profile != "", is.info.TenantID, app.ClientID, app.ClientID, authority, authority, is.info.Graph, is.info.CAFile,
		upstream, o.airflow, mode, o.requestLogs)
	path := filepath.Join(dir, "airgate.yaml")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// startGateway runs `airgate serve` pinned to the server core and waits
// until it listens.
func startGateway(ctx context.Context, o *options, pin pinner, cfgPath, name string) (*gateway, error) {
	dir := filepath.Dir(cfgPath)
	ready := filepath.Join(dir, "ready.json")
	os.Remove(ready)
	logf, err := os.Create(filepath.Join(dir, "airgate.log"))
	if err != nil {
		return nil, err
	}
	cmd := pin.command(ctx, o.serverCPU, o.airgate, "serve", "--config", cfgPath, "--ready-file", ready)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = os.Environ()
	if o.gomemlimit != "" {
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+o.gomemlimit)
	}
	cmd.Env = append(cmd.Env, o.airgateEnv...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 20 * time.Second
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	g := &gateway{name: name, dbPath: filepath.Join(dir, "audit.db"), cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(g.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(ready)
		if err == nil && len(b) > 0 {
			var r struct{ URL string }
			if json.Unmarshal(b, &r) == nil && r.URL != "" {
				g.url = r.URL
				return g, nil
			}
		}
		select {
		case <-g.done:
			return nil, fmt.Errorf("airgate (%s) exited before it was ready: see %s", name, filepath.Join(dir, "airgate.log"))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			g.stop()
			return nil, fmt.Errorf("airgate (%s) not ready after 60s: see %s", name, filepath.Join(dir, "airgate.log"))
		}
	}
}

func (g *gateway) stop() {
	_ = g.cmd.Process.Signal(os.Interrupt)
	select {
	case <-g.done:
	case <-time.After(20 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.done
	}
}

// child is a server process of the harness itself (upstream, reference).
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addrs []string
}

// startChild runs this binary's subcommand pinned to the server core and
// reads the addresses it prints.
func startChild(ctx context.Context, o *options, pin pinner, args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := pin.command(ctx, o.serverCPU, self, args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("%s did not start: %w", args[0], err)
	}
	return &child{cmd: cmd, stdin: stdin, addrs: strings.Fields(line)}, nil
}

func (c *child) stop() {
	c.stdin.Close()
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

// pinner runs commands on one core with taskset, or unpinned when taskset
// is missing (the report says so).
type pinner struct{ taskset string }

func (p pinner) command(ctx context.Context, cpu int, name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if p.taskset == "" {
		cmd = exec.CommandContext(ctx, name, args...)
	} else {
		cmd = exec.CommandContext(ctx, p.taskset, append([]string{"-c", strconv.Itoa(cpu), name}, args...)...)
	}
	// Children go with the harness even when it is killed outright.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	return cmd
}

// get fetches a URL on loopback with a bounded body.
func get(ctx context.Context, url string, header http.Header) (int, []byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, b, err
}
