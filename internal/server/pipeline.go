package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/authn"
	"github.com/airgate/airgate/internal/authz"
	"github.com/airgate/airgate/internal/catalog"
	"github.com/airgate/airgate/internal/identity"
)

// maxForwardBody bounds a request body airgate forwards; maxInspectBody
// bounds one it reads to rewrite (trigger notes, batch DAG ids).
const (
	maxForwardBody = 32 << 20
	maxInspectBody = 1 << 20
)

// reqState is one request's journey through the pipeline, shared with the
// proxy's hooks through the request context.
type reqState struct {
	id        string
	start     time.Time
	rt        *runtime
	path      string // the raw request path, as sent (empty when not origin-form)
	class     catalog.Classification
	principal *identity.Principal
	clientIP  netip.Addr
	// clientIPText is clientIP as text ("" when unknown), formatted once.
	clientIPText string
	decision     authz.Decision
	method       string
	seq          uint64        // the decision record's sequence number (strict mode)
	ticket       *audit.Ticket // the decision record's ticket (fast mode)
	// deferRecord: the decision record is queued, with its outcome, when
	// Airflow's answer arrives and before any of it reaches the client
	// (fast mode, reads: see mayDeferRecord); recorded says it has been.
	deferRecord bool
	recorded    bool
	// filterList is set when the response must be narrowed to the DAGs
	// the caller may read.
	filterList bool
	dagRunID   string
	upstreamNS time.Duration
}

type stateKey struct{}

func stateOf(r *http.Request) *reqState {
	st, _ := r.Context().Value(stateKey{}).(*reqState)
	return st
}

// serveGateway runs the pipeline: route, authenticate, resolve
// memberships, decide, audit, then forward or refuse.
func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request) {
	rt := s.rt.Load()
	st := s.newReqState(rt, r)
	w.Header()["X-Request-Id"] = []string{st.id}
	rw := &statusWriter{ResponseWriter: w}
	defer s.finish(rw, r, st)

	rawPath, rawQuery, ok := splitRequestURI(r.RequestURI)
	st.path = rawPath
	if !ok {
		s.refuse(rw, r, st, http.StatusBadRequest, CodeBadRequest, "the request target is not an origin-form path", []string{"bad-request-target"})
		return
	}
	st.class = rt.cat.Classify(r.Method, rawPath, rawQuery)
	if st.class.Known() && !rt.serves(st.class.API) {
		s.refuse(rw, r, st, http.StatusNotFound, CodeAPINotServed, "this Airflow version does not serve this API", []string{"api-not-served"})
		return
	}

	if s.browserRequest(rw, r, st, rawPath) {
		return // a sign-in redirect or a refused session (sso_session.go)
	}

	// Authenticate. Public operations (Airflow's health and version) need
	// no credentials; a credential that is sent is still checked.
	public := st.class.Known() && st.class.Op.Auth == catalog.AuthNone && st.class.API != catalog.Auth
	raw, err := authn.BearerToken(r)
	switch {
	case st.principal != nil: // signed in with a browser session
	case err != nil && public && errors.Is(err, authn.ErrNoCredentials):
	case err != nil:
		s.unauthenticated(rw, r, st, err)
		return
	default:
		p, err := rt.bearer.Verify(r.Context(), raw)
		if err != nil {
			s.unauthenticated(rw, r, st, err)
			return
		}
		st.principal = p
	}

	in := authz.Input{
		Principal: st.principal,
		Request:   &st.class,
		Method:    r.Method,
		Path:      rawPath,
		SourceIP:  st.clientIP,
		Time:      st.start,
		DAGs:      dagSource{rt.dags},
	}
	if err := rt.memberships(r.Context(), st.principal, &in); err != nil {
		s.log.Error("directory lookup failed; denying", "request_id", st.id, "err", err.Error(), "principal", st.principal.Name())
		s.refuse(rw, r, st, http.StatusServiceUnavailable, CodeDirectoryDown, "group memberships could not be read from Microsoft Graph", []string{"directory-unavailable"})
		return
	}
	dec, err := rt.engine.Decide(r.Context(), in)
	if err == nil && st.principal != nil && st.principal.Exchange != nil {
		// An exchanged token: its scope AND the policy for its subject
		// (and actor) decide (exchange_authz.go).
		dec, err = rt.decideExchanged(r.Context(), st.principal, in)
	}
	if err != nil {
		s.log.Error("decision could not be made; denying", "request_id", st.id, "err", err.Error())
		s.refuse(rw, r, st, http.StatusServiceUnavailable, CodeDecisionError, "the authorization decision could not be made", []string{"decision-error"})
		return
	}
	dec = uiDecision(st.class, dec) // ui.go
	if !st.class.Known() && st.class.Reason != "" {
		// Say why the catalogue knows no operation (no-route, dot-segment,
		// ...). Decision reasons are shared: build a new slice.
		dec.Reasons = append(append([]authz.Reason(nil), dec.Reasons...), authz.Reason(st.class.Reason))
	}
	st.decision = dec
	if st.deferRecord = s.mayDeferRecord(st, r); !st.deferRecord && !s.recordDecision(r.Context(), st) {
		s.auditFailed(rw, st)
		return
	}
	if !dec.Allow {
		s.refused(rw, r, st) // HTML for browsers (denied.go)
		return
	}
	if st.class.API == catalog.Auth {
		// Airflow's own login routes would mint Airflow tokens around the
		// gateway; airgate is the login.
		writeError(rw, http.StatusForbidden, CodeForbidden, "Airflow's own login is disabled behind airgate; sign in through airgate", st.id, []string{"airflow-login-disabled"}, nil)
		return
	}
	if err := s.prepareForward(rw, r, st); err != nil {
		return // prepareForward answered
	}
	if st.filterList {
		s.serveFilteredList(rw, r, st, rawPath, rawQuery)
		return
	}
	if rt.direct && direct(r) && originForm(rawPath) {
		s.forwardDirect(rw, r, st, rawPath, rawQuery) // forward.go
		return
	}
	ctx := context.WithValue(r.Context(), stateKey{}, st)
	rt.proxy.ServeHTTP(rw, r.WithContext(ctx))
}

