package server

import (
	"sync"
	"testing"
)

// sampleValue returns the value of the counter or the histogram sample
// count of the series name{labels...} in m's registry.
func sampleValue(t *testing.T, m *metrics, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, s := range mf.GetMetric() {
			for _, lp := range s.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue series
				}
			}
			if h := s.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return s.GetCounter().GetValue()
		}
	}
	return 0
}

func TestHotMetricsCountInTheExportedSeries(t *testing.T) {
	m := newMetrics()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				m.hot.request("v1", "2xx").Inc()
				m.hot.request("v2", "4xx").Inc()
				m.hot.decision("allow", "allowed").Inc()
				m.hot.total.Observe(0.001)
			}
		}()
	}
	wg.Wait()
	m.requests.WithLabelValues("v1", "2xx").Inc() // the same series
	m.hot.upstream.Observe(0.002)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"airgate_requests_total", map[string]string{"api": "v1", "code": "2xx"}, 801},
		{"airgate_requests_total", map[string]string{"api": "v2", "code": "4xx"}, 800},
		{"airgate_decisions_total", map[string]string{"decision": "allow", "reason": "allowed"}, 800},
		{"airgate_request_duration_seconds", map[string]string{"stage": "total"}, 800},
		{"airgate_request_duration_seconds", map[string]string{"stage": "upstream"}, 1},
	} {
		if got := sampleValue(t, m, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}
