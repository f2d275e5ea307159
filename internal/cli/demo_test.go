package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/demo"
	"github.com/airgate/airgate/internal/idp"
)

func TestDemoUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"bad airflow version", []string{"demo", "--airflow", "4"}},
		{"address without port", []string{"demo", "--addr", "8080"}},
		{"bad emulator address", []string{"demo", "--idp-addr", "localhost"}},
		{"stray argument", []string{"demo", "now"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := Main(context.Background(), tc.args, Stdio{Out: &bytes.Buffer{}, Err: &stderr})
			if code != 2 {
				t.Errorf("exit code = %d, want 2; stderr: %s", code, stderr.String())
			}
		})
	}
}

// TestDemoCommand runs `airgate demo --addr 127.0.0.1:0 --ready-file`
// in-process: the ready file has every field the contract names, the
// files it points at are usable with the --config commands, the
// instructions are printed, and cancellation stops it cleanly and removes
// its temporary directory.
func TestDemoCommand(t *testing.T) {
	readyFile := filepath.Join(t.TempDir(), "ready.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := newPrintedWriter(), &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"demo", "--addr", "127.0.0.1:0", "--ready-file", readyFile}, Stdio{Out: stdout, Err: stderr})
	}()

	// The ready file is written before the instructions are printed.
	select {
	case <-stdout.printed:
	case code := <-done:
		t.Fatalf("demo exited with %d before it was ready: %s", code, stderr.String())
	case <-time.After(time.Minute):
		t.Fatalf("demo not ready within a minute: %s", stderr.String())
	}
	raw, err := os.ReadFile(readyFile)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"gateway", "airflow", "idp", "audit_db", "policy", "config"} {
		if len(fields[k]) == 0 || string(fields[k]) == `""` {
			t.Errorf("ready file lacks %q: %s", k, raw)
		}
	}
	var r demo.Ready
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	if r.AirflowVersion != 3 || !r.TempDir {
		t.Errorf("ready = %+v, want Airflow 3 in a temporary directory", r)
	}
	info, err := idp.ReadReadyFile(r.IdPReadyFile)
	if err != nil || info.Authority != r.IdP.Authority {
		t.Errorf("idp ready file: %+v, %v", info, err)
	}
	if _, err := loadConfig(r.Config); err != nil {
		t.Errorf("the demo's config does not load: %v", err)
	}
	for _, want := range []string{r.Gateway, r.Airflow, r.IdPReadyFile, "expect 403 dag-not-in-scope", "--config " + r.Config} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("instructions lack %q", want)
		}
	}

	// `idp token` works with the demo's emulator ready file, and the
	// token works through the gateway.
	var tok bytes.Buffer
	if code := Main(ctx, []string{"idp", "token", "--ready-file", r.IdPReadyFile, "--user", "bob"}, Stdio{Out: &tok, Err: stderr}); code != 0 {
		t.Fatalf("idp token exit %d: %s", code, stderr.String())
	}
	req, _ := http.NewRequest(http.MethodGet, r.Gateway+"/api/v2/dags", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok.String()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("bob lists DAGs through the demo: %d", resp.StatusCode)
	}
	// The audit commands read the demo's log through its config.
	var verify bytes.Buffer
	if code := Main(ctx, []string{"audit", "verify", "--config", r.Config}, Stdio{Out: &verify, Err: &bytes.Buffer{}}); code != 0 || !strings.HasPrefix(verify.String(), "ok: ") {
		t.Errorf("audit verify --config = %d: %s", code, verify.String())
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("demo exit code after cancellation = %d: %s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30s of cancellation")
	}
	if _, err := os.Stat(r.Dir); !os.IsNotExist(err) {
		t.Errorf("the demo's temporary directory remains: %v", err)
	}
}

// TestDemoKeepsDir checks --dir: the files stay after the demo stops, and a
// second run in the same directory continues the same audit chain.
func TestDemoKeepsDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	for run := 1; run <= 2; run++ {
		ctx, cancel := context.WithCancel(context.Background())
		readyFile := filepath.Join(t.TempDir(), "ready.json")
		stdout := newPrintedWriter()
		done := make(chan int, 1)
		go func() {
			done <- Main(ctx, []string{"demo", "--addr", "127.0.0.1:0", "--airflow", "2", "--dir", dir, "--ready-file", readyFile},
				Stdio{Out: stdout, Err: &lockedBuffer{}})
		}()
		select {
		case <-stdout.printed:
		case code := <-done:
			cancel()
			t.Fatalf("run %d: demo exited with %d", run, code)
		}
		if !strings.Contains(stdout.String(), "/api/v1/") || strings.Contains(stdout.String(), "removed on exit") {
			t.Errorf("run %d: instructions for Airflow 2 in a kept directory expected:\n%s", run, stdout.String())
		}
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("run %d: exit code %d", run, code)
		}
	}
	cfg, err := config.Load(filepath.Join(dir, demo.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Upstream.AirflowVersion != 2 {
		t.Errorf("kept config has Airflow %d", cfg.Upstream.AirflowVersion)
	}
	var verify bytes.Buffer
	if code := Main(context.Background(), []string{"audit", "verify", "--config", filepath.Join(dir, demo.ConfigFile)},
		Stdio{Out: &verify, Err: &bytes.Buffer{}}); code != 0 {
		t.Errorf("audit verify after two runs = %d: %s", code, verify.String())
	}
}

// printedWriter collects the demo's stdout and closes printed once the
// instructions are complete.
type printedWriter struct {
	lockedBuffer
	once    sync.Once
	printed chan struct{}
}

func newPrintedWriter() *printedWriter { return &printedWriter{printed: make(chan struct{})} }

func (w *printedWriter) Write(p []byte) (int, error) {
	n, err := w.lockedBuffer.Write(p)
	if strings.Contains(w.String(), "Stop the demo with Ctrl-C") {
		w.once.Do(func() { close(w.printed) })
	}
	return n, err
}

func TestDemoBusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stderr bytes.Buffer
	code := Main(context.Background(), []string{"demo", "--addr", ln.Addr().String(), "--idp-addr", "127.0.0.1:0", "--airflow-addr", "127.0.0.1:0"},
		Stdio{Out: &bytes.Buffer{}, Err: &stderr})
	if code != 1 || !strings.Contains(stderr.String(), "--addr 127.0.0.1:0") {
		t.Errorf("demo on a busy address: exit %d, stderr %q; want 1 and a hint", code, stderr.String())
	}
}

func TestSelfCommand(t *testing.T) {
	// A test binary is neither on PATH nor run from the module root.
	got := selfCommand()
	exe, _ := os.Executable()
	if got == "" || (got != "airgate" && !strings.Contains(got, filepath.Base(exe))) {
		t.Errorf("selfCommand() = %q for %s", got, exe)
	}
}
