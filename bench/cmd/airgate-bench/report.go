package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report prints the table and the last line.
type report struct {
	o                                               *options
	cfgs, latCfgs                                   []*config
	lat                                             latencyConfigs
	direct, relay, reference, cached, fresh, strict *config
	hwm                                             int64
	pinned                                          bool
	loadBefore, loadAfter                           string
	elapsed                                         time.Duration
	tokens, cpus                                    int
}

// median returns the median of xs (the mean of the middle two for an even
// count), or 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func (c *config) series(f func(runStats) float64) []float64 {
	out := make([]float64, len(c.runs))
	for i, r := range c.runs {
		out[i] = f(r)
	}
	return out
}

func (c *config) med(f func(runStats) float64) float64 { return median(c.series(f)) }

func (c *config) maxOf(f func(runStats) float64) float64 {
	m := 0.0
	for _, v := range c.series(f) {
		m = max(m, v)
	}
	return m
}

var (
	rps      = func(r runStats) float64 { return r.wrk.rps() }
	p50      = func(r runStats) float64 { return float64(r.wrk.P50) }
	p99      = func(r runStats) float64 { return float64(r.wrk.P99) }
	newConns = func(r runStats) float64 { return float64(r.newUpstream) }
	cpuReq   = func(r runStats) float64 { return r.cpuPerReq }
	failures = func(r runStats) float64 { return float64(r.wrk.Errors + r.wrk.Non2xx) }
	rssMiB   = func(r runStats) float64 { return float64(r.rssMax) / (1 << 20) }
	anonMiB  = func(r runStats) float64 { return float64(r.rssAnonMax) / (1 << 20) }
	auditRPS = func(r runStats) float64 {
		if r.auditSeconds == 0 {
			return 0
		}
		return float64(r.auditRecords) / r.auditSeconds
	}
	hitRatio = func(r runStats) float64 {
		if r.cacheHits+r.cacheMisses == 0 {
			return 0
		}
		return r.cacheHits / (r.cacheHits + r.cacheMisses)
	}
)