// newReqState starts a request's state: its id, start time, method and
// client address.
func (s *Server) newReqState(rt *runtime, r *http.Request) *reqState {
	st := &reqState{id: s.ids.next(), start: rt.now(), rt: rt, method: r.Method, clientIP: rt.trusted.clientAddr(r)}
	st.clientIPText = addrString(st.clientIP)
	return st
}

// serves reports whether the configured Airflow version serves api.
func (rt *runtime) serves(api catalog.API) bool {
	switch api {
	case catalog.V1:
		return rt.cfg.Upstream.AirflowVersion == 2
	case catalog.V2, catalog.Auth:
		return rt.cfg.Upstream.AirflowVersion == 3
	}
	return true
}

// memberships fills the Graph-derived group memberships a decision may
// need: direct groups when a mapping counts direct membership, and
// transitive groups when the token left them out (overage).
func (rt *runtime) memberships(ctx context.Context, p *identity.Principal, in *authz.Input) error {
	if p == nil || rt.dir == nil || p.Kind == identity.Agent || p.ObjectID == "" {
		return nil
	}
	if p.Kind == identity.App && !p.GroupsOverage && len(p.Groups) == 0 {
		return nil // service principals in groups are rare; their token says so when they are
	}
	if rt.needDirect {
		g, err := rt.dir.DirectGroups(ctx, p.ObjectID)
		if err != nil {
			return err
		}
		in.DirectGroups, in.DirectGroupsKnown = g, true
	}
	if p.GroupsOverage {
		g, err := rt.dir.TransitiveGroups(ctx, p.ObjectID)
		if err != nil {
			return err
		}
		in.TransitiveGroups, in.TransitiveGroupsKnown = g, true
	}
	return nil
}

