package server

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// hotMetrics hands the request path its Prometheus children without a
// label lookup per request (issue 9): the latency stages are curried once,
// and the request and decision counters are remembered per label pair
// (their cardinality is bounded: APIs × status classes, decisions × reason
// codes). Its methods are safe for concurrent use.
type hotMetrics struct {
	m               *metrics
	total, upstream prometheus.Observer

	mu        sync.RWMutex // guards the maps below
	requests  map[[2]string]prometheus.Counter
	decisions map[[2]string]prometheus.Counter
}

func newHotMetrics(m *metrics) *hotMetrics {
	return &hotMetrics{
		m:         m,
		total:     m.latency.WithLabelValues("total"),
		upstream:  m.latency.WithLabelValues("upstream"),
		requests:  map[[2]string]prometheus.Counter{},
		decisions: map[[2]string]prometheus.Counter{},
	}
}

// request returns the airgate_requests_total child for an API and a status
// class.
func (h *hotMetrics) request(api, class string) prometheus.Counter {
	return h.child(h.requests, h.m.requests, api, class)
}

// decision returns the airgate_decisions_total child for a decision and a
// reason code.
func (h *hotMetrics) decision(decision, reason string) prometheus.Counter {
	return h.child(h.decisions, h.m.decisions, decision, reason)
}

func (h *hotMetrics) child(cache map[[2]string]prometheus.Counter, vec *prometheus.CounterVec, a, b string) prometheus.Counter {
	k := [2]string{a, b}
	h.mu.RLock()
	c, ok := cache[k]
	h.mu.RUnlock()
	if ok {
		return c
	}
	c = vec.WithLabelValues(a, b)
	h.mu.Lock()
	cache[k] = c
	h.mu.Unlock()
	return c
}
