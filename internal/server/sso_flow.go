package server

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/authn"
	"github.com/airgate/airgate/internal/identity"
	"github.com/airgate/airgate/internal/session"
)

// kindSession is the audit record kind of sign-ins, sign-outs and session
// revocations; Detail["event"] says which.
const kindSession audit.Kind = "session"

// ssoAuthorize starts a sign-in.
func (s *Server) ssoAuthorize(w http.ResponseWriter, r *http.Request) {
	rt := s.rt.Load()
	id := s.ids.next()
	w.Header().Set("X-Request-Id", id)
	sr := rt.sso
	if sr == nil {
		writeError(w, http.StatusNotFound, CodeNotFound, "browser sign-in is not configured (entra.client_secret is not set)", id, nil, nil)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, CodeBadRequest, "use GET", id, nil, nil)
		return
	}
	prov, err := sr.provider(r.Context())
	if err != nil {
		s.log.Error("browser sign-in: Entra's configuration is unavailable", "request_id", id, "err", err.Error())
		s.ssoPage(w, http.StatusServiceUnavailable, pageSignInUnavailable, id, "Microsoft Entra ID cannot be reached right now. Try again in a moment.")
		return
	}
	base, err := sr.baseURL(rt, r)
	if err != nil {
		s.ssoPage(w, http.StatusBadRequest, pageSignInFailed, id, "The address this request was sent to is not valid.")
		return
	}
	login := &session.Login{
		State:       randomToken(32),
		Nonce:       randomToken(32),
		Verifier:    oauth2.GenerateVerifier(),
		RedirectURI: base + "/oauth2/callback",
		ReturnTo:    safeReturnTo(r.URL.Query().Get("rd")),
	}
	if err := sr.mgr.StartLogin(w, login); err != nil {
		s.log.Error("browser sign-in: sealing the sign-in state failed", "request_id", id, "err", err.Error())
		s.ssoPage(w, http.StatusInternalServerError, pageSignInFailed, id, "The sign-in could not be started.")
		return
	}
	target := sr.oauth2Config(prov, login.RedirectURI).AuthCodeURL(login.State,
		oauth2.S256ChallengeOption(login.Verifier), oidc.Nonce(login.Nonce),
		oauth2.SetAuthURLParam("response_mode", "query"))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

func (sr *ssoRuntime) oauth2Config(p *oidcProvider, redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     sr.clientID,
		ClientSecret: sr.clientSecret(),
		Endpoint:     oauth2.Endpoint{AuthURL: p.authURL, TokenURL: p.tokenURL, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL:  redirectURI,
		Scopes:       sr.scopes,
	}
}

// ssoCallback finishes a sign-in: Entra sent the browser back with a code
// (or an error) and the state.
func (s *Server) ssoCallback(w http.ResponseWriter, r *http.Request) {
	rt := s.rt.Load()
	id := s.ids.next()
	w.Header().Set("X-Request-Id", id)
	sr := rt.sso
	if sr == nil {
		writeError(w, http.StatusNotFound, CodeNotFound, "browser sign-in is not configured", id, nil, nil)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, CodeBadRequest, "use GET", id, nil, nil)
		return
	}
	q := r.URL.Query()
	state, code, idpErr := q.Get("state"), q.Get("code"), q.Get("error")
	if state == "" && code == "" && idpErr == "" {
		// Entra's sign-out lands here (post_logout_redirect_uri).
		s.ssoPage(w, http.StatusOK, pageSignedOut, id, "")
		return
	}
	login, err := sr.mgr.FinishLogin(w, r, state)
	if err != nil {
		s.log.Info("browser sign-in: callback without a matching sign-in", "request_id", id, "reason", err.Error())
		msg := "This sign-in was not started in this browser, or it took too long. Start again."
		if errors.Is(err, session.ErrExpired) {
			msg = "This sign-in took too long. Start again."
		}
		s.ssoPage(w, http.StatusBadRequest, pageSignInFailed, id, msg)
		return
	}
	if idpErr != "" {
		desc := q.Get("error_description")
		s.log.Info("browser sign-in: Entra returned an error", "request_id", id, "error", truncate(idpErr, 64))
		s.ssoPage(w, http.StatusUnauthorized, pageSignInFailed, id, "Microsoft Entra ID did not sign you in: "+truncate(idpErr, 64)+": "+truncate(desc, 300))
		return
	}
	if code == "" {
		s.ssoPage(w, http.StatusBadRequest, pageSignInFailed, id, "Microsoft Entra ID sent no authorization code.")
		return
	}
	sess, reason, err := s.redeem(r.Context(), rt, login, code)
	if err != nil {
		s.log.Warn("browser sign-in failed", "request_id", id, "reason", reason, "err", err.Error())
		s.ssoPage(w, http.StatusUnauthorized, pageSignInFailed, id, "The sign-in could not be completed ("+reason+"). Start again, or ask "+sr.contact+".")
		return
	}
	rec := sessionRecord(id, sess, "sign-in", rt, r)
	if _, err := s.audit.Append(r.Context(), rec); err != nil {
		s.metrics.auditErrs.Inc()
		s.log.Error("audit: sign-in not recorded; refusing it", "request_id", id, "err", err.Error())
		s.ssoPage(w, http.StatusServiceUnavailable, pageSignInFailed, id, "The audit log cannot record your sign-in, so it is refused. Try again later.")
		return
	}
	if err := sr.mgr.Save(w, r, sess); err != nil {
		s.log.Error("browser sign-in: writing the session failed", "request_id", id, "err", err.Error())
		s.ssoPage(w, http.StatusInternalServerError, pageSignInFailed, id, "Your session could not be stored in this browser.")
		return
	}
	s.log.Info("signed in", "request_id", id, "principal", sess.Principal.Name(), "session", sess.Fingerprint(), "mfa", sess.Principal.HasAMR("mfa"))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, login.ReturnTo, http.StatusFound)
}

