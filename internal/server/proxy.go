package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"

	"github.com/airgate/airgate/internal/tokens"
)

// bufferPool recycles the proxy's copy buffers.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v := b.p.Get(); v != nil {
		return *(v.(*[]byte))
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

var proxyBuffers = &bufferPool{}

// newProxy builds the reverse proxy to Airflow for one runtime.
func (s *Server) newProxy(rt *runtime) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			st := stateOf(pr.In)
			pr.SetURL(rt.upstream)
			// Rewrite runs after ReverseProxy removed hop-by-hop headers
			// and client-sent Forwarded/X-Forwarded-*; remove the rest.
			rt.applyUpstreamHeaders(pr.Out, pr.In, st, s)
		},
		Transport:  timedTransport{rt.upstreamRT},
		BufferPool: proxyBuffers,
		// FlushInterval 0: ReverseProxy flushes streamed answers (no
		// Content-Length, such as task logs, or text/event-stream) as
		// each piece arrives, and writes the others once, at the end.
		FlushInterval:  0,
		ModifyResponse: func(resp *http.Response) error { return s.modifyResponse(resp) },
		ErrorHandler:   func(w http.ResponseWriter, r *http.Request, err error) { s.proxyError(w, r, stateOf(r), err) },
	}
}

// errAuditUnavailable withholds Airflow's answer whose deferred decision
// record could not be queued (see mayDeferRecord).
var errAuditUnavailable = errors.New("the request's audit record could not be written")

