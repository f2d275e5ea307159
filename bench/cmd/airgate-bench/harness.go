package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// config is one measured configuration.
type config struct {
	name   string
	url    string
	conns  int
	header string // Authorization header of every request; "" with fresh
	fresh  bool   // a different token per request (fresh.lua)
	gw     *gateway
	pids   []int // the server processes whose CPU time the requests cost
	// proxyPID is the process between wrk and the upstream (0 for
	// direct): its resident set is sampled during each run.
	proxyPID int
	// stats per round
	runs []runStats
}

// runStats is what one measured run of one configuration showed.
type runStats struct {
	wrk          wrkResult
	newUpstream  int64   // upstream connections accepted during the run
	upstreamReqs int64   // requests the upstream answered during the run
	rssMax       int64   // bytes, the proxy's
	rssAnonMax   int64   // bytes, the proxy's
	auditRecords int64   // records appended during the run, airgate only
	auditSeconds float64 // wall time the records were counted over
	cacheHits    float64 // verified-token cache hits during the run
	cacheMisses  float64
	auditCommits float64 // audit group commits during the run, airgate only
	cpuPerReq    float64 // µs of server CPU (every process in pids) per request
}

func runHarness(ctx context.Context, o *options) error {
	start := time.Now()
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (bench/run.sh installs it: apt-get install -y wrk)")
	}
	pin := pinner{}
	if p, err := exec.LookPath("taskset"); err == nil {
		pin.taskset = p
	} else {
		fmt.Fprintln(os.Stderr, "airgate-bench: taskset not found: running unpinned (install util-linux)")
	}
	if o.work == "" {
		dir, err := os.MkdirTemp("", "airgate-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.work = dir
	} else if err := os.MkdirAll(o.work, 0o700); err != nil {
		return err
	}
	logf("working directory %s", o.work)
	loadBefore := loadAvg()

	// The issuer and the callers' tokens.
	is, err := startIssuer(ctx)
	if err != nil {
		return fmt.Errorf("starting the Entra emulator: %w", err)
	}
	defer is.Close()
	token, err := is.userToken(ctx)
	if err != nil {
		return err
	}
	tokensFile := filepath.Join(o.work, "tokens.txt")
	t0 := time.Now()
	if err := is.mintTokens(ctx, token, o.tokens, tokensFile); err != nil {
		return fmt.Errorf("minting tokens: %w", err)
	}
	logf("minted %d tokens in %s", o.tokens, time.Since(t0).Round(time.Millisecond))
	reportScript, freshScript, err := writeScripts(o.work)
	if err != nil {
		return err
	}

	// The servers, all on the server core.
	up, err := startChild(ctx, o, pin, "upstream")
	if err != nil {
		return err
	}
	defer up.stop()
	upURL, ctlURL := "http://"+up.addrs[0], "http://"+up.addrs[1]
	ref, err := startChild(ctx, o, pin, "reference", "-upstream", upURL)
	if err != nil {
		return err
	}
	defer ref.stop()
	rel, err := startChild(ctx, o, pin, "relay", "-upstream", up.addrs[0])
	if err != nil {
		return err
	}
	defer rel.stop()
	var gws []*gateway
	defer func() {
		for _, g := range gws {
			g.stop()
		}
	}()
	for _, mode := range []string{"fast", "strict"} {
		cfgPath, err := writeGatewayConfig(o, is, upURL, mode)
		if err != nil {
			return err
		}
		g, err := startGateway(ctx, o, pin, cfgPath, mode)
		if err != nil {
			return err
		}
		gws = append(gws, g)
	}
	fast, strict := gws[0], gws[1]

	dagPath := "/api/v1/dags/team_a_etl"
	if o.airflow == 3 {
		dagPath = "/api/v2/dags/team_a_etl"
	}
	bearer := "Authorization: Bearer " + token
	upPID := up.cmd.Process.Pid
	// proxy is a configuration measured through one of the proxies; its
	// CPU time counts the upstream's too.
	proxy := func(c *config, pid int) *config {
		c.proxyPID, c.pids = pid, []int{upPID, pid}
		return c
	}
	direct := &config{name: "direct (upstream alone)", url: upURL + dagPath, conns: o.conns, header: bearer, pids: []int{upPID}}
	relay := proxy(&config{name: "TCP relay (no HTTP)", url: "http://" + rel.addrs[0] + dagPath, conns: o.conns, header: bearer}, rel.cmd.Process.Pid)
	reference := proxy(&config{name: "reference proxy", url: "http://" + ref.addrs[0] + dagPath, conns: o.conns, header: bearer}, ref.cmd.Process.Pid)
	cached := proxy(&config{name: "airgate, cached token, fast audit", url: fast.url + dagPath, conns: o.conns, header: bearer, gw: fast}, fast.pid())
	fresh := proxy(&config{name: "airgate, fresh token, fast audit", url: fast.url + dagPath, conns: o.conns, fresh: true, gw: fast}, fast.pid())
	strictC := proxy(&config{name: "airgate, cached token, strict audit", url: strict.url + dagPath, conns: o.conns, header: bearer, gw: strict}, strict.pid())
	var cfgs []*config
	if o.throughput {
		cfgs = []*config{direct, relay, reference, cached, fresh, strictC}
	}
	// One request at a time: the same servers, c=1.
	at1 := func(c *config, name string) *config {
		d := *c
		d.name, d.conns, d.runs = name, 1, nil
		return &d
	}
	lat := latencyConfigs{
		direct:    at1(direct, "direct, c=1"),
		fast:      at1(cached, "airgate fast audit, c=1"),
		strict:    at1(strictC, "airgate strict audit, c=1"),
		reference: at1(reference, "reference proxy, c=1"),
		relay:     at1(relay, "TCP relay, c=1"),
	}
	var latCfgs []*config
	if o.latency {
		latCfgs = lat.all()
	}

	// Every path answers 200 with the upstream's body before anything is
	// measured: a benchmark of 401s or 403s would measure nothing.
	for _, c := range append(slices.Clone(cfgs), latCfgs...) {
		h := http.Header{}
		if c.header != "" {
			k, v, _ := strings.Cut(c.header, ": ")
			h.Set(k, v)
		} else {
			h.Set("Authorization", "Bearer "+firstLine(tokensFile))
		}
		code, body, err := get(ctx, c.url, h)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if code != 200 || !bytes.Equal(body, []byte(dagBody)) {
			return fmt.Errorf("%s: answered %d, not the upstream's DAG: %s", c.name, code, body)
		}
	}

	readers := map[*gateway]*auditReader{}
	for _, g := range gws {
		r, err := openAuditReader(g.dbPath)
		if err != nil {
			return err
		}
		defer r.Close()
		readers[g] = r
	}
	freshOffset := int64(0)
	measure := func(c *config) error {
		l := load{url: c.url, conns: c.conns, header: c.header, script: reportScript}
		if c.fresh {
			l.script, l.header = freshScript, ""
		}
		if o.warmup > 0 {
			w := l
			w.duration = o.warmup
			if c.fresh {
				w.args = []string{tokensFile, fmt.Sprint(freshOffset)}
			}
			res, err := runWrk(ctx, o, pin, w)
			if err != nil {
				return fmt.Errorf("%s (warm-up): %w", c.name, err)
			}
			if c.fresh {
				freshOffset += res.Requests
			}
		}
		var rs runStats
		// Connections are counted from shortly into the run: when wrk
		// stops it drops its connections with requests in flight, and a
		// proxy drops the upstream connections of those requests, so
		// the start of the next run legitimately replaces a few.
		settle := min(time.Second, o.duration/4)
		type statsResult struct {
			s   upstreamStats
			err error
		}
		beforec := make(chan statsResult, 1)
		go func() {
			select {
			case <-time.After(settle):
			case <-ctx.Done():
			}
			s, err := upstreamStatsOf(ctx, ctlURL)
			beforec <- statsResult{s, err}
		}()
		var seq0 int64
		var m0 map[string]float64
		if c.gw != nil {
			if seq0, err = readers[c.gw].head(ctx); err != nil {
				return err
			}
			if m0, err = metrics(ctx, c.gw.url, gatewayCounters...); err != nil {
				return err
			}
		}
		var rss *rssSampler
		if c.proxyPID != 0 {
			rss = sampleRSS(c.proxyPID)
		}
		l.duration = o.duration
		if c.fresh {
			l.args = []string{tokensFile, fmt.Sprint(freshOffset)}
		}
		var prof chan error
		if o.profile != "" && c.gw != nil && len(c.runs) == 0 {
			prof = make(chan error, 1)
			go func() { prof <- captureProfiles(ctx, c.gw.url, o.profile, c.slug(), o.duration) }()
		}
		cpu0, err := procCPU(c.pids...)
		if err != nil {
			return err
		}
		t := time.Now()
		res, err := runWrk(ctx, o, pin, l)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if prof != nil {
			if err := <-prof; err != nil {
				return fmt.Errorf("%s: profiling: %w", c.name, err)
			}
		}
		elapsed := time.Since(t).Seconds()
		rs.wrk = res
		cpu1, err := procCPU(c.pids...)
		if err != nil {
			return err
		}
		if res.Requests > 0 {
			rs.cpuPerReq = float64((cpu1 - cpu0).Microseconds()) / float64(res.Requests)
		}
		if c.fresh {
			freshOffset += res.Requests
		}
		after, err := upstreamStatsOf(ctx, ctlURL)
		if err != nil {
			return err
		}
		b := <-beforec
		if b.err != nil {
			return b.err
		}
		before := b.s
		// The stats requests arrive on a listener of their own, so the
		// counts are the load's alone.
		rs.newUpstream = after.Accepted - before.Accepted
		rs.upstreamReqs = after.Requests - before.Requests
		if rss != nil {
			rs.rssMax, rs.rssAnonMax = rss.done()
		}
		if c.gw != nil {
			seq1, err := readers[c.gw].head(ctx)
			if err != nil {
				return err
			}
			rs.auditRecords, rs.auditSeconds = seq1-seq0, elapsed
			m1, err := metrics(ctx, c.gw.url, gatewayCounters...)
			if err != nil {
				return err
			}
			rs.cacheHits = m1["airgate_token_cache_hits_total"] - m0["airgate_token_cache_hits_total"]
			rs.cacheMisses = m1["airgate_token_cache_misses_total"] - m0["airgate_token_cache_misses_total"]
			rs.auditCommits = m1["airgate_audit_commits_total"] - m0["airgate_audit_commits_total"]
		}
		c.runs = append(c.runs, rs)
		perCommit := ""
		if rs.auditCommits > 0 {
			perCommit = fmt.Sprintf("  audit %.1f records/commit", float64(rs.auditRecords)/rs.auditCommits)
		}
		logf("  %-38s %9.0f req/s  p50 %5d µs  p99 %6d µs  CPU %5.1f µs/req  errors %d non-2xx %d  new upstream conns %d%s",
			c.name, res.rps(), res.P50, res.P99, rs.cpuPerReq, res.Errors, res.Non2xx, rs.newUpstream, perCommit)
		return nil
	}

	for r := range o.rounds {
		if len(cfgs) == 0 {
			break
		}
		logf("round %d/%d, c=%d, %s each", r+1, o.rounds, o.conns, o.duration)
		for _, c := range cfgs {
			if err := measure(c); err != nil {
				return err
			}
		}
	}
	for r := range o.rounds {
		if len(latCfgs) == 0 {
			break
		}
		logf("latency round %d/%d, c=1, %s each", r+1, o.rounds, o.duration)
		for _, c := range latCfgs {
			if err := measure(c); err != nil {
				return err
			}
		}
	}
	hwm, _ := procStatus(fast.pid(), "VmHWM")

	rep := report{
		o: o, cfgs: cfgs, latCfgs: latCfgs, lat: lat,
		direct: direct, relay: relay, reference: reference, cached: cached, fresh: fresh, strict: strictC,
		hwm: hwm, pinned: pin.taskset != "", loadBefore: loadBefore, loadAfter: loadAvg(),
		elapsed: time.Since(start), tokens: o.tokens, cpus: runtime.NumCPU(),
	}
	rep.print(os.Stdout)
	return nil
}