// prepareForward rewrites what must be rewritten before the proxy sees the
// request: the body bound, trigger notes, batch DAG ids. It answers the
// client itself and returns an error when the request cannot go on.
func (s *Server) prepareForward(w http.ResponseWriter, r *http.Request, st *reqState) error {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, maxForwardBody)
	}
	op := st.class.Op
	switch {
	case op.ID == "post_dag_run" && op.API == catalog.V1, op.ID == "trigger_dag_run" && op.API == catalog.V2:
		body, err := readBounded(r)
		if err != nil {
			s.bodyError(w, st, err)
			return err
		}
		if stamped, ok := stampNote(body, st.principal.Name(), st.id); ok {
			body = stamped
		}
		setBody(r, body)
	case op.DAG == catalog.DAGBody && !st.decision.DAGs.All():
		body, err := readBounded(r)
		if err != nil {
			s.bodyError(w, st, err)
			return err
		}
		ids, err := st.rt.dags.ids(r.Context())
		if err != nil {
			s.log.Error("listing DAGs for a batch request failed", "request_id", st.id, "err", err.Error())
			writeError(w, http.StatusServiceUnavailable, CodeUpstreamError, "the DAG list could not be read from Airflow", st.id, nil, nil)
			return err
		}
		permits := st.permits(r.Context())
		var permitted []string
		for _, id := range ids {
			if permits(id) {
				permitted = append(permitted, id)
			}
		}
		out, _, err := filterBatchBody(body, permitted, permits)
		if err != nil {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "the batch request body is not a JSON object with dag_ids", st.id, nil, nil)
			return err
		}
		if len(permitted) == 0 || bytes.Contains(out, []byte(`"dag_ids":[]`)) {
			// Airflow reads an empty dag_ids as "every DAG": never send it.
			writeError(w, http.StatusForbidden, CodeForbidden, "none of the requested DAGs is permitted", st.id, []string{"dag-not-in-scope"}, nil)
			return errors.New("no permitted dag ids")
		}
		setBody(r, out)
	case st.decision.DAGs.Active() && !st.decision.DAGs.All():
		st.filterList = true
	}
	return nil
}

func readBounded(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxInspectBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxInspectBody {
		return nil, errBodyTooLarge
	}
	return b, nil
}

var errBodyTooLarge = errors.New("request body too large")

func setBody(r *http.Request, b []byte) {
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.Header.Del("Transfer-Encoding")
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

func (s *Server) bodyError(w http.ResponseWriter, st *reqState, err error) {
	var mbe *http.MaxBytesError
	if errors.Is(err, errBodyTooLarge) || errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "the request body is too large", st.id, nil, nil)
		return
	}
	writeError(w, http.StatusBadRequest, CodeBadRequest, "the request body could not be read", st.id, nil, nil)
}

// splitRequestURI splits a request target into the raw path and query
// exactly as sent. The absolute form (RFC 9112 §3.2.2, from proxies) is
// reduced to its path.
func splitRequestURI(uri string) (path, query string, ok bool) {
	for _, scheme := range []string{"http://", "https://"} {
		if rest, found := strings.CutPrefix(uri, scheme); found {
			i := strings.IndexAny(rest, "/?")
			if i < 0 {
				return "", "", false
			}
			uri = rest[i:]
		}
	}
	if uri == "" || uri[0] != '/' {
		return "", "", false
	}
	path, query, _ = strings.Cut(uri, "?")
	return path, query, true
}

// unauthenticated answers a request whose credential was missing or
// rejected (401, or 400 for a malformed header), or whose check could not
// run (503).
func (s *Server) unauthenticated(w http.ResponseWriter, r *http.Request, st *reqState, err error) {
	code := authn.CodeOf(err)
	if code == "" {
		s.log.Error("token check could not run; denying", "request_id", st.id, "err", err.Error())
		s.refuse(w, r, st, http.StatusServiceUnavailable, CodeAuthUnavailable, "credentials cannot be checked right now", []string{"keys-unavailable"})
		return
	}
	w.Header().Set("WWW-Authenticate", authn.WWWAuthenticate(err))
	status := http.StatusUnauthorized
	if code == authn.CodeInvalidRequest {
		status = http.StatusBadRequest
	}
	s.log.Info("credential rejected", "request_id", st.id, "reason", string(code), "detail", err.Error())
	s.refuse(w, r, st, status, CodeUnauthenticated, "a valid Microsoft Entra ID bearer token is required", []string{string(code)})
}

