package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/airgate/airgate/internal/config"
)

func TestProfilerOnlyInDevMode(t *testing.T) {
	paths := []string{"/-/debug/pprof/", "/-/debug/pprof/heap", "/-/debug/pprof/allocs", "/-/debug/pprof/profile", "/-/debug/pprof/trace"}
	for _, dev := range []bool{false, true} {
		s := &Server{}
		s.rt.Store(&runtime{cfg: &config.Config{Dev: dev}})
		mux := http.NewServeMux()
		s.registerDebug(mux)
		for _, p := range paths {
			_, pattern := mux.Handler(httptest.NewRequest(http.MethodGet, p, nil))
			if served := pattern != ""; served != dev {
				t.Errorf("dev=%v: %s served = %v, want %v", dev, p, served, dev)
			}
		}
	}
}

func TestProfilerServesHeapProfileInDevMode(t *testing.T) {
	s := &Server{}
	s.rt.Store(&runtime{cfg: &config.Config{Dev: true}})
	mux := http.NewServeMux()
	s.registerDebug(mux)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/-/debug/pprof/heap?debug=1", nil))
	if w.Code != http.StatusOK || w.Body.Len() == 0 {
		t.Fatalf("GET /-/debug/pprof/heap = %d (%d bytes), want 200 and a profile", w.Code, w.Body.Len())
	}
}