// proxyError answers a request the proxy could not complete: Airflow was
// unreachable, slow, or its answer must be withheld.
func (s *Server) proxyError(w http.ResponseWriter, r *http.Request, st *reqState, err error) {
	id := ""
	if st != nil {
		id = st.id
	}
	var mbe *http.MaxBytesError
	status, code, msg := http.StatusBadGateway, CodeUpstreamError, "Airflow could not be reached"
	switch {
	case errors.Is(err, errAuditUnavailable):
		s.auditFailed(w, st)
		return
	case errors.As(err, &mbe):
		status, code, msg = http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "the request body is too large"
	case isTimeout(err):
		s.log.Warn("upstream timeout", "request_id", id, "err", err.Error())
		status, code, msg = http.StatusGatewayTimeout, CodeUpstreamTimeout, "Airflow did not answer in time"
	case errors.Is(err, context.Canceled):
		status = 499 // the client went away; nobody reads the answer
	default:
		s.log.Warn("upstream error", "request_id", id, "err", err.Error())
	}
	if st != nil && !s.recordAnswered(r.Context(), st, status) {
		s.auditFailed(w, st)
		return
	}
	if status == 499 {
		w.WriteHeader(status)
		return
	}
	writeError(w, status, code, msg, id, nil, nil)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// timedTransport records how long Airflow took.
type timedTransport struct{ base http.RoundTripper }

func (t timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	st := stateOf(r)
	if st == nil {
		return t.base.RoundTrip(r)
	}
	start := st.rt.now()
	resp, err := t.base.RoundTrip(r)
	st.upstreamNS = st.rt.now().Sub(start)
	return resp, err
}

// applyUpstreamHeaders makes out carry airgate's view of the caller and
// airgate's credentials, and nothing the client claimed about itself.
func (rt *runtime) applyUpstreamHeaders(out, in *http.Request, st *reqState, s *Server) {
	// What the client's proxies said is read before their headers go.
	proto, host := rt.trusted.forwardedProto(in), rt.trusted.forwardedHost(in)
	if n := stripHeaders(out.Header); n > 0 {
		s.metrics.stripped.Add(float64(n))
	}
	h := out.Header
	// The values share one backing array: one allocation, not six. Each
	// gets a slice of its own capacity, so an append elsewhere copies.
	vals := make([]string, 0, 6)
	set := func(k, v string) {
		vals = append(vals, v)
		n := len(vals)
		h[k] = vals[n-1 : n : n]
	}
	if st.clientIP.IsValid() {
		set("X-Forwarded-For", st.clientIPText)
	}
	set("X-Forwarded-Proto", proto)
	set("X-Forwarded-Host", host)
	set("X-Request-Id", st.id)
	out.Host = rt.upstream.Host
	if rt.basicAuth != nil {
		set("Authorization", rt.basicAuth.header())
		if st.principal != nil {
			set("X-Airgate-User", st.principal.Name())
		}
		return
	}
	role := ""
	if rt.cfg.Upstream.AuthManager == "simple" && st.class.Op != nil {
		role = tokens.SimpleRoleFor(st.class.Op)
	}
	subject := "anonymous"
	if st.principal != nil {
		subject = st.principal.Name()
	}
	tok, err := rt.minter.Mint(subject, role)
	if err != nil {
		// Without a token Airflow refuses the request; say why here.
		s.log.Error("minting the Airflow token failed", "request_id", st.id, "err", err.Error())
		return
	}
	set("Authorization", "Bearer "+tok)
}

// maxResponseInspect bounds a response body airgate reads (to capture a
// dag_run_id).
const maxResponseInspect = 4 << 20

// modifyResponse is the proxy's hook for answered.
func (s *Server) modifyResponse(resp *http.Response) error {
	st := stateOf(resp.Request)
	if st == nil {
		return nil
	}
	return s.answered(st, resp)
}

// answered sees Airflow's answer before any of it is passed on: it queues
// a deferred decision record and captures the dag_run_id of runs airgate
// triggered.
func (s *Server) answered(st *reqState, resp *http.Response) error {
	if st.class.Op == nil {
		return nil
	}
	if !s.recordAnswered(resp.Request.Context(), st, resp.StatusCode) {
		return errAuditUnavailable
	}
	op := st.class.Op
	if (op.ID == "post_dag_run" || op.ID == "trigger_dag_run") && resp.StatusCode/100 == 2 {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseInspect))
		resp.Body.Close()
		if err != nil {
			return err
		}
		st.dagRunID = dagRunID(body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return nil
}

// filteredPageSize is the page airgate reads from Airflow when it narrows
// a list; maxFilteredPages bounds how many it reads for one request.
const (
	filteredPageSize = 100
	maxFilteredPages = 50
)

// serveFilteredList answers a list operation for a caller who may see only
// some DAGs: it reads the list from Airflow page by page, keeps the items of
// permitted DAGs, and applies the caller's offset and limit to what is
// kept, so that total_entries counts only what the caller may see.
func (s *Server) serveFilteredList(w http.ResponseWriter, r *http.Request, st *reqState, rawPath, rawQuery string) {
	rt := st.rt
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "the query string is malformed", st.id, nil, nil)
		return
	}
	offset, limit := 0, 100
	if v := q.Get("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "offset must be a non-negative integer", st.id, nil, nil)
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 0 {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "limit must be a non-negative integer", st.id, nil, nil)
			return
		}
	}
	permits := st.permits(r.Context())
	var kept []json.RawMessage
	var shape map[string]json.RawMessage
	listKey := ""
	var header http.Header
	truncated := true
	for page := 0; page < maxFilteredPages; page++ {
		q.Set("offset", strconv.Itoa(page*filteredPageSize))
		q.Set("limit", strconv.Itoa(filteredPageSize))
		out, err := http.NewRequestWithContext(r.Context(), http.MethodGet, rt.upstream.Scheme+"://"+rt.upstream.Host+joinPath(rt.upstream.Path, rawPath)+"?"+q.Encode(), nil)
		if err != nil {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "the request path is malformed", st.id, nil, nil)
			return
		}
		out.Header = r.Header.Clone()
		rt.applyUpstreamHeaders(out, r, st, s)
		start := rt.now()
		resp, err := rt.basicAuth.wrap(rt.transport).RoundTrip(out)
		st.upstreamNS += rt.now().Sub(start)
		if err != nil {
			s.log.Warn("upstream error", "request_id", st.id, "err", err.Error())
			writeError(w, http.StatusBadGateway, CodeUpstreamError, "Airflow could not be reached", st.id, nil, nil)
			return
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil {
			writeError(w, http.StatusBadGateway, CodeUpstreamError, "Airflow's answer could not be read", st.id, nil, nil)
			return
		}
		if resp.StatusCode != http.StatusOK {
			// Airflow's own error (400 for a bad filter, ...) goes back as is.
			copyHeader(w.Header(), resp.Header)
			w.WriteHeader(resp.StatusCode)
			_, _ = w.Write(body)
			return
		}
		header = resp.Header
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			writeError(w, http.StatusBadGateway, CodeFilterUnsupported, "Airflow's list could not be narrowed to your DAGs", st.id, nil, nil)
			return
		}
		if shape == nil {
			shape = obj
			for k, v := range obj {
				if len(v) > 0 && v[0] == '[' {
					listKey = k
				}
			}
			if listKey == "" {
				writeError(w, http.StatusBadGateway, CodeFilterUnsupported, "Airflow's list could not be narrowed to your DAGs", st.id, nil, nil)
				return
			}
		}
		var items []json.RawMessage
		if err := json.Unmarshal(obj[listKey], &items); err != nil {
			writeError(w, http.StatusBadGateway, CodeFilterUnsupported, "Airflow's list could not be narrowed to your DAGs", st.id, nil, nil)
			return
		}
		for _, it := range items {
			var id struct {
				DAGID *string `json:"dag_id"`
			}
			if json.Unmarshal(it, &id) == nil && id.DAGID != nil && permits(*id.DAGID) {
				kept = append(kept, it)
			}
		}
		var total int
		_ = json.Unmarshal(obj["total_entries"], &total)
		if len(items) < filteredPageSize || (page+1)*filteredPageSize >= total {
			truncated = false
			break
		}
	}
	end := min(offset+limit, len(kept))
	pageItems := []json.RawMessage{}
	if offset < len(kept) {
		pageItems = kept[offset:end]
	}
	shape[listKey], _ = json.Marshal(pageItems)
	if _, ok := shape["total_entries"]; ok {
		shape["total_entries"], _ = json.Marshal(len(kept))
	}
	out, _ := json.Marshal(shape)
	copyHeader(w.Header(), header)
	w.Header().Del("Content-Length")
	if truncated {
		w.Header().Set("X-Airgate-List-Truncated", "true")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		if k == "Content-Length" || k == "Connection" || k == "Transfer-Encoding" {
			continue
		}
		dst[k] = append([]string(nil), vs...)
	}
}