// refuse records a denial made before or instead of a policy decision and
// answers it. If the record cannot be written the answer is 503.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, st *reqState, status int, code Code, msg string, reasons []string) {
	st.decision = authz.Decision{Allow: false, Reasons: toReasons(reasons)}
	if !s.recordDecision(r.Context(), st) {
		s.auditFailed(w, st)
		return
	}
	writeError(w, status, code, msg, st.id, reasons, nil)
}

func (s *Server) forbidden(w http.ResponseWriter, st *reqState) {
	reasons := reasonStrings(st.decision.Reasons)
	status, code, msg := http.StatusForbidden, CodeForbidden, denialMessage(st.decision)
	if len(reasons) > 0 && reasons[0] == string(authz.ReasonUnknownOperation) {
		status, code = http.StatusNotFound, CodeNotFound
	}
	var missing any
	if st.decision.Missing != nil {
		missing = st.decision.Missing
	}
	writeError(w, status, code, msg, st.id, reasons, missing)
}

func (s *Server) auditFailed(w http.ResponseWriter, st *reqState) {
	s.metrics.auditErrs.Inc()
	writeError(w, http.StatusServiceUnavailable, CodeAuditUnavailable, "the audit log cannot record this request, so it is refused", st.id, nil, nil)
}

// recordDecision appends the decision record before anything reaches
// Airflow. It reports false when the record could not be written (the
// request is then refused: nothing is forwarded unaudited).
func (s *Server) recordDecision(ctx context.Context, st *reqState) bool {
	return s.appendDecision(ctx, st, s.decisionRecord(st))
}

// mayDeferRecord reports whether the decision record of an allowed request
// may wait for Airflow's answer and carry it (Status, Latency) instead of
// being followed by an outcome record: in fast mode, for a read that the
// proxy forwards as it is. The record is queued when the answer's status
// arrives (or the upstream fails), before any byte of it is passed on, so
// the caller never holds an answer whose record is not queued; like any
// record acknowledged early, it is durable with the next group commit.
// Writes, denials and answers airgate assembles itself (narrowed lists)
// are recorded before anything is forwarded, as in strict mode, and so is
// every request while the audit log is failing or backed up, so that
// nothing reaches Airflow while its record may not be written.
func (s *Server) mayDeferRecord(st *reqState, r *http.Request) bool {
	if st.rt.cfg.Audit.Mode != "fast" || !st.decision.Allow || st.class.API == catalog.Auth || st.class.Op == nil || !s.audit.AcksEarly() {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return false
	}
	if st.class.Op.DAG == catalog.DAGBody || (st.decision.DAGs.Active() && !st.decision.DAGs.All()) {
		return false // prepareForward rewrites these or answers itself
	}
	return true
}

// recordAnswered queues a deferred decision record once Airflow's answer
// (or the proxy's own error answer) has its status. It reports false when
// the record could not be queued: the answer must then be withheld.
func (s *Server) recordAnswered(ctx context.Context, st *reqState, status int) bool {
	if !st.deferRecord || st.recorded {
		return true
	}
	st.recorded = true
	rec := s.decisionRecord(st)
	rec.Status = status
	rec.Latency = st.rt.now().Sub(st.start)
	return s.appendDecision(context.WithoutCancel(ctx), st, rec)
}

// decisionRecord is the decision record of st.
func (s *Server) decisionRecord(st *reqState) audit.Record {
	rec := audit.Record{
		Kind:      audit.KindDecision,
		Time:      st.start,
		RequestID: st.id,
		Principal: auditPrincipal(st.principal),
		SourceIP:  st.clientIPText,
		Method:    st.method,
		Path:      st.path,
		Decision:  audit.DecisionDeny,
		Reasons:   reasonStrings(st.decision.Reasons),
		Rules:     matchStrings(st.decision.Matched),
	}
	if st.decision.Allow {
		rec.Decision = audit.DecisionAllow
	}
	if st.class.Op != nil {
		rec.Operation = st.class.Op.ID
		rec.DAGID = st.class.DAGID
	}
	if st.principal != nil {
		rec.TokenFingerprint = st.principal.TokenFingerprint
		if st.principal.Exchange != nil {
			rec.ExchangeID = st.principal.Exchange.ID
		}
	}
	return rec
}