// redeem exchanges the code for tokens, verifies them and builds the
// session. reason is a short code for logs and the error page.
func (s *Server) redeem(ctx context.Context, rt *runtime, login *session.Login, code string) (*session.Session, string, error) {
	sr := rt.sso
	prov, err := sr.provider(ctx)
	if err != nil {
		return nil, "entra-unavailable", err
	}
	cctx := oidc.ClientContext(ctx, sr.client)
	tok, err := sr.oauth2Config(prov, login.RedirectURI).Exchange(cctx, code,
		oauth2.VerifierOption(login.Verifier), oauth2.SetAuthURLParam("scope", strings.Join(sr.scopes, " ")))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			return nil, "token-" + truncate(re.ErrorCode, 40), errors.New("the token endpoint refused the code: " + re.ErrorCode)
		}
		return nil, "token-endpoint-error", err
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return nil, "no-id-token", errors.New("the token response has no id_token")
	}
	idt, err := prov.verifier.Verify(cctx, rawID)
	if err != nil {
		return nil, "bad-id-token", err
	}
	// go-oidc does not check the nonce: it binds the ID token to this
	// browser's sign-in (OIDC Core §3.1.3.7).
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(login.Nonce)) != 1 {
		return nil, "nonce-mismatch", errors.New("the ID token's nonce is not this sign-in's")
	}
	var idc struct {
		OID string `json:"oid"`
		TID string `json:"tid"`
	}
	if err := idt.Claims(&idc); err != nil {
		return nil, "bad-id-token", err
	}
	p, err := rt.verifier.Verify(ctx, tok.AccessToken)
	if err != nil {
		return nil, "access-token-" + string(authn.CodeOf(err)), err
	}
	if p.Kind != identity.User || p.ObjectID == "" || p.ObjectID != idc.OID || p.TenantID != idc.TID {
		return nil, "token-mismatch", errors.New("the access token is not for the user of the ID token")
	}
	now := rt.now()
	sess := &session.Session{ID: session.NewID(), IssuedAt: now, Expiry: now.Add(sr.lifetime), RefreshToken: tok.RefreshToken}
	sess.Principal = withSessionFingerprint(p, sess)
	return sess, "", nil
}

// withSessionFingerprint copies p (which authn may share) with the
// session's fingerprint in place of the token's.
func withSessionFingerprint(p *identity.Principal, sess *session.Session) *identity.Principal {
	cp := *p
	cp.TokenFingerprint = sess.Fingerprint()
	return &cp
}

