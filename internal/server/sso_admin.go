package server

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/authn"
	"github.com/airgate/airgate/internal/authz"
	"github.com/airgate/airgate/internal/catalog"
)

// adminRevokeOp is POST /-/admin/sessions/revoke. It requires what only
// Airflow's Admin holds: managing roles (FAB "can_edit on Roles"; through
// the entity dialect, a grant of every entity). It is shared and MUST NOT
// be modified.
var adminRevokeOp = &catalog.Operation{API: catalog.V1, ID: "revoke_sessions", Method: http.MethodPost, Path: "/-/admin/sessions/revoke",
	Rule: catalog.Rule{Auth: catalog.AuthRequired, DAG: catalog.DAGNone,
		Requires: []catalog.Perm{{Resource: "Roles", Action: "can_edit"}}}}

// revokeRequest is the body of POST /-/admin/sessions/revoke: exactly one
// of User (a UPN or object id: every session of that user issued until
// now) and Session (a session fingerprint as audit records show it).
type revokeRequest struct {
	User    string `json:"user"`
	Session string `json:"session"`
}

// revokeSessions ends sessions on every replica. The caller authenticates
// with a bearer token or a browser session and must hold Admin-level
// permission (adminRevokeOp). The decision and the revocation are audited.
func (s *Server) revokeSessions(w http.ResponseWriter, r *http.Request) {
	rt := s.rt.Load()
	st := s.newReqState(rt, r)
	st.path = requestPath(r)
	st.class = catalog.Classification{API: catalog.V1, Op: adminRevokeOp, Scope: catalog.ScopeNone}
	w.Header().Set("X-Request-Id", st.id)
	rw := &statusWriter{ResponseWriter: w}

	// Authenticate: a bearer token, else the browser session.
	if rt.sso != nil && len(r.Header.Values("Authorization")) == 0 && rt.sso.mgr.Present(r) {
		p, answered := s.sessionPrincipal(rw, r, st)
		if answered {
			return
		}
		st.principal = p
	}
	if st.principal == nil {
		raw, err := authn.BearerToken(r)
		if err != nil {
			s.unauthenticated(rw, r, st, err)
			return
		}
		p, err := rt.verifier.Verify(r.Context(), raw)
		if err != nil {
			s.unauthenticated(rw, r, st, err)
			return
		}
		st.principal = p
	}
	in := authz.Input{Principal: st.principal, Request: &st.class, Method: r.Method, Path: r.URL.Path, SourceIP: st.clientIP, Time: st.start}
	if err := rt.memberships(r.Context(), st.principal, &in); err != nil {
		s.log.Error("directory lookup failed; denying", "request_id", st.id, "err", err.Error())
		s.refuse(rw, r, st, http.StatusServiceUnavailable, CodeDirectoryDown, "group memberships could not be read from Microsoft Graph", []string{"directory-unavailable"})
		return
	}
	dec, err := rt.engine.Decide(r.Context(), in)
	if err != nil {
		s.log.Error("decision could not be made; denying", "request_id", st.id, "err", err.Error())
		s.refuse(rw, r, st, http.StatusServiceUnavailable, CodeDecisionError, "the authorization decision could not be made", []string{"decision-error"})
		return
	}
	st.decision = dec
	if !s.recordDecision(r.Context(), st) {
		s.auditFailed(rw, st)
		return
	}
	if !dec.Allow {
		s.forbidden(rw, st)
		return
	}

	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(rw, http.StatusUnsupportedMediaType, CodeBadRequest, "send a JSON body: {\"user\": \"UPN or object id\"} or {\"session\": \"session:...\"}", st.id, nil, nil)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10+1))
	var req revokeRequest
	if err != nil || len(body) > 64<<10 || json.Unmarshal(body, &req) != nil {
		writeError(rw, http.StatusBadRequest, CodeBadRequest, "the body is not a JSON object", st.id, nil, nil)
		return
	}
	req.User, req.Session = strings.TrimSpace(req.User), strings.TrimSpace(req.Session)
	if (req.User == "") == (req.Session == "") || len(req.User) > 256 || len(req.Session) > 128 {
		writeError(rw, http.StatusBadRequest, CodeBadRequest, "name exactly one of user (UPN or object id) and session (fingerprint)", st.id, nil, nil)
		return
	}
	by := st.principal.Name()
	// A user's sessions are matched until every session issued before now
	// has expired.
	until := rt.now().Add(rt.cfg.Session.Lifetime.D() + rt.cfg.Entra.ClockSkew.D())
	detail := map[string]string{"event": "revoke"}
	if req.User != "" {
		err = s.sso.store.RevokeUser(r.Context(), req.User, until, by)
		detail["user"] = req.User
	} else {
		if !strings.HasPrefix(req.Session, "session:") {
			writeError(rw, http.StatusBadRequest, CodeBadRequest, "session must be a fingerprint such as session:0123456789abcdef", st.id, nil, nil)
			return
		}
		err = s.sso.store.RevokeSession(r.Context(), req.Session, until, by)
		detail["session"] = req.Session
	}
	if err != nil {
		s.log.Error("revoking sessions failed", "request_id", st.id, "err", err.Error())
		writeError(rw, http.StatusServiceUnavailable, CodeAuthUnavailable, "the revocation could not be stored", st.id, nil, nil)
		return
	}
	rec := sessionAdminRecord(st, r, detail)
	if _, err := s.audit.Append(r.Context(), rec); err != nil {
		s.metrics.auditErrs.Inc()
		s.log.Error("audit: session revocation not recorded", "request_id", st.id, "err", err.Error())
	}
	s.log.Info("sessions revoked", "request_id", st.id, "by", by, "user", req.User, "session", req.Session)
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(rw).Encode(map[string]any{
		"revoked":          req,
		"effective_within": rt.cfg.Session.RevocationCache.D().String(),
		"request_id":       st.id,
	})
}

// sessionAdminRecord is the audit record of a revocation.
func sessionAdminRecord(st *reqState, r *http.Request, detail map[string]string) audit.Record {
	return audit.Record{
		Kind:             kindSession,
		Time:             st.rt.now(),
		RequestID:        st.id,
		Principal:        auditPrincipal(st.principal),
		SourceIP:         st.clientIPText,
		Method:           r.Method,
		Path:             r.URL.Path,
		Operation:        adminRevokeOp.ID,
		TokenFingerprint: st.principal.TokenFingerprint,
		Detail:           detail,
	}
}