// appendDecision appends a decision record: durably before returning in
// strict mode, queued (AppendAsync's rules) in fast mode.
func (s *Server) appendDecision(ctx context.Context, st *reqState, rec audit.Record) bool {
	s.metrics.hot.decision(string(rec.Decision), firstOr(rec.Reasons, "none")).Inc()
	var err error
	if st.rt.cfg.Audit.Mode == "fast" {
		// Denials and reads may be acknowledged once queued; anything
		// that changes Airflow still waits until its record is durable.
		st.ticket, err = s.audit.AppendAsync(ctx, rec)
	} else {
		var receipt audit.Receipt
		receipt, err = s.audit.Append(ctx, rec)
		st.seq = receipt.Seq
	}
	if err != nil {
		s.log.Error("audit: decision record not written; refusing the request", "request_id", st.id, "err", err.Error())
		return false
	}
	return true
}

// finish records the outcome of a forwarded request, updates metrics and
// logs one line.
func (s *Server) finish(w *statusWriter, r *http.Request, st *reqState) {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	dur := st.rt.now().Sub(st.start)
	if w.status != 0 && w.Header().Get("Content-Length") != "" {
		// The answer is complete: send it before the bookkeeping below.
		// (Only one of known length: flushing another would turn it
		// into a chunked one.)
		_ = http.NewResponseController(w).Flush()
	}
	api := string(st.class.API)
	if api == "" {
		api = "none"
	}
	s.metrics.hot.request(api, statusClass(status)).Inc()
	s.metrics.hot.total.Observe(dur.Seconds())
	if st.upstreamNS > 0 {
		s.metrics.hot.upstream.Observe(st.upstreamNS.Seconds())
	}
	if st.deferRecord && !st.recorded {
		// The proxy ended without an answer from Airflow or an error
		// answer of its own: the client went away first.
		answered := status
		if w.status == 0 {
			answered = 499
		}
		s.recordAnswered(r.Context(), st, answered)
	} else if st.decision.Allow && !st.deferRecord && (st.seq != 0 || st.ticket != nil) {
		rec := audit.Record{
			Kind:      audit.KindOutcome,
			RequestID: st.id,
			Status:    status,
			DAGRunID:  st.dagRunID,
			Latency:   dur,
		}
		if st.class.Op != nil {
			rec.Operation = st.class.Op.ID
			rec.DAGID = st.class.DAGID
		}
		s.recordOutcome(st, rec)
	}
	if st.rt.logReqs {
		attrs := make([]slog.Attr, 0, 10)
		attrs = append(attrs,
			slog.String("request_id", st.id),
			slog.String("method", r.Method),
			slog.String("path", st.path),
			slog.Int("status", status),
			slog.Duration("latency", dur),
			slog.String("source_ip", st.clientIPText),
		)
		if st.class.Op != nil {
			attrs = append(attrs, slog.String("operation", st.class.Op.ID))
		}
		if st.principal != nil {
			attrs = append(attrs, slog.String("principal", st.principal.Name()), slog.String("token_fp", st.principal.TokenFingerprint))
		}
		if len(st.decision.Reasons) > 0 {
			attrs = append(attrs, slog.String("reason", string(st.decision.Reasons[0])))
		}
		s.reqLog.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	}
}