// added returns the median over rounds of a's metric minus b's, round by
// round.
func added(a, b *config, f func(runStats) float64) float64 {
	n := min(len(a.runs), len(b.runs))
	d := make([]float64, n)
	for i := range n {
		d[i] = f(a.runs[i]) - f(b.runs[i])
	}
	return median(d)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func (rep *report) print(w io.Writer) {
	o := rep.o
	refRPS := rep.reference.med(rps)
	fmt.Fprintf(w, "\nairgate benchmark: %d rounds × %s (warm-up %s), medians; wrk -t1 on core %d, servers on core %d%s\n",
		o.rounds, o.duration, o.warmup, o.clientCPU, o.serverCPU, map[bool]string{true: "", false: " (NOT pinned: taskset missing)"}[rep.pinned])
	fmt.Fprintf(w, "machine: %d CPUs, %s/%s, %s; load average before %s, after %s; Airflow %d API; request logs %s\n",
		rep.cpus, runtime.GOOS, runtime.GOARCH, runtime.Version(), rep.loadBefore, rep.loadAfter, o.airflow, onOff(o.requestLogs))
	if len(o.airgateEnv) > 0 || o.gomemlimit != "" {
		env := slices.Clone(o.airgateEnv)
		if o.gomemlimit != "" {
			env = append(env, "GOMEMLIMIT="+o.gomemlimit)
		}
		fmt.Fprintf(w, "airgate's runtime tuned: %s\n", strings.Join(env, " "))
	}
	fmt.Fprintln(w)

	fmt.Fprintf(w, "%-38s %4s %10s %8s %8s %8s %10s %10s %7s\n", "configuration", "c", "req/s", "vs ref", "p50 µs", "p99 µs", "CPU µs/req", "new conns", "errors")
	fmt.Fprintln(w, strings.Repeat("-", 111))
	for _, c := range append(slices.Clone(rep.cfgs), rep.latCfgs...) {
		vs := "-"
		if c.conns == rep.reference.conns && c != rep.direct {
			vs = fmt.Sprintf("%.2f", ratio(c.med(rps), refRPS))
		}
		conns := fmt.Sprintf("%.0f", c.maxOf(newConns))
		if c.url == rep.direct.url {
			conns = "-" // wrk's own connections
		}
		fmt.Fprintf(w, "%-38s %4d %10.0f %8s %8.0f %8.0f %10.1f %10s %7.0f\n",
			c.name, c.conns, c.med(rps), vs, c.med(p50), c.med(p99), c.med(cpuReq), conns, c.maxOf(failures))
	}
	fmt.Fprintln(w, strings.Repeat("-", 111))
	fmt.Fprintln(w, "CPU µs/req: CPU time of the server processes (the upstream, plus the proxy measured) per request;")
	fmt.Fprintln(w, "  unlike req/s it does not depend on what else the machine runs")
	fmt.Fprintln(w, "new conns: upstream connections accepted during a measured run, counted from 1 s in (max over rounds; 0 = pooled)")
	fmt.Fprintln(w, "errors: socket errors and non-2xx answers (max over rounds; must be 0)")

	cachedRPS, freshRPS, strictRPS := rep.cached.med(rps), rep.fresh.med(rps), rep.strict.med(rps)
	r, cold, strictRatio := ratio(cachedRPS, refRPS), ratio(freshRPS, refRPS), ratio(strictRPS, refRPS)
	rss := rep.cached.med(rssMiB)
	audit := rep.cached.med(auditRPS)
	fmt.Fprintln(w)
	if o.throughput {
		fmt.Fprintf(w, "%-58s %s\n", "cached token, fast audit ÷ reference (≥ 0.80):", verdict(r, r >= 0.80))
		fmt.Fprintf(w, "%-58s %s\n", "fresh token, fast audit ÷ reference (≥ 0.45):", verdict(cold, cold >= 0.45))
		fmt.Fprintf(w, "%-58s %.2f\n", "cached token, strict audit ÷ reference:", strictRatio)
		fmt.Fprintf(w, "%-58s %.2f (the floor of any proxy here)\n", "TCP relay ÷ reference:", ratio(rep.relay.med(rps), refRPS))
	}
	var p50Fast, p99Fast float64
	if o.latency {
		l := rep.lat
		p50Fast, p99Fast = added(l.fast, l.direct, p50), added(l.fast, l.direct, p99)
		fmt.Fprintf(w, "%-58s p50 %.0f µs %s, p99 %.0f µs\n", "added latency at c=1, fast audit (p50 ≤ 80 µs):", p50Fast, okMark(p50Fast <= 80), p99Fast)
		for _, c := range []struct {
			label string
			c     *config
		}{
			{"added latency at c=1, strict audit:", l.strict},
			{"added latency at c=1, bare reference proxy:", l.reference},
			{"added latency at c=1, TCP relay (the floor of any proxy):", l.relay},
		} {
			fmt.Fprintf(w, "%-58s p50 %.0f µs, p99 %.0f µs\n", c.label, added(c.c, l.direct, p50), added(c.c, l.direct, p99))
		}
	}
	if o.throughput {
		newUp := rep.cached.maxOf(newConns) + rep.fresh.maxOf(newConns) + rep.strict.maxOf(newConns)
		fmt.Fprintf(w, "%-58s %.0f %s\n", "new upstream connections in airgate's measured runs (0):", newUp, okMark(newUp == 0))
		fmt.Fprintf(w, "%-58s %.1f MiB %s, of which anonymous %.1f MiB (the rest is the binary's pages); VmHWM over the whole run %.1f MiB%s\n",
			"airgate RSS under c=32, cached token (≤ 32 MiB):", rss, okMark(rss <= 32), rep.cached.med(anonMiB), float64(rep.hwm)/(1<<20), gomem(o.gomemlimit))
		for _, c := range []*config{rep.reference, rep.relay} {
			fmt.Fprintf(w, "%-58s %.1f MiB, of which anonymous %.1f MiB\n", c.name+" RSS under c=32, for comparison:", c.med(rssMiB), c.med(anonMiB))
		}
		// A read is one record in fast mode (its decision, carrying the
		// answer): the log keeps up when it writes one a request.
		fmt.Fprintf(w, "%-58s %.0f records/s for %.0f req/s (%s)\n", "audit records written during the cached-token runs:",
			audit, cachedRPS, map[bool]string{true: "sustained", false: "NOT sustained"}[audit >= cachedRPS*0.97])
		fmt.Fprintf(w, "%-58s %.1f%% (pool of %d tokens)\n", "verified-token cache hits in the fresh-token runs:", 100*rep.fresh.med(hitRatio), rep.tokens)
	}
	fmt.Fprintf(w, "%-58s %s\n\n", "total time:", rep.elapsed.Round(time.Second))

	fmt.Fprintf(w, "ratio=%.2f airgate_rps=%.0f reference_rps=%.0f cold_ratio=%.2f p50_added_us=%.0f p99_added_us=%.0f rss_mib=%.0f audit_records_per_s=%.0f\n",
		r, cachedRPS, refRPS, cold, p50Fast, p99Fast, math.Round(rss), audit)
}

func verdict(v float64, ok bool) string { return fmt.Sprintf("%.2f %s", v, okMark(ok)) }

func okMark(ok bool) string {
	if ok {
		return "(target met)"
	}
	return "(TARGET MISSED)"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func gomem(v string) string {
	if v == "" {
		return ""
	}
	return " (GOMEMLIMIT=" + v + ")"
}
