package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // reads the audit databases' sequence numbers
)

// reportLua prints wrk's results in one machine-readable line.
const reportLua = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests=%d duration_us=%d errors=%d non2xx=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`

// freshLua sends a different pre-minted token with every request, walking
// the token file cyclically from the offset given after "--".
const freshLua = `
local tokens = {}
local n = 0
local i = 0
init = function(args)
  for line in io.lines(args[1]) do
    n = n + 1
    tokens[n] = "Bearer " .. line
  end
  i = (tonumber(args[2]) or 0) % n
end
request = function()
  i = i + 1
  if i > n then i = 1 end
  return wrk.format(nil, nil, {["Authorization"] = tokens[i]})
end
` + reportLua

// wrkResult is one wrk run.
type wrkResult struct {
	Requests   int64
	DurationUS int64
	Errors     int64
	Non2xx     int64
	P50, P90   int64 // µs
	P99, Max   int64 // µs
}

func (r wrkResult) rps() float64 {
	if r.DurationUS == 0 {
		return 0
	}
	return float64(r.Requests) / (float64(r.DurationUS) / 1e6)
}

// parseWrk reads the BENCH line of reportLua.
func parseWrk(out []byte) (wrkResult, error) {
	var r wrkResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "BENCH ")
		if !ok {
			continue
		}
		fields := map[string]*int64{
			"requests": &r.Requests, "duration_us": &r.DurationUS, "errors": &r.Errors, "non2xx": &r.Non2xx,
			"p50_us": &r.P50, "p90_us": &r.P90, "p99_us": &r.P99, "max_us": &r.Max,
		}
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			p, ok := fields[k]
			if !ok {
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return r, fmt.Errorf("wrk: bad %s=%q", k, v)
			}
			*p = int64(f)
		}
		if r.DurationUS == 0 {
			return r, fmt.Errorf("wrk: no duration in %q", line)
		}
		return r, nil
	}
	return r, fmt.Errorf("wrk printed no result:\n%s", out)
}

// load describes one wrk invocation.
type load struct {
	url      string
	conns    int
	duration time.Duration
	header   string   // an extra request header, or ""
	script   string   // the Lua script
	args     []string // script arguments
}

func runWrk(ctx context.Context, o *options, pin pinner, l load) (wrkResult, error) {
	secs := max(1, int(l.duration.Round(time.Second)/time.Second))
	args := []string{"-t1", "-c" + strconv.Itoa(l.conns), "-d" + strconv.Itoa(secs) + "s", "--timeout", "5s", "-s", l.script}
	if l.header != "" {
		args = append(args, "-H", l.header)
	}
	args = append(args, l.url)
	if len(l.args) > 0 {
		args = append(append(args, "--"), l.args...)
	}
	cmd := pin.command(ctx, o.clientCPU, "wrk", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	return parseWrk(out)
}

func writeScripts(dir string) (report, fresh string, err error) {
	report, fresh = filepath.Join(dir, "report.lua"), filepath.Join(dir, "fresh.lua")
	if err := os.WriteFile(report, []byte(reportLua), 0o644); err != nil {
		return "", "", err
	}
	return report, fresh, os.WriteFile(fresh, []byte(freshLua), 0o644)
}

// upstreamStatsOf reads the upstream's connection and request counts.
func upstreamStatsOf(ctx context.Context, ctlURL string) (upstreamStats, error) {
	var s upstreamStats
	code, b, err := get(ctx, ctlURL, nil)
	if err != nil {
		return s, err
	}
	if code != 200 {
		return s, fmt.Errorf("upstream stats: status %d", code)
	}
	return s, json.Unmarshal(b, &s)
}

// auditHead returns the highest sequence number in an audit database.
type auditReader struct{ db *sql.DB }

func openAuditReader(path string) (*auditReader, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return &auditReader{db: db}, nil
}

func (a *auditReader) head(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	err := a.db.QueryRowContext(ctx, `SELECT MAX(seq) FROM audit_records`).Scan(&seq)
	return seq.Int64, err
}

func (a *auditReader) Close() error { return a.db.Close() }

// metric reads one unlabelled series from airgate's /-/metrics.
func metrics(ctx context.Context, base string, names ...string) (map[string]float64, error) {
	code, b, err := get(ctx, base+"/-/metrics", nil)
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("metrics: status %d", code)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		for _, n := range names {
			if v, ok := strings.CutPrefix(line, n+" "); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err == nil {
					out[n] = f
				}
			}
		}
	}
	return out, nil
}

// rssSampler samples a process's resident set while a run lasts.
type rssSampler struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	max     int64 // bytes of VmRSS
	maxAnon int64 // bytes of RssAnon (VmRSS less the binary's and other files' pages)
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{stop: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := procStatus(pid, "VmRSS"); err == nil && v > s.max {
				s.max = v
			}
			if v, err := procStatus(pid, "RssAnon"); err == nil && v > s.maxAnon {
				s.maxAnon = v
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// done stops sampling and returns the largest resident set seen, in all
// and anonymous.
func (s *rssSampler) done() (rss, anon int64) {
	close(s.stop)
	s.wg.Wait()
	return s.max, s.maxAnon
}

// procStatus reads a size field (kB) of /proc/<pid>/status, in bytes.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("%s not in /proc/%d/status", field, pid)
}

// clockTicks is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on
// Linux).
const clockTicks = 100

// procCPU returns the CPU time (user and system, all threads) the
// processes used so far.
func procCPU(pids ...int) (time.Duration, error) {
	var total time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, err
		}
		// The command name (field 2) may hold spaces: fields count from
		// the closing parenthesis.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
		}
		// After ")": state(3) ... utime is field 14, stime field 15.
		ut, err1 := strconv.ParseInt(f[11], 10, 64)
		st, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("/proc/%d/stat: bad CPU times", pid)
		}
		total += time.Duration(ut+st) * time.Second / clockTicks
	}
	return total, nil
}
