package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/airgate/airgate/internal/authz"
	"github.com/airgate/airgate/internal/identity"
	"github.com/airgate/airgate/internal/session"
)

// reasonSignInRequired is the reason of a browser navigation to the UI
// without a session: it is sent to sign in.
const reasonSignInRequired authz.Reason = "sign-in-required"

// browserRequest runs in the pipeline before bearer authentication. It
// classifies UI requests (ui.go) and, when the request carries no
// Authorization header, authenticates it by its session cookie: a valid,
// unrevoked session (refreshed when its access token nears expiry) yields
// the principal, decided and audited like a bearer caller's, with the
// session's fingerprint in place of a token's. A browser navigation to the
// UI without a session is sent to sign in. It reports whether it answered
// the request itself.
func (s *Server) browserRequest(w http.ResponseWriter, r *http.Request, st *reqState, rawPath string) bool {
	rt := st.rt
	rt.classifyUI(r.Method, rawPath, &st.class)
	sr := rt.sso
	if sr == nil || len(r.Header.Values("Authorization")) > 0 {
		return false
	}
	if sr.mgr.Present(r) {
		p, answered := s.sessionPrincipal(w, r, st)
		if answered {
			return true
		}
		st.principal = p
	}
	if st.principal == nil && isUI(st.class) && wantsHTML(r) {
		st.decision = authz.Decision{Reasons: []authz.Reason{reasonSignInRequired}}
		if !s.recordDecision(r.Context(), st) {
			s.auditFailed(w, st)
			return true
		}
		rd := requestPath(r)
		if r.URL.RawQuery != "" {
			rd += "?" + r.URL.RawQuery
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, "/oauth2/authorize?rd="+url.QueryEscape(safeReturnTo(rd)), http.StatusFound)
		return true
	}
	return false
}

// sessionPrincipal opens the request's session. An invalid, expired or
// revoked session is cleared and yields no principal (the request goes on
// unauthenticated); when the revocation list cannot be read, or a
// cross-origin request tries to use the session, it answers the request.
func (s *Server) sessionPrincipal(w http.ResponseWriter, r *http.Request, st *reqState) (*identity.Principal, bool) {
	sr := st.rt.sso
	sess, err := sr.mgr.Load(r)
	if err != nil {
		s.log.Info("session cookie refused", "request_id", st.id, "reason", err.Error())
		sr.mgr.Clear(w, r)
		return nil, false
	}
	if err := s.sso.store.Check(r.Context(), sess); err != nil {
		if errors.Is(err, session.ErrRevoked) {
			s.log.Info("revoked session refused", "request_id", st.id, "session", sess.Fingerprint(), "principal", sess.Principal.Name())
			sr.mgr.Clear(w, r)
			return nil, false
		}
		s.log.Error("session revocations cannot be read; refusing the session", "request_id", st.id, "err", err.Error())
		st.principal = sess.Principal
		s.refuse(w, r, st, http.StatusServiceUnavailable, CodeAuthUnavailable, "sessions cannot be checked right now", []string{"session-check-unavailable"})
		return nil, true
	}
	now := st.rt.now()
	if !now.Add(sr.margin).Before(sess.Principal.Expiry) {
		fresh, err := s.refreshSession(r.Context(), st.rt, sess)
		switch {
		case err == nil:
			if err := sr.mgr.Save(w, r, fresh); err != nil {
				s.log.Error("writing the refreshed session failed", "request_id", st.id, "err", err.Error())
			}
			sess = fresh
		case now.Before(sess.Principal.Expiry):
			// Entra is slow or down: the access token still holds.
			s.log.Warn("session refresh failed; the current token is still valid", "request_id", st.id, "session", sess.Fingerprint(), "err", err.Error())
		default:
			s.log.Info("session ended: its token expired and could not be refreshed", "request_id", st.id, "session", sess.Fingerprint(), "err", err.Error())
			sr.mgr.Clear(w, r)
			return nil, false
		}
	}
	if err := sr.csrf.Check(r); err != nil {
		// Cookies ride along on cross-origin requests from same-site
		// pages; an unsafe method with them is refused.
		st.principal = sess.Principal
		s.refuse(w, r, st, http.StatusForbidden, CodeForbidden, "a cross-origin request cannot use the browser session", []string{"cross-origin-request"})
		return nil, true
	}
	return sess.Principal, false
}