// recordOutcome appends the outcome record linked to its decision without
// holding up the response: the client has its answer already. Outcomes are
// written durably; a failure is logged and counted.
func (s *Server) recordOutcome(st *reqState, rec audit.Record) {
	s.outcomeMu.Lock()
	if s.closing {
		s.outcomeMu.Unlock()
		s.log.Error("audit: outcome record not written: the server is closing", "request_id", st.id)
		return
	}
	s.outcomes.Add(1)
	s.outcomeMu.Unlock()
	go func() {
		defer s.outcomes.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rec.Ref = st.seq
		if st.ticket != nil {
			receipt, err := st.ticket.Wait(ctx)
			if err != nil {
				s.metrics.auditErrs.Inc()
				s.log.Error("audit: decision record failed after acknowledgement", "request_id", st.id, "err", err.Error())
				return
			}
			rec.Ref = receipt.Seq
		}
		if _, err := s.audit.Append(ctx, rec); err != nil {
			s.metrics.auditErrs.Inc()
			s.log.Error("audit: outcome record not written", "request_id", st.id, "err", err.Error())
		}
	}()
}

func requestPath(r *http.Request) string {
	p, _, _ := splitRequestURI(r.RequestURI)
	return p
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func firstOr(s []string, def string) string {
	if len(s) == 0 {
		return def
	}
	return s[0]
}

func statusClass(code int) string {
	switch {
	case code < 200:
		return "1xx"
	case code < 300:
		return "2xx"
	case code < 400:
		return "3xx"
	case code < 500:
		return "4xx"
	}
	return "5xx"
}

func auditPrincipal(p *identity.Principal) audit.Principal {
	if p == nil {
		return audit.Principal{}
	}
	ap := audit.Principal{
		Kind:        audit.PrincipalKind(p.Kind),
		TenantID:    p.TenantID,
		ObjectID:    p.ObjectID,
		UPN:         p.UPN,
		AppID:       p.AppID,
		DisplayName: p.DisplayName,
	}
	if p.Exchange != nil && p.Exchange.Actor != nil {
		ap.Actor = p.Exchange.Actor.Name()
	}
	return ap
}

// permits returns whether the caller may see a DAG, reading tags from the
// DAG cache when the decision's selectors use them.
func (st *reqState) permits(ctx context.Context) func(string) bool {
	f := &st.decision.DAGs
	if !f.NeedsTags() {
		return func(id string) bool { return f.Permits(id, nil) }
	}
	dags, err := st.rt.dags.snapshot(ctx)
	return func(id string) bool {
		if err != nil {
			return false // without tags nothing tag-selected is shown
		}
		return f.Permits(id, dags[id].Tags)
	}
}

func matchStrings(ms []authz.Match) []string {
	if len(ms) == 0 {
		return nil
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.String()
	}
	return out
}

// denialMessage says in plain words what was denied and why.
func denialMessage(d authz.Decision) string {
	reason := ""
	if len(d.Reasons) > 0 {
		reason = string(d.Reasons[0])
	}
	switch authz.Reason(reason) {
	case authz.ReasonUnknownOperation:
		return "this request matches no Airflow API operation, so airgate does not forward it"
	case authz.ReasonNoMatchingRole:
		return "your identity maps to no airgate role: ask your Airflow platform team for access"
	case authz.ReasonNestedMembershipIgnored:
		return "you are only an indirect (nested) member of the group that grants this; the policy counts direct membership only"
	case authz.ReasonUnauthenticated:
		return "this operation needs a signed-in caller"
	}
	if d.Missing != nil {
		m := d.Missing
		where := ""
		if m.DAGID != "" {
			where = " for DAG " + m.DAGID
		}
		return "missing permission " + m.Action + " on " + m.Resource + where + " (" + reason + ")"
	}
	return "denied by policy (" + reason + ")"
}

func reasonStrings(rs []authz.Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

func toReasons(ss []string) []authz.Reason {
	out := make([]authz.Reason, len(ss))
	for i, s := range ss {
		out[i] = authz.Reason(s)
	}
	return out
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// dagSource adapts the DAG cache to what authz asks of DAG metadata.
type dagSource struct{ c *dagCache }

func (d dagSource) DAGTags(ctx context.Context, dagID string) ([]string, error) {
	m, _, err := d.c.lookup(ctx, dagID)
	if err != nil {
		return nil, err
	}
	return m.Tags, nil
}
