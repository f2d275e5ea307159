package demo_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/demo"
	"github.com/airgate/airgate/internal/idp"
)

// The end-to-end suite: it builds the airgate binary once, runs `airgate
// demo` as a child process for Airflow 2 and for Airflow 3, and checks the
// demo policy's whole allow/deny matrix over the API for every demo user
// and the etl-agent app: the status airgate answers, what reached the
// Airflow double (through its demo-only request log), and the audit log
// (through `airgate audit query` and `airgate audit verify`). It also runs
// every command the demo prints, as printed.

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// airgateBinary builds cmd/airgate once per test binary run (with -race
// when the tests run with it, which reuses their compiled packages).
func airgateBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the end-to-end suite builds airgate and runs it as a child process")
	}
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "airgate-e2e-")
		if build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "airgate")
		args := []string{"build", "-o", build.bin}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "github.com/airgate/airgate/cmd/airgate")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

// childEnv is the environment of the child processes: a race-enabled
// binary otherwise sleeps a second at exit (GORACE atexit_sleep_ms).
func childEnv() []string {
	return append(os.Environ(), "GORACE=atexit_sleep_ms=0 halt_on_error=1")
}

// lockedBuffer collects a child's stderr, for failure messages and for
// waiting until the child logs something.
type lockedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{} // signalled (without blocking) after each write
}

func newLockedBuffer() *lockedBuffer { return &lockedBuffer{written: make(chan struct{}, 1)} }

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.written <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

// waitFor waits until the buffer holds s.
func (b *lockedBuffer) waitFor(s string, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for !strings.Contains(b.String(), s) {
		select {
		case <-b.written:
		case <-deadline:
			return false
		}
	}
	return true
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// demoProcess is a running `airgate demo` child process.
type demoProcess struct {
	bin    string
	cmd    *exec.Cmd
	ready  demo.Ready
	stdout string // the instructions it printed
	stderr *lockedBuffer
	exited chan struct{}
	err    error // set before exited closes
}

// startDemo runs `airgate demo --addr 127.0.0.1:0 --ready-file ...` and
// returns once it has printed its instructions. The process is interrupted
// at cleanup and must exit 0.
func startDemo(t *testing.T, bin string, version int) *demoProcess {
	t.Helper()
	tmp := t.TempDir()
	readyFile := filepath.Join(tmp, "ready.json")
	cmd := exec.Command(bin, "demo", "--addr", "127.0.0.1:0", "--ready-file", readyFile,
		"--airflow", fmt.Sprint(version), "--dir", filepath.Join(tmp, "demo"))
	p := &demoProcess{bin: bin, cmd: cmd, stderr: newLockedBuffer(), exited: make(chan struct{})}
	cmd.Env = childEnv()
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	printed := make(chan string, 1)
	go func() {
		var out strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Stop the demo with Ctrl-C") {
				printed <- out.String()
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
			if p.err != nil {
				t.Errorf("airgate demo exited with %v after an interrupt; stderr:\n%s", p.err, p.stderr)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-p.exited
			t.Errorf("airgate demo did not stop within 30s of an interrupt")
		}
	})
	select {
	case p.stdout = <-printed:
	case <-p.exited:
		t.Fatalf("airgate demo exited before it was ready: %v; stderr:\n%s", p.err, p.stderr)
	case <-time.After(2 * time.Minute):
		t.Fatalf("airgate demo printed no instructions within 2 minutes; stderr:\n%s", p.stderr)
	}
	b, err := os.ReadFile(readyFile)
	if err != nil {
		t.Fatalf("ready file: %v", err)
	}
	if err := json.Unmarshal(b, &p.ready); err != nil {
		t.Fatalf("ready file: %v: %s", err, b)
	}
	return p
}

// run runs an airgate command and returns its stdout, failing the test
// unless it exits 0.
func (p *demoProcess) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(p.bin, args...)
	cmd.Env = childEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("airgate %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return string(out)
}