// latencyConfigs are the one-request-at-a-time configurations.
type latencyConfigs struct {
	direct, fast, strict, reference, relay *config
}

// all lists them in the order they run in each round.
func (l latencyConfigs) all() []*config {
	return []*config{l.direct, l.relay, l.fast, l.strict, l.reference}
}

// gatewayCounters are the airgate metrics read before and after each run.
var gatewayCounters = []string{"airgate_token_cache_hits_total", "airgate_token_cache_misses_total", "airgate_audit_commits_total"}

// slug names a configuration's files.
func (c *config) slug() string {
	var b strings.Builder
	for _, r := range strings.ToLower(c.name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// captureProfiles saves a CPU profile of most of a measured run and the
// allocation profile after it, from airgate's dev-mode pprof endpoint.
func captureProfiles(ctx context.Context, base, dir, name string, d time.Duration) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	secs := max(1, int((d-d/5)/time.Second))
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	code, b, err := get(ctx, fmt.Sprintf("%s/-/debug/pprof/profile?seconds=%d", base, secs), nil)
	if err != nil {
		return err
	}
	if code != 200 {
		return fmt.Errorf("CPU profile: status %d: %s", code, b)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".cpu.pprof"), b, 0o644); err != nil {
		return err
	}
	code, b, err = get(ctx, base+"/-/debug/pprof/allocs", nil)
	if err != nil {
		return err
	}
	if code != 200 {
		return fmt.Errorf("allocation profile: status %d", code)
	}
	logf("  profiles of %s in %s", name, dir)
	return os.WriteFile(filepath.Join(dir, name+".allocs.pprof"), b, 0o644)
}

func firstLine(path string) string {
	b, _ := os.ReadFile(path)
	line, _, _ := strings.Cut(string(b), "\n")
	return line
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// logf reports progress on stderr; results go to stdout.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
