package server

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/config"
)

// recordsOf waits until the records of request id are durable (fast mode
// acknowledges reads before their commit) and returns them.
func (s *stack) recordsOf(id string, want int) []audit.Record {
	s.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var out []audit.Record
		for _, rec := range s.auditRecords() {
			if rec.RequestID == id {
				out = append(out, rec)
			}
		}
		if len(out) >= want || time.Now().After(deadline) {
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fastAudit(c *config.Config) { c.Audit.Mode = "fast" }

// In fast mode an allowed read is one record, queued when Airflow's
// answer arrives and carrying it; writes keep a durable decision before
// they are forwarded and an outcome after.
func TestFastAuditRecordsReadsWithTheirAnswer(t *testing.T) {
	for _, version := range []int{2, 3} {
		t.Run(map[int]string{2: "airflow2", 3: "airflow3"}[version], func(t *testing.T) {
			s := newStack(t, version, fastAudit)
			api := s.api()
			alice := s.userToken("alice", false)

			r := s.do("GET", api+"/dags/team_a_daily", alice, "", nil)
			if r.status != 200 {
				t.Fatalf("read = %d %s", r.status, r.body)
			}
			recs := s.recordsOf(r.header.Get("X-Request-Id"), 1)
			if len(recs) != 1 {
				t.Fatalf("a read left %d records, want exactly 1: %+v", len(recs), recs)
			}
			d := recs[0]
			if d.Kind != audit.KindDecision || d.Decision != audit.DecisionAllow || d.Status != 200 || d.Latency <= 0 ||
				d.Method != "GET" || d.DAGID != "team_a_daily" || d.Principal.UPN == "" || len(d.Rules) == 0 {
				t.Errorf("read record = %+v, want an allow decision carrying status 200 and a latency", d)
			}

			// Airflow's own error answers are recorded with their status.
			r = s.do("GET", api+"/dags/team_a_missing", alice, "", nil)
			if r.status != 404 {
				t.Fatalf("missing DAG = %d %s", r.status, r.body)
			}
			if recs := s.recordsOf(r.header.Get("X-Request-Id"), 1); len(recs) != 1 || recs[0].Status != 404 {
				t.Errorf("records of a 404 read = %+v", recs)
			}

			// A trigger: a decision without a status, then the outcome
			// that refers to it and names the run.
			r = s.do("POST", api+"/dags/team_a_daily/dagRuns", alice, triggerBody(version, ""), nil)
			if r.status != 200 {
				t.Fatalf("trigger = %d %s", r.status, r.body)
			}
			recs = s.recordsOf(r.header.Get("X-Request-Id"), 2)
			if len(recs) != 2 || recs[0].Kind != audit.KindDecision || recs[0].Status != 0 ||
				recs[1].Kind != audit.KindOutcome || recs[1].Ref != recs[0].Seq || recs[1].DAGRunID == "" || recs[1].Status != 200 {
				t.Errorf("trigger records = %+v, want a decision then its outcome", recs)
			}

			// Denials are one record before anything is forwarded.
			s.airflow.Reset()
			r = s.do("GET", api+"/dags/team_b_daily/dagRuns/x/taskInstances/t/logs/1", alice, "", nil)
			if r.status != 403 {
				t.Fatalf("denied read = %d %s", r.status, r.body)
			}
			if recs := s.recordsOf(r.header.Get("X-Request-Id"), 1); len(recs) != 1 || recs[0].Decision != audit.DecisionDeny || recs[0].Status != 0 {
				t.Errorf("records of a denial = %+v", recs)
			}
			if n := len(s.airflow.Requests()); n != 0 {
				t.Errorf("a denied request reached Airflow (%d requests)", n)
			}
		})
	}
}

// A read whose record cannot be queued when Airflow answers is refused:
// Airflow's answer is withheld, never passed on.
func TestFastAuditWithholdsAnswerWhenRecordFails(t *testing.T) {
	var s *stack
	const secret = `{"dag_id":"team_a_daily","description":"must not leak"}`
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The audit log fails while Airflow is answering.
		_ = s.gw.audit.Close()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(secret))
	}))
	defer up.Close()
	s = newStack(t, 2, func(c *config.Config) {
		fastAudit(c)
		c.Upstream.URL = up.URL
	})
	r := s.do("GET", "/api/v1/dags/team_a_daily", s.userToken("alice", false), "", nil)
	if r.status != 503 || r.json(t)["code"] != "audit-unavailable" {
		t.Errorf("status %d %s, want 503 audit-unavailable", r.status, r.body)
	}
	if strings.Contains(string(r.body), "must not leak") {
		t.Error("Airflow's answer reached the client without an audit record")
	}
}

// An unreachable Airflow is recorded with the status the caller got.
func TestFastAuditRecordsUpstreamFailure(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	s := newStack(t, 2, func(c *config.Config) {
		fastAudit(c)
		c.Upstream.URL = gone.URL
	})
	r := s.do("GET", "/api/v1/dags/team_a_daily", s.userToken("alice", false), "", nil)
	if r.status != 502 {
		t.Fatalf("status %d %s, want 502", r.status, r.body)
	}
	if recs := s.recordsOf(r.header.Get("X-Request-Id"), 1); len(recs) != 1 || recs[0].Status != 502 || recs[0].Decision != audit.DecisionAllow {
		t.Errorf("records = %+v, want one allow decision with status 502", recs)
	}
}

// Streamed answers (no Content-Length: task logs) reach the client piece
// by piece, not when Airflow has finished.
func TestStreamedAnswersAreFlushed(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("first line\n"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
		_, _ = w.Write([]byte("second line\n"))
	}))
	defer up.Close()
	defer close(release)
	s := newStack(t, 2, func(c *config.Config) { c.Upstream.URL = up.URL })
	req, _ := http.NewRequest("GET", s.gwURL+"/api/v1/dags/team_a_daily/dagRuns/r1/taskInstances/extract/logs/1", nil)
	req.Header.Set("Authorization", "Bearer "+s.userToken("bob", false))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if line != "first line\n" {
			t.Errorf("first piece = %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first piece of a streamed answer did not arrive before Airflow finished")
	}
}

// A read whose caller goes away before Airflow answers is recorded, with
// 499, not left out and not recorded as answered.
func TestFastAuditRecordsAbandonedRead(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer up.Close()
	defer close(release)
	s := newStack(t, 2, func(c *config.Config) {
		fastAudit(c)
		c.Upstream.URL = up.URL
	})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", s.gwURL+"/api/v1/dags/team_a_daily", nil)
	req.Header.Set("Authorization", "Bearer "+s.userToken("alice", false))
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-arrived
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("the abandoned request got an answer")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var found []audit.Record
		for _, rec := range s.auditRecords() {
			if rec.Path == "/api/v1/dags/team_a_daily" {
				found = append(found, rec)
			}
		}
		if len(found) == 1 {
			if d := found[0]; d.Kind != audit.KindDecision || d.Decision != audit.DecisionAllow || d.Status != 499 {
				t.Errorf("record of an abandoned read = %+v, want an allow decision with status 499", d)
			}
			return
		}
		if len(found) > 1 || time.Now().After(deadline) {
			t.Fatalf("records of an abandoned read = %+v, want exactly one", found)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
