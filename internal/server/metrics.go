package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the gateway's Prometheus series, registered on a registry of
// the server's own (so tests can run several servers in one process).
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec   // by code class and API
	decisions *prometheus.CounterVec   // by decision and first reason
	latency   *prometheus.HistogramVec // by stage: total, upstream
	auditErrs prometheus.Counter
	stripped  prometheus.Counter
	reloads   *prometheus.CounterVec // by result
	hot       *hotMetrics            // the request path's children (hotpath_metrics.go)
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airgate_requests_total", Help: "Requests handled, by API and status code.",
		}, []string{"api", "code"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airgate_decisions_total", Help: "Authorization decisions, by decision and reason code.",
		}, []string{"decision", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "airgate_request_duration_seconds",
			Help:    "Request latency: total (airgate and Airflow) and upstream (Airflow alone).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"stage"}),
		auditErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "airgate_audit_write_errors_total", Help: "Audit records that could not be written (requests denied with 503).",
		}),
		stripped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "airgate_stripped_headers_total", Help: "Client-sent identity, credential and forwarding headers removed.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "airgate_config_reloads_total", Help: "Configuration reloads, by result.",
		}, []string{"result"}),
	}
	m.hot = newHotMetrics(m)
	m.reg.MustRegister(m.requests, m.decisions, m.latency, m.auditErrs, m.stripped, m.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// gaugeFunc registers a gauge read from f at scrape time.
func (m *metrics) gaugeFunc(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// counterFunc registers a counter read from f at scrape time.
func (m *metrics) counterFunc(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

// registerGauges exports the counters other packages keep (token cache,
// JWKS refreshes, Graph lookups), read from the current runtime at scrape
// time.
func (s *Server) registerGauges() {
	m := s.metrics
	m.counterFunc("airgate_token_cache_hits_total", "Bearer tokens answered from the verified-token cache.", func() float64 {
		return float64(s.rt.Load().verifier.Stats().CacheHits)
	})
	m.counterFunc("airgate_token_cache_misses_total", "Bearer tokens that needed a signature check.", func() float64 {
		return float64(s.rt.Load().verifier.Stats().CacheMisses)
	})
	m.gaugeFunc("airgate_token_cache_hit_ratio", "Share of bearer tokens answered from the verified-token cache.", func() float64 {
		st := s.rt.Load().verifier.Stats()
		if st.CacheHits+st.CacheMisses == 0 {
			return 0
		}
		return float64(st.CacheHits) / float64(st.CacheHits+st.CacheMisses)
	})
	m.counterFunc("airgate_jwks_refreshes_total", "Fetches of Entra signing keys.", func() float64 {
		return float64(s.rt.Load().verifier.Stats().Keys.Refreshes)
	})
	m.counterFunc("airgate_jwks_refresh_failures_total", "Failed fetches of Entra signing keys.", func() float64 {
		return float64(s.rt.Load().verifier.Stats().Keys.RefreshFailures)
	})
	m.counterFunc("airgate_audit_commits_total", "Audit group commits (transactions).", func() float64 {
		return float64(s.audit.Stats().Commits)
	})
	m.counterFunc("airgate_audit_records_total", "Audit records written; ÷ commits is the mean group commit size.", func() float64 {
		return float64(s.audit.Stats().Records)
	})
	m.counterFunc("airgate_graph_calls_total", "Microsoft Graph membership calls.", func() float64 {
		if d := s.rt.Load().dir; d != nil {
			return float64(d.Stats().GraphCalls)
		}
		return 0
	})
	m.counterFunc("airgate_graph_errors_total", "Failed Microsoft Graph membership calls.", func() float64 {
		if d := s.rt.Load().dir; d != nil {
			return float64(d.Stats().GraphErrors)
		}
		return 0
	})
}