// caller is a demo principal.
type caller struct {
	name  string // as the test names it
	user  string
	mfa   bool
	app   string
	actor string // who airgate tells Airflow the caller is
}

// access is what the demo policy gives a caller.
type access int

const (
	teamA  access = iota // read and trigger team_a_*
	viewer               // read everything
	admin                // everything
	denied               // nothing; every request is refused with reason
)

type principalCase struct {
	caller
	access access
	reason string // for denied
}

var principals = []principalCase{
	{caller: caller{name: "alice", user: "alice", actor: "alice@" + idp.DemoDomain}, access: teamA},
	{caller: caller{name: "bob", user: "bob", actor: "bob@" + idp.DemoDomain}, access: viewer},
	{caller: caller{name: "carol", user: "carol", actor: "carol@" + idp.DemoDomain}, access: denied, reason: "nested-membership-ignored"},
	{caller: caller{name: "dave", user: "dave", actor: "dave@" + idp.DemoDomain}, access: denied, reason: "mfa-required"},
	{caller: caller{name: "dave with MFA", user: "dave", mfa: true, actor: "dave@" + idp.DemoDomain}, access: admin},
	{caller: caller{name: "erin", user: "erin", actor: "erin@" + idp.DemoDomain}, access: denied, reason: "no-matching-role"},
	{caller: caller{name: "frank", user: "frank", actor: "frank@" + idp.DemoDomain}, access: teamA},
	{caller: caller{name: "etl-agent", app: "etl-agent", actor: idp.DemoETLAgentClientID}, access: teamA},
}

// operation is one API call of the matrix. path is relative to the API
// prefix.
type operation struct {
	name, method, path string
	trigger            bool
	dag                string // the DAG it is about; "" for none
	global             string // the global resource it needs, for non-DAG operations
}

var operations = []operation{
	{name: "list dags", method: "GET", path: "/dags"},
	{name: "read team_a_daily", method: "GET", path: "/dags/team_a_daily", dag: "team_a_daily"},
	{name: "read team_b_daily", method: "GET", path: "/dags/team_b_daily", dag: "team_b_daily"},
	{name: "list team_a_daily runs", method: "GET", path: "/dags/team_a_daily/dagRuns", dag: "team_a_daily"},
	{name: "list finance_report runs", method: "GET", path: "/dags/finance_report/dagRuns", dag: "finance_report"},
	{name: "trigger team_a_daily", method: "POST", path: "/dags/team_a_daily/dagRuns", trigger: true, dag: "team_a_daily"},
	{name: "trigger team_a_hourly", method: "POST", path: "/dags/team_a_hourly/dagRuns", trigger: true, dag: "team_a_hourly"},
	{name: "trigger team_b_daily", method: "POST", path: "/dags/team_b_daily/dagRuns", trigger: true, dag: "team_b_daily"},
	{name: "trigger finance_report", method: "POST", path: "/dags/finance_report/dagRuns", trigger: true, dag: "finance_report"},
	{name: "list connections", method: "GET", path: "/connections", global: "connections"},
	{name: "list variables", method: "GET", path: "/variables", global: "variables"},
}

var allDAGs = []string{"finance_report", "team_a_daily", "team_a_hourly", "team_b_daily"}

// expected is the demo policy's answer for one caller and operation.
type expected struct {
	status int
	reason string   // one of the decision's reasons, for denials
	dags   []string // for list dags: the DAGs shown, sorted
}

