package server

import (
	"io"
	"iter"
	"mime"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// forwardDirect relays a body-less read (directTransport's kind) to a
// plain-HTTP Airflow and Airflow's answer back, without
// httputil.ReverseProxy: the request's own headers, stripped and completed
// in place, go out with the path and query exactly as the client sent
// them, the ones the catalogue classified. It does what ReverseProxy does
// for such a request (hop-by-hop headers dropped both ways, trailers
// relayed, streamed answers flushed as they arrive, a failed body copy
// aborting the client's connection) and what airgate's proxy hooks do (the
// deferred audit record before any byte of the answer is passed on).
func (s *Server) forwardDirect(w http.ResponseWriter, r *http.Request, st *reqState, rawPath, rawQuery string) {
	rt := st.rt // rawPath is originForm (serveGateway checked)
	// The request is airgate's from here on: its header map becomes the
	// upstream request's, so nothing the client sent survives by mistake
	// in a copy.
	removeHopHeaders(r.Header)
	out := &http.Request{
		Method:     r.Method,
		URL:        &url.URL{Opaque: joinPath(rt.upstream.Path, rawPath), RawQuery: rawQuery},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     r.Header,
		Host:       rt.upstream.Host,
	}
	out = out.WithContext(r.Context())
	rt.applyUpstreamHeaders(out, r, st, s)
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = []string{""} // none, rather than Go's own
	}

	start := rt.now()
	resp, err := rt.upstreamRT.RoundTrip(out)
	st.upstreamNS = rt.now().Sub(start)
	if err != nil {
		s.proxyError(w, r, st, err)
		return
	}
	defer resp.Body.Close()
	removeHopHeaders(resp.Header)
	if err := s.answered(st, resp); err != nil {
		s.proxyError(w, r, st, err)
		return
	}

	dst := w.Header()
	for k, vv := range resp.Header {
		if k == "X-Request-Id" {
			continue // airgate's id names the request, not Airflow's
		}
		dst[k] = vv
	}
	announced := len(resp.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range resp.Trailer {
			keys = append(keys, k)
		}
		dst["Trailer"] = []string{strings.Join(keys, ", ")}
	}
	w.WriteHeader(resp.StatusCode)
	if err := copyAnswer(w, resp); err != nil {
		// Part of the answer went out: only ending the connection tells
		// the client it is incomplete.
		panic(http.ErrAbortHandler)
	}
	if len(resp.Trailer) == 0 {
		return
	}
	_ = http.NewResponseController(w).Flush()
	for k, vv := range resp.Trailer {
		if announced != len(resp.Trailer) {
			k = http.TrailerPrefix + k
		}
		dst[k] = vv
	}
}

// originForm reports whether path, sent as it is, is an origin-form
// request target that no server reads as something else: one starting
// "//" would go out as an absolute URL (its first segment read as a host),
// so such a request takes the reverse proxy, which sends its path.
func originForm(path string) bool {
	return strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "//")
}

// copyAnswer copies resp's body to w with a pooled buffer, flushing after
// each piece when the answer streams (no Content-Length, or
// text/event-stream), as ReverseProxy does.
func copyAnswer(w http.ResponseWriter, resp *http.Response) error {
	buf := proxyBuffers.Get()
	defer proxyBuffers.Put(buf)
	var flush func() error
	if resp.ContentLength < 0 || isEventStream(resp.Header) {
		flush = http.NewResponseController(w).Flush
	}
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if flush != nil {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

func isEventStream(h http.Header) bool {
	ct := h["Content-Type"]
	if len(ct) == 0 {
		return false
	}
	mt, _, _ := mime.ParseMediaType(ct[0])
	return mt == "text/event-stream"
}

// hopHeaders are the hop-by-hop headers of RFC 9110 §7.6.1 and the
// legacy ones ReverseProxy also drops.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// removeHopHeaders drops h's hop-by-hop headers in place, with the ones
// its Connection header names; "TE: trailers" is kept, as ReverseProxy
// keeps it.
func removeHopHeaders(h http.Header) {
	for f := range headerTokens(h["Connection"]) {
		delete(h, textproto.CanonicalMIMEHeaderKey(f))
	}
	trailers := hasToken(h["Te"], "trailers")
	for _, k := range hopHeaders {
		delete(h, k)
	}
	if trailers {
		h["Te"] = []string{"trailers"}
	}
}

// headerTokens yields the comma-separated elements of a list header's
// values (RFC 9110 §5.6.1), trimmed, the empty ones left out.
func headerTokens(vals []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, v := range vals {
			for f := range strings.SplitSeq(v, ",") {
				if f = textproto.TrimString(f); f != "" && !yield(f) {
					return
				}
			}
		}
	}
}

// hasToken reports whether a list header's values hold token, in any case.
func hasToken(vals []string, token string) bool {
	for f := range headerTokens(vals) {
		if strings.EqualFold(f, token) {
			return true
		}
	}
	return false
}