// ssoSignOut ends the session here (on every replica) and at Entra.
func (s *Server) ssoSignOut(w http.ResponseWriter, r *http.Request) {
	rt := s.rt.Load()
	id := s.ids.next()
	w.Header().Set("X-Request-Id", id)
	sr := rt.sso
	if sr == nil {
		writeError(w, http.StatusNotFound, CodeNotFound, "browser sign-in is not configured", id, nil, nil)
		return
	}
	switch {
	case r.Method == http.MethodPost:
		if err := sr.csrf.Check(r); err != nil {
			s.ssoPage(w, http.StatusForbidden, pageSignOutConfirm, id, "")
			return
		}
	case r.Method == http.MethodGet:
		// A link from another site must not sign people out: ask.
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			s.ssoPage(w, http.StatusOK, pageSignOutConfirm, id, "")
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, CodeBadRequest, "use POST", id, nil, nil)
		return
	}
	if sess, err := sr.mgr.Load(r); err == nil {
		if err := s.sso.store.RevokeSession(r.Context(), sess.Fingerprint(), sess.Expiry, "sign-out"); err != nil {
			// The cookies are cleared below; a copy of them would live on.
			s.log.Error("sign-out: the session could not be revoked on every replica", "request_id", id, "err", err.Error())
		}
		if _, err := s.audit.Append(r.Context(), sessionRecord(id, sess, "sign-out", rt, r)); err != nil {
			s.metrics.auditErrs.Inc()
			s.log.Error("audit: sign-out not recorded", "request_id", id, "err", err.Error())
		}
		s.log.Info("signed out", "request_id", id, "principal", sess.Principal.Name(), "session", sess.Fingerprint())
	}
	sr.mgr.Clear(w, r)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Clear-Site-Data", `"cache"`)
	prov, err := sr.provider(r.Context())
	if err != nil || prov.endSession == "" {
		s.ssoPage(w, http.StatusOK, pageSignedOut, id, "")
		return
	}
	post := sr.postLogout
	if post == "" {
		base, err := sr.baseURL(rt, r)
		if err != nil {
			s.ssoPage(w, http.StatusOK, pageSignedOut, id, "")
			return
		}
		post = base + "/oauth2/callback"
	}
	end, err := url.Parse(prov.endSession)
	if err != nil {
		s.ssoPage(w, http.StatusOK, pageSignedOut, id, "")
		return
	}
	q := end.Query()
	q.Set("post_logout_redirect_uri", post)
	q.Set("client_id", sr.clientID)
	end.RawQuery = q.Encode()
	http.Redirect(w, r, end.String(), http.StatusFound)
}

// sessionRecord is the audit record of a session event.
func sessionRecord(id string, sess *session.Session, event string, rt *runtime, r *http.Request) audit.Record {
	return audit.Record{
		Kind:             kindSession,
		Time:             rt.now(),
		RequestID:        id,
		Principal:        auditPrincipal(sess.Principal),
		SourceIP:         addrString(rt.trusted.clientAddr(r)),
		Method:           r.Method,
		Path:             r.URL.Path,
		TokenFingerprint: sess.Fingerprint(),
		Detail: map[string]string{
			"event":   event,
			"mfa":     strconv.FormatBool(sess.Principal.HasAMR("mfa")),
			"expires": sess.Expiry.UTC().Format("2006-01-02T15:04:05Z"),
		},
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Pages of the sign-in flow.
type ssoPageKind int

const (
	pageSignInFailed ssoPageKind = iota
	pageSignInUnavailable
	pageSignedOut
	pageSignOutConfirm
)

var ssoTmpl = template.Must(template.New("sso").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · airgate</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;color:#1f2328}
main{max-width:560px;margin:48px auto;background:#fff;padding:32px 40px;border-radius:6px;box-shadow:0 1px 4px rgba(0,0,0,.15)}
h1{font-size:22px;margin:0 0 16px}
p.small{color:#59636e;font-size:13px}
</style>
</head>
<body>
<main>
<h1 id="title">{{.Title}}</h1>
{{if .Message}}<p id="message">{{.Message}}</p>{{end}}
{{if .Confirm}}<form method="post" action="/oauth2/sign_out"><button type="submit" id="sign-out">Sign out of airgate</button></form>{{end}}
{{if .SignIn}}<p><a id="sign-in" href="/oauth2/authorize?rd=%2F">Sign in</a></p>{{end}}
{{if .RequestID}}<p class="small">Request id <code id="request-id">{{.RequestID}}</code></p>{{end}}
</main>
</body>
</html>
`))

func (s *Server) ssoPage(w http.ResponseWriter, status int, kind ssoPageKind, requestID, message string) {
	data := struct {
		Title, Message, RequestID string
		Confirm, SignIn           bool
	}{Message: message, RequestID: requestID}
	switch kind {
	case pageSignInFailed:
		data.Title, data.SignIn = "Sign-in failed", true
	case pageSignInUnavailable:
		data.Title, data.SignIn = "Sign-in unavailable", true
	case pageSignedOut:
		data.Title, data.SignIn, data.Message = "Signed out", true, "You are signed out of airgate."
	case pageSignOutConfirm:
		data.Title, data.Confirm, data.Message = "Sign out?", true, "Do you want to sign out of airgate?"
	}
	var buf bytes.Buffer
	if err := ssoTmpl.Execute(&buf, data); err != nil {
		writeError(w, http.StatusInternalServerError, CodeInternal, "internal error", requestID, nil, nil)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