func expect(p principalCase, op operation) expected {
	teamADag := strings.HasPrefix(op.dag, "team_a_")
	switch p.access {
	case denied:
		return expected{status: 403, reason: p.reason}
	case admin:
		if op.path == "/dags" {
			return expected{status: 200, dags: allDAGs}
		}
		return expected{status: 200}
	case viewer:
		switch {
		case op.path == "/dags":
			return expected{status: 200, dags: allDAGs}
		case op.trigger, op.global != "":
			return expected{status: 403, reason: "permission-missing"}
		}
		return expected{status: 200}
	default: // teamA
		switch {
		case op.path == "/dags":
			return expected{status: 200, dags: []string{"team_a_daily", "team_a_hourly"}}
		case op.global != "":
			return expected{status: 403, reason: "permission-missing"}
		case !teamADag:
			return expected{status: 403, reason: "dag-not-in-scope"}
		}
		return expected{status: 200}
	}
}

// sent is one request the matrix made, for the audit checks.
type sent struct {
	id     string
	caller principalCase
	op     operation
	want   expected
}

func TestDemoEndToEnd(t *testing.T) {
	bin := airgateBinary(t)
	for _, version := range []int{2, 3} {
		t.Run(fmt.Sprintf("airflow%d", version), func(t *testing.T) {
			t.Parallel()
			p := startDemo(t, bin, version)
			r := p.ready
			checkReadyFile(t, r, version)
			t.Run("matrix", func(t *testing.T) { runMatrix(t, p, version) })
			t.Run("printed commands", func(t *testing.T) { runPrinted(t, p) })
			t.Run("SIGHUP reloads", func(t *testing.T) {
				if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
				if !p.stderr.waitFor("configuration and policy reloaded", 30*time.Second) {
					t.Fatalf("no reload logged after SIGHUP; stderr:\n%s", p.stderr)
				}
			})
			t.Run("secrets rotate against the emulator", func(t *testing.T) {
				names := []string{"entra-client-secret", "signing-key"}
				if version == 2 {
					names = append(names, "airflow-credential")
				}
				p.run(t, append([]string{"secrets", "rotate", "--config", r.Config, "--force"}, names...)...)
				status := p.run(t, "secrets", "status", "--config", r.Config, "--json")
				for _, n := range names {
					if !strings.Contains(status, `"`+n+`"`) {
						t.Errorf("secrets status lacks %s: %s", n, status)
					}
				}
				// The running gateway picks up the new versions: a request
				// needing Graph (alice's direct memberships) and the upstream
				// credential still succeeds once the gateway has re-read them.
				client, err := idp.NewClient(r.IdP)
				if err != nil {
					t.Fatal(err)
				}
				tok := tokenFor(t, client, caller{name: "alice", user: "alice"})
				api := "/api/v2"
				if version == 2 {
					api = "/api/v1"
				}
				deadline := time.Now().Add(20 * time.Second)
				for {
					status, _, body := call(t, r.Gateway, "GET", api+"/dags/team_a_daily", tok, "")
					if status == 200 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("after rotation: %d %s", status, body)
					}
					time.Sleep(200 * time.Millisecond)
				}
			})
			// Every command that takes --config works with the demo's
			// configuration while the demo runs.
			t.Run("config commands", func(t *testing.T) {
				api := "/api/v2"
				if version == 2 {
					api = "/api/v1"
				}
				for _, args := range [][]string{
					{"config", "check", "--config", r.Config},
					{"secrets", "status", "--config", r.Config},
					{"explain", "--config", r.Config, "--user", "erin@" + idp.DemoDomain, "GET", api + "/dags"},
					{"tokens", "revoke", "--config", r.Config, "--subject", "erin@" + idp.DemoDomain},
					{"audit", "export", "--config", r.Config, "--format", "jsonl"},
				} {
					if out := p.run(t, args...); strings.TrimSpace(out) == "" {
						t.Errorf("airgate %s printed nothing", strings.Join(args, " "))
					}
				}
			})
		})
	}
}

