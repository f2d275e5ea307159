package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/idp"
)

// The whole gateway pipeline in process, for allocations and CPU profiles
// of the hot path (issue 9): a cached Entra token, Graph memberships from
// the cache, a dozen roles with DAG globs and one CEL condition, the
// decision and outcome records on SQLite, and the proxy to an upstream
// over loopback answering like Airflow's GET /api/v1/dags/{dag_id}. The
// end-to-end figures against a bare reverse proxy come from bench/run.sh.
//
//	go test -run XXX -bench Gateway -benchmem ./internal/server
//	go test -run XXX -bench Gateway/fast -cpuprofile cpu.out ./internal/server

const benchDAGBody = `{"dag_id":"team_a_etl","description":"Nightly ETL for team A","fileloc":"/opt/airflow/dags/team_a_etl.py","is_active":true,"is_paused":false,"owners":["team-a"],"schedule_interval":{"__type":"CronExpression","value":"0 2 * * *"},"tags":[{"name":"team-a"}],"max_active_runs":16,"next_dagrun":"2024-05-02T02:00:00+00:00"}` + "\n"

const benchPolicyYAML = `version: 1
roles:
  team-a-operator:
    permissions:
      - {resource: "DAGs", actions: [can_read, can_edit]}
      - {resource: "DAG Runs", actions: [can_read, can_create]}
      - {resource: "DAG", actions: [GET]}
      - {resource: "DAG.RUN", actions: [GET, POST]}
    dags: ["team_a_*"]
  admin-with-mfa:
    extends: [Admin]
    when: "'mfa' in principal.amr"
    deny_reason: mfa-required
%TEAMS%mappings:
  - {group: 1a0c0003-0000-4000-8000-0000000000a3, roles: [Viewer]}
  - {group: 1a0c0002-0000-4000-8000-0000000000a2, roles: [team-a-operator]}
  - {group: 1a0c0001-0000-4000-8000-0000000000a1, roles: [admin-with-mfa]}
  - {app_role: Airflow.Operator, roles: [team-a-operator]}
%MAPPINGS%`

func benchPolicy() string {
	var teams, maps strings.Builder
	for i, t := range "bcdefghijk" {
		teams.WriteString("  team-" + string(t) + "-operator:\n    extends: [Viewer]\n    permissions:\n      - {resource: \"DAGs\", actions: [can_read, can_edit]}\n    dags: [\"team_" + string(t) + "_*\", \"shared_" + string(t) + "_*\"]\n")
		maps.WriteString("  - {group: 5e0c000" + string(rune('0'+i)) + "-0000-4000-8000-000000000001, roles: [team-" + string(t) + "-operator]}\n")
	}
	return strings.NewReplacer("%TEAMS%", teams.String(), "%MAPPINGS%", maps.String()).Replace(benchPolicyYAML)
}

// benchGateway is airgate in front of a fixed-answer upstream.
type benchGateway struct {
	h     http.Handler
	gw    *Server
	token string
}

func newBenchGateway(b *testing.B, mode string) *benchGateway {
	b.Helper()
	em, err := idp.New(idp.Options{TokenLifetime: 3 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	info, err := em.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { em.Close() })
	c, err := idp.NewClient(info)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := c.Password(context.Background(), "airgate", "alice", "api://airgate/access_as_user")
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(benchDAGBody)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"application/json"}
		_, _ = w.Write(body)
	}))
	b.Cleanup(up.Close)

	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(benchPolicy()), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	cfg.SetDir(dir)
	cfg.Dev = true
	cfg.Entra.TenantID = info.TenantID
	cfg.Entra.ClientID = info.Apps["airgate"].ClientID
	cfg.Entra.Audiences = []string{"api://airgate", cfg.Entra.ClientID}
	cfg.Entra.Authority = strings.TrimSuffix(info.AuthorityHost, "/")
	cfg.Entra.IssuerV1 = strings.TrimSuffix(info.AuthorityHost, "/") + "/{tenantid}/"
	cfg.Entra.GraphURL = info.Graph
	cfg.Entra.CAFile = info.CAFile
	cfg.Entra.ClientSecret = config.Secret{InsecureValue: info.Apps["airgate"].ClientSecret}
	cfg.Policy.File = "policy.yaml"
	cfg.Upstream.URL = up.URL
	cfg.Upstream.AirflowVersion = 2
	cfg.Upstream.Username = svcUser
	cfg.Upstream.Password = config.Secret{InsecureValue: svcPassword}
	cfg.Audit.DB = filepath.Join(dir, "audit.db")
	cfg.Audit.Mode = mode
	cfg.Keys.File = filepath.Join(dir, "keys.json")
	// Request logs stay on (the default), formatted and discarded.
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	gw, err := New(context.Background(), cfg, Options{Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { gw.Close() })
	g := &benchGateway{h: gw.Handler(), gw: gw, token: tok.AccessToken}
	if w := g.serve(); w.status != http.StatusOK || string(w.body) != benchDAGBody {
		b.Fatalf("GET through airgate = %d %s, want 200 and the DAG", w.status, w.body)
	}
	return g
}

// discardWriter is a ResponseWriter that keeps the status and the body of
// one response and costs next to nothing.
type discardWriter struct {
	h      http.Header
	status int
	body   []byte
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

// Flush lets the proxy flush as it does on a real connection.
func (w *discardWriter) Flush() {}

func (w *discardWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body = append(w.body, b...)
	return len(b), nil
}

func (g *benchGateway) serve() *discardWriter {
	r := httptest.NewRequest(http.MethodGet, "/api/v1/dags/team_a_etl", nil)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("Authorization", "Bearer "+g.token)
	r.Header.Set("User-Agent", "bench")
	r.Header.Set("Accept", "application/json")
	w := &discardWriter{h: http.Header{}}
	g.h.ServeHTTP(w, r)
	return w
}

// processCPU returns the CPU time the whole process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGateway reports, besides time and allocations, cpu-µs/op: the
// process's CPU time per request (the gateway, its audit writer and the
// upstream together), which unlike ns/op does not depend on what else the
// machine is running.
func BenchmarkGateway(b *testing.B) {
	for _, mode := range []string{"fast", "strict"} {
		b.Run(mode, func(b *testing.B) {
			g := newBenchGateway(b, mode)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU(b)
			for b.Loop() {
				if w := g.serve(); w.status != http.StatusOK {
					b.Fatalf("status %d: %s", w.status, w.body)
				}
			}
			b.ReportMetric(float64((processCPU(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
	b.Run("fast-parallel", func(b *testing.B) {
		g := newBenchGateway(b, "fast")
		b.ReportAllocs()
		b.SetParallelism(16)
		b.ResetTimer()
		cpu := processCPU(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if w := g.serve(); w.status != http.StatusOK {
					b.Errorf("status %d: %s", w.status, w.body)
					return
				}
			}
		})
		b.ReportMetric(float64((processCPU(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
	})
}