// refreshError is Entra's refusal of a refresh token.
type refreshError struct{ code string }

func (e *refreshError) Error() string { return "refresh refused: " + e.code }

// maxTokenResponse bounds Entra's token response.
const maxTokenResponse = 1 << 20

// refreshSession redeems the session's refresh token (silent refresh) and
// returns the session with the new access token's principal and the new
// refresh token. Concurrent requests of one session share one refresh.
func (s *Server) refreshSession(ctx context.Context, rt *runtime, sess *session.Session) (*session.Session, error) {
	sr := rt.sso
	if sess.RefreshToken == "" {
		return nil, errors.New("the session holds no refresh token")
	}
	ch := sr.sf.DoChan("refresh:"+sess.Fingerprint(), func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		return s.redeemRefresh(rctx, rt, sess)
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*session.Session), nil
	}
}

func (s *Server) redeemRefresh(ctx context.Context, rt *runtime, sess *session.Session) (*session.Session, error) {
	sr := rt.sso
	prov, err := sr.provider(ctx)
	if err != nil {
		return nil, err
	}
	// x/oauth2 sends no scope with a refresh; Entra needs it to know
	// which resource the new access token is for.
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {sr.clientID},
		"client_secret": {sr.clientSecret()},
		"refresh_token": {sess.RefreshToken},
		"scope":         {strings.Join(sr.scopes, " ")},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, prov.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := sr.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("refreshing: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	if err != nil || len(body) > maxTokenResponse {
		return nil, errors.New("refreshing: the token response is unreadable or too large")
	}
	var tr struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		Error        string `json:"error"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, fmt.Errorf("refreshing: decoding the token response (status %d)", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		code := tr.Error
		if code == "" {
			code = fmt.Sprintf("status-%d", resp.StatusCode)
		}
		return nil, &refreshError{code: truncate(code, 40)}
	}
	p, err := rt.verifier.Verify(ctx, tr.AccessToken)
	if err != nil {
		return nil, fmt.Errorf("refreshing: the new access token does not verify: %w", err)
	}
	old := sess.Principal
	if p.Kind != identity.User || p.ObjectID != old.ObjectID || p.TenantID != old.TenantID {
		return nil, errors.New("refreshing: the new access token is for another user")
	}
	fresh := *sess
	if tr.RefreshToken != "" {
		fresh.RefreshToken = tr.RefreshToken
	}
	fresh.Principal = withSessionFingerprint(p, &fresh)
	return &fresh, nil
}

// cookieFilter drops every Set-Cookie of an upstream response except
// airgate's own session cookies: the browser never holds an Airflow
// credential (Airflow 3's _token, Airflow 2's session).
type cookieFilter struct {
	http.ResponseWriter
	s           *Server
	wroteHeader bool
}

// filterUpstreamCookies wraps w for a request that may be proxied.
func (s *Server) filterUpstreamCookies(w http.ResponseWriter) http.ResponseWriter {
	return &cookieFilter{ResponseWriter: w, s: s}
}

func (c *cookieFilter) filter() {
	if c.wroteHeader {
		return
	}
	c.wroteHeader = true
	h := c.ResponseWriter.Header()
	vals := h.Values("Set-Cookie")
	if len(vals) == 0 {
		return
	}
	var sr *ssoRuntime
	if rt := c.s.rt.Load(); rt != nil {
		sr = rt.sso
	}
	var keep []string
	for _, v := range vals {
		name, _, _ := strings.Cut(v, "=")
		if sr != nil && sr.mgr.Owns(strings.TrimSpace(name)) {
			keep = append(keep, v)
		}
	}
	if len(keep) == 0 {
		h.Del("Set-Cookie")
		return
	}
	h["Set-Cookie"] = keep
}

func (c *cookieFilter) WriteHeader(code int) {
	if code >= 200 {
		c.filter()
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *cookieFilter) Write(b []byte) (int, error) {
	c.filter()
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *cookieFilter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
