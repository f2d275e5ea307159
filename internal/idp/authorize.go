package idp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// authorizeRequest is a validated /authorize request.
type authorizeRequest struct {
	version      int
	clientID     string
	redirectURI  string
	responseMode string
	scope        string
	resource     string // v1
	state        string
	nonce        string
	challenge    string
	prompt       string
	loginHint    string
	clientInfo   bool
}

type redirectKind int

const (
	redirectWeb redirectKind = iota
	redirectPublic
)

// parseRedirect checks a redirect URI's syntax: absolute, no fragment,
// plain http only for loopback hosts.
func parseRedirect(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return nil, errors.New("must be an absolute URI")
	}
	if u.Fragment != "" {
		return nil, errors.New("must not have a fragment")
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, errors.New("http is allowed for loopback hosts only")
	}
	return u, nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// redirectMatches compares a requested redirect URI with a registered
// one. Loopback http URIs match on any port, as Entra does for localhost;
// everything else must match exactly.
func redirectMatches(registered, requested string) bool {
	if registered == requested {
		return true
	}
	reg, err1 := url.Parse(registered)
	req, err2 := url.Parse(requested)
	if err1 != nil || err2 != nil || req.Fragment != "" {
		return false
	}
	if reg.Scheme != "http" || !isLoopback(reg.Hostname()) {
		return false
	}
	path := func(p string) string {
		if p == "" {
			return "/"
		}
		return p
	}
	return req.Scheme == "http" && req.Hostname() == reg.Hostname() &&
		path(req.EscapedPath()) == path(reg.EscapedPath()) && req.RawQuery == reg.RawQuery && req.User == nil
}

// matchRedirect reports whether uri is a registered redirect URI of a and
// of which platform.
func (a *app) matchRedirect(uri string) (redirectKind, bool) {
	for _, r := range a.redirectURIs {
		if redirectMatches(r, uri) {
			return redirectWeb, true
		}
	}
	for _, r := range a.publicRedirectURIs {
		if redirectMatches(r, uri) {
			return redirectPublic, true
		}
	}
	return 0, false
}

// serveAuthorize is the authorize endpoint: GET validates the request and
// shows the sign-in page; POST is the page's form, which issues the code.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request, t tenantRef, v int) {
	switch r.Method {
	case http.MethodGet:
		s.authorizeGet(w, r, v)
	case http.MethodPost:
		s.authorizePost(w, r)
	default:
		methodNotAllowed(w, "GET, POST")
	}
}

func (s *Server) authorizeGet(w http.ResponseWriter, r *http.Request, v int) {
	q := r.URL.Query()
	req := authorizeRequest{
		version: v, clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"),
		responseMode: q.Get("response_mode"), scope: q.Get("scope"), resource: q.Get("resource"),
		state: q.Get("state"), nonce: q.Get("nonce"), challenge: q.Get("code_challenge"),
		prompt: q.Get("prompt"), loginHint: q.Get("login_hint"), clientInfo: q.Get("client_info") == "1",
	}
	// Until client and redirect URI are known good, errors are shown, not
	// redirected (an open redirector otherwise).
	if req.clientID == "" {
		s.errorPage(w, r, errMissingParam("client_id"))
		return
	}
	client := s.dir.client(req.clientID)
	if client == nil {
		s.errorPage(w, r, errUnknownClient(truncate(req.clientID, 64), s.dir.tenantID))
		return
	}
	if req.redirectURI == "" {
		s.errorPage(w, r, stsErr(400, "invalid_request", 900971, "No reply address provided."))
		return
	}
	if _, ok := client.matchRedirect(req.redirectURI); !ok {
		s.errorPage(w, r, stsErr(400, "invalid_request", 50011, "The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.", truncate(req.redirectURI, 200), client.appID))
		return
	}
	switch req.responseMode {
	case "":
		req.responseMode = "query"
	case "query", "fragment", "form_post":
	default:
		m := req.responseMode
		req.responseMode = "query"
		s.authError(w, r, req, stsErr(400, "invalid_request", 70007, "The application requested an unsupported response_mode '%s'.", truncate(m, 50)))
		return
	}
	if rt := q.Get("response_type"); rt != "code" {
		if rt == "" {
			s.authError(w, r, req, errMissingParam("response_type"))
			return
		}
		s.authError(w, r, req, stsErr(400, "unsupported_response_type", 700054, "response_type '%s' is not enabled for the application.", truncate(rt, 50)))
		return
	}
	if v == 2 {
		if req.resource != "" {
			s.authError(w, r, req, stsErr(400, "invalid_request", 901002, "The 'resource' request parameter is not supported."))
			return
		}
		if req.scope == "" {
			s.authError(w, r, req, errMissingParam("scope"))
			return
		}
		if _, e := s.parseScopes(req.scope, false); e != nil {
			s.authError(w, r, req, e)
			return
		}
	} else {
		if req.resource == "" {
			req.resource = graphResource
		}
		if s.dir.resource(req.resource) == nil {
			s.authError(w, r, req, stsErr(400, "invalid_resource", 500011, "The resource principal named %s was not found in the tenant named %s.", truncate(req.resource, 200), s.dir.displayName))
			return
		}
	}
	// PKCE with S256 is required. Entra also accepts the plain method; the
	// emulator refuses it so airgate cannot regress to it.
	if req.challenge == "" {
		s.authError(w, r, req, errMissingParam("code_challenge"))
		return
	}
	if m := q.Get("code_challenge_method"); m != "S256" {
		s.authError(w, r, req, stsErr(400, "invalid_request", 90100, "The code_challenge_method parameter is empty or not valid: '%s'. Only S256 is supported.", truncate(m, 20)))
		return
	}
	if len(req.challenge) != 43 {
		s.authError(w, r, req, stsErr(400, "invalid_request", 501491, "Invalid size of Code_Challenge parameter."))
		return
	}
	if req.prompt == "none" {
		s.authError(w, r, req, stsErr(400, "login_required", 50058, "A silent sign-in request was sent but no user is signed in."))
		return
	}
	id := randomToken(24)
	s.pending.put(id, &pendingAuth{req: req, expires: s.now().Add(s.codeLifetime())}, s.now())
	s.signInPage(w, r, id, client, req.loginHint, req.redirectURI)
}