func checkReadyFile(t *testing.T, r demo.Ready, version int) {
	t.Helper()
	if r.AirflowVersion != version || !strings.HasPrefix(r.Gateway, "http://127.0.0.1:") || !strings.HasPrefix(r.Airflow, "http://127.0.0.1:") {
		t.Errorf("ready = %+v", r)
	}
	if strings.HasSuffix(r.Gateway, ":8080") || strings.HasSuffix(r.IdP.Authority, ":8443/"+idp.DemoTenantID) {
		t.Errorf("--addr 127.0.0.1:0 kept a default port: %s, %s", r.Gateway, r.IdP.Authority)
	}
	info, err := idp.ReadReadyFile(r.IdPReadyFile)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := mustJSON(t, info), mustJSON(t, r.IdP); a != b {
		t.Errorf("the ready file's idp differs from the emulator's ready file:\n%s\n%s", b, a)
	}
	cfg, err := config.Load(r.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Path(cfg.Policy.File) != r.Policy || cfg.Path(cfg.Audit.DB) != r.AuditDB || cfg.Upstream.AirflowVersion != version {
		t.Errorf("config does not match the ready file: policy %s, audit %s", cfg.Path(cfg.Policy.File), cfg.Path(cfg.Audit.DB))
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func runMatrix(t *testing.T, p *demoProcess, version int) {
	r := p.ready
	client, err := idp.NewClient(r.IdP)
	if err != nil {
		t.Fatal(err)
	}
	api, trigger := "/api/v2", `{"logical_date":null}`
	if version == 2 {
		api, trigger = "/api/v1", `{}`
	}
	var requests []sent
	for _, pc := range principals {
		token := tokenFor(t, client, pc.caller)
		for _, op := range operations {
			want := expect(pc, op)
			t.Run(pc.name+"/"+op.name, func(t *testing.T) {
				body := ""
				if op.trigger {
					body = trigger
				}
				status, header, respBody := call(t, r.Gateway, op.method, api+op.path, token, body)
				id := header.Get("X-Request-Id")
				requests = append(requests, sent{id: id, caller: pc, op: op, want: want})
				if status != want.status {
					t.Fatalf("%s %s = %d, want %d: %s", op.method, op.path, status, want.status, respBody)
				}
				reached := requestLog(t, r, id)
				if want.status != 200 {
					var e struct {
						Code    string
						Reasons []string
					}
					if err := json.Unmarshal(respBody, &e); err != nil || e.Code != "forbidden" || !slices.Contains(e.Reasons, want.reason) {
						t.Errorf("denial body = %s, want code forbidden and reason %s", respBody, want.reason)
					}
					if len(reached) != 0 {
						t.Errorf("a denied request reached Airflow: %+v", reached)
					}
					return
				}
				if want.dags != nil {
					if got := dagIDs(t, respBody); !slices.Equal(got, want.dags) {
						t.Errorf("DAGs listed = %v, want %v", got, want.dags)
					}
				}
				if len(reached) == 0 {
					t.Fatal("an allowed request did not reach Airflow")
				}
				for _, rq := range reached {
					checkForwarded(t, version, pc.caller, token, rq)
				}
				if op.trigger {
					if len(reached) != 1 || !strings.Contains(reached[0].Body, pc.actor) {
						t.Errorf("the triggered run's note does not name %s: %+v", pc.actor, reached)
					}
				}
			})
		}
	}
	t.Run("audit", func(t *testing.T) { checkAudit(t, p, requests) })
}

// checkForwarded checks one request the double received for caller: with
// airgate's credential, never the caller's, naming the caller.
func checkForwarded(t *testing.T, version int, c caller, token string, rq demo.RecordedRequest) {
	t.Helper()
	if rq.Credential == "" || rq.Credential == audit.TokenFingerprint(token) {
		t.Errorf("credential at Airflow = %q: want airgate's, never the caller's", rq.Credential)
	}
	if version == 2 {
		if rq.User != demo.ServiceAccount || rq.AirgateUser != c.actor {
			t.Errorf("Airflow 2 saw user %q, X-Airgate-User %q; want %s and %s", rq.User, rq.AirgateUser, demo.ServiceAccount, c.actor)
		}
		return
	}
	if rq.Subject != c.actor {
		t.Errorf("Airflow 3 JWT sub = %q, want %s", rq.Subject, c.actor)
	}
	if !slices.Contains([]string{"viewer", "user", "op", "admin"}, rq.Role) {
		t.Errorf("Airflow 3 JWT role = %q, want one of the simple auth manager's roles", rq.Role)
	}
}

// checkAudit reads the demo's audit log through the CLI while the demo
// runs: every request of the matrix has its decision, with its reasons for
// denials and an outcome for what was forwarded, and the chain verifies.
func checkAudit(t *testing.T, p *demoProcess, requests []sent) {
	cfg := p.ready.Config
	out := p.run(t, "audit", "query", "--config", cfg, "--format", "json")
	decisions := map[string]audit.Record{}
	outcomes := map[string]audit.Record{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec audit.Record
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("audit query line %q: %v", line, err)
		}
		switch rec.Kind {
		case audit.KindDecision:
			decisions[rec.RequestID] = rec
		case audit.KindOutcome:
			outcomes[rec.RequestID] = rec
		}
	}
	for _, s := range requests {
		d, ok := decisions[s.id]
		if !ok {
			t.Errorf("%s/%s (request %s): no decision record", s.caller.name, s.op.name, s.id)
			continue
		}
		wantDecision := audit.DecisionAllow
		if s.want.status != 200 {
			wantDecision = audit.DecisionDeny
		}
		if d.Decision != wantDecision || d.Method != s.op.method || (s.op.dag != "" && d.DAGID != s.op.dag) {
			t.Errorf("%s/%s: decision record %+v, want %s", s.caller.name, s.op.name, d, wantDecision)
		}
		if wantDecision == audit.DecisionDeny && !slices.Contains(d.Reasons, s.want.reason) {
			t.Errorf("%s/%s: denial recorded with reasons %v, want %s", s.caller.name, s.op.name, d.Reasons, s.want.reason)
		}
		if strings.HasPrefix(d.TokenFingerprint, "eyJ") {
			t.Errorf("record %d holds a token", d.Seq)
		}
		o, forwarded := outcomes[s.id]
		if forwarded != (wantDecision == audit.DecisionAllow) {
			t.Errorf("%s/%s: outcome record present = %v for a %s", s.caller.name, s.op.name, forwarded, wantDecision)
		}
		if forwarded && (o.Status != 200 || o.Ref != d.Seq || (s.op.trigger && o.DAGRunID == "")) {
			t.Errorf("%s/%s: outcome %+v for decision %d", s.caller.name, s.op.name, o, d.Seq)
		}
	}
	denials := p.run(t, "audit", "query", "--config", cfg, "--decision", "deny", "--user", "erin@"+idp.DemoDomain, "--format", "json")
	if n := strings.Count(strings.TrimSpace(denials), "\n") + 1; n < len(operations) {
		t.Errorf("audit query --decision deny --user erin found %d records, want at least %d", n, len(operations))
	}
	if v := p.run(t, "audit", "verify", "--config", cfg); !strings.HasPrefix(v, "ok: ") {
		t.Errorf("audit verify = %q", v)
	}
}

// runPrinted runs every example the demo printed, exactly as printed, in
// sh, and checks the answer it promised.
func runPrinted(t *testing.T, p *demoProcess) {
	for _, tool := range []string{"sh", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("the printed commands need %s: install it in .ci/run", tool)
			}
			t.Skipf("the printed commands need %s, which is not installed", tool)
		}
	}
	exs, err := demo.ParseExamples(strings.NewReader(p.stdout))
	if err != nil {
		t.Fatal(err)
	}
	if want := demo.Examples(p.ready, demo.ShellQuote(p.bin)); len(exs) != len(want) {
		t.Fatalf("parsed %d printed examples, want %d:\n%s", len(exs), len(want), p.stdout)
	}
	if !strings.Contains(p.stdout, "open "+p.ready.Gateway+"/") {
		t.Errorf("the instructions do not name the browser URL %s/", p.ready.Gateway)
	}
	t.Run("the browser URL leads to the emulator's sign-in", func(t *testing.T) { checkBrowserURL(t, p.ready) })
	for _, e := range exs {
		t.Run(e.Title, func(t *testing.T) {
			script := strings.Join(e.Lines, "\n")
			cmd := exec.Command("sh", "-c", script)
			cmd.Env = childEnv()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if e.Status == 0 {
				if err != nil {
					t.Fatalf("%s\nfailed: %v\n%s%s", script, err, out, stderr.Bytes())
				}
				return
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if got := lines[len(lines)-1]; got != fmt.Sprint(e.Status) {
				t.Fatalf("%s\nanswered %s, printed %s\n%s%s", script, got, e.Expect(), out, stderr.Bytes())
			}
			if e.Reason != "" && !strings.Contains(string(out), `"`+e.Reason+`"`) {
				t.Errorf("%s\nanswer does not name %s:\n%s", script, e.Reason, out)
			}
		})
	}
}

// checkBrowserURL follows the printed browser URL as a browser would, up to
// the emulator's authorize endpoint: sign-in with PKCE, back to the
// gateway's callback. (The browser tests drive a real Chromium through it.)
func checkBrowserURL(t *testing.T, r demo.Ready) {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := r.Gateway + "/"
	for hop := 0; hop < 3 && strings.HasPrefix(next, r.Gateway); hop++ {
		req, _ := http.NewRequest(http.MethodGet, next, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if resp.StatusCode != http.StatusFound || err != nil {
			t.Fatalf("GET %s = %d (Location %v): want a redirect towards sign-in", next, resp.StatusCode, err)
		}
		next = loc.String()
	}
	u, err := url.Parse(next)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if base := u.Scheme + "://" + u.Host + u.Path; base != r.IdP.AuthorizeEndpoint {
		t.Errorf("sign-in goes to %s, want the emulator's %s", base, r.IdP.AuthorizeEndpoint)
	}
	if q.Get("redirect_uri") != r.Gateway+"/oauth2/callback" || q.Get("code_challenge_method") != "S256" ||
		q.Get("state") == "" || q.Get("nonce") == "" || q.Get("client_id") != r.IdP.Apps["airgate"].ClientID {
		t.Errorf("authorize request %s: want airgate's client id, the gateway's callback, PKCE, state and nonce", u.RawQuery)
	}
}

func tokenFor(t *testing.T, client *idp.Client, c caller) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var tok *idp.Token
	var err error
	scope := idp.DemoAirgateAppIDURI + "/access_as_user"
	switch {
	case c.app != "":
		tok, err = client.ClientCredentials(ctx, c.app, idp.DemoAirgateAppIDURI+"/.default")
	case c.mfa:
		tok, err = client.AuthCode(ctx, "airgate", c.user, true, scope)
	default:
		tok, err = client.Password(ctx, "airgate", c.user, scope)
	}
	if err != nil {
		t.Fatalf("token for %s: %v", c.name, err)
	}
	return tok.AccessToken
}

func call(t *testing.T, base, method, path, token, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Fatalf("%s %s: no X-Request-Id", method, path)
	}
	return resp.StatusCode, resp.Header, b
}

func requestLog(t *testing.T, r demo.Ready, id string) []demo.RecordedRequest {
	t.Helper()
	resp, err := http.Get(r.Airflow + demo.RequestsPath + "?request_id=" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct{ Requests []demo.RecordedRequest }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v.Requests
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
		t.Fatalf("DAG list: %v: %s", err, body)
	}
	var ids []string
	for _, d := range v.DAGs {
		ids = append(ids, d.DAGID)
	}
	slices.Sort(ids)
	if v.Total != len(ids) {
		t.Errorf("total_entries = %d for %d DAGs listed", v.Total, len(ids))
	}
	return ids
}
