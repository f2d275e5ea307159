package server

import (
	"net/http"
	"net/http/pprof"
)

// registerDebug serves Go's profiler under /-/debug/pprof/ when the
// configuration the server started with is in dev mode, and never
// otherwise: profiles reveal the process's memory and timing. The
// benchmark (bench/run.sh -profile DIR) uses it.
func (s *Server) registerDebug(mux *http.ServeMux) {
	if rt := s.rt.Load(); rt == nil || !rt.cfg.Dev {
		return
	}
	mux.HandleFunc("GET /-/debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /-/debug/pprof/{name}", func(w http.ResponseWriter, r *http.Request) {
		pprof.Handler(r.PathValue("name")).ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /-/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /-/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /-/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /-/debug/pprof/trace", pprof.Trace)
}