// authorizePost handles the sign-in page: the chosen user (and the MFA
// switch) produce an authorization code sent to the redirect URI.
func (s *Server) authorizePost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, r, errMalformed())
		return
	}
	pa, ok := s.pending.take(r.PostForm.Get("request"), s.now())
	if !ok {
		s.errorPage(w, r, stsErr(400, "invalid_request", 50089, "Authentication failed due to flow token expired. Start the sign-in again."))
		return
	}
	req := pa.req
	u, _ := s.dir.byName[r.PostForm.Get("user")].(*user)
	if u == nil {
		s.errorPage(w, r, stsErr(400, "invalid_request", 50034, "The user account does not exist in the %s directory.", s.dir.tenantID))
		return
	}
	amr := []string{"pwd"}
	switch strings.ToLower(r.PostForm.Get("mfa")) {
	case "on", "1", "true", "yes":
		amr = append(amr, "mfa")
	}
	code := "1.A" + randomToken(64)
	now := s.now()
	sid := newGUID()
	s.codes.put(code, &authCode{
		clientID: req.clientID, redirectURI: req.redirectURI, scope: req.scope, resource: req.resource,
		user: u, amr: amr, challenge: req.challenge, nonce: req.nonce, sid: sid, version: req.version,
		authTime: now, expires: now.Add(s.codeLifetime()),
	})
	s.log.Info("user signed in", "oid", u.id, "client_id", req.clientID, "mfa", len(amr) > 1, "code_fp", fingerprint(code))
	params := url.Values{"code": {code}, "session_state": {sid}}
	if req.state != "" {
		params.Set("state", req.state)
	}
	if req.clientInfo {
		params.Set("client_info", s.clientInfo(u))
	}
	s.deliver(w, r, req, params)
}

// authError sends an error to the client's redirect URI.
func (s *Server) authError(w http.ResponseWriter, r *http.Request, req authorizeRequest, e *stsError) {
	body := s.stsBody(r, e)
	s.log.Info("authorize error", "error", e.code, "aadsts", e.aadsts, "trace_id", body.TraceID)
	params := url.Values{"error": {body.Error}, "error_description": {body.ErrorDescription}, "error_uri": {body.ErrorURI}}
	if req.state != "" {
		params.Set("state", req.state)
	}
	s.deliver(w, r, req, params)
}

// deliver returns params to the redirect URI by the response mode.
func (s *Server) deliver(w http.ResponseWriter, r *http.Request, req authorizeRequest, params url.Values) {
	u, err := url.Parse(req.redirectURI)
	if err != nil {
		s.errorPage(w, r, errMalformed())
		return
	}
	switch req.responseMode {
	case "form_post":
		s.formPost(w, req.redirectURI, params)
		return
	case "fragment":
		u.Fragment = params.Encode()
	default:
		q := u.Query()
		for k, vs := range params {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// errorPage shows an error the user cannot be redirected with.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, e *stsError) {
	body := s.stsBody(r, e)
	s.log.Info("authorize error page", "error", e.code, "aadsts", e.aadsts, "trace_id", body.TraceID)
	renderHTML(w, e.status, errorTmpl, map[string]any{
		"Message": fmt.Sprintf("AADSTS%d: %s", e.aadsts, e.msg),
		"Error":   e.code, "TraceID": body.TraceID, "CorrelationID": body.CorrelationID, "Timestamp": body.Timestamp,
	})
}
