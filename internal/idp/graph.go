package idp

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// graphCaller is the authenticated caller of a Graph request.
type graphCaller struct {
	client *app
	user   *user // delegated tokens only
	roles  []string
	scp    []string
}

// has reports whether the caller holds any of the application
// permissions.
func (c *graphCaller) has(perms ...string) bool {
	for _, p := range perms {
		if slices.Contains(c.roles, p) {
			return true
		}
	}
	return false
}

var errGraphDenied = gErr(http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")

// graphAuthenticate validates a bearer token as Microsoft Graph would: a
// token of this tenant's v1 issuer whose audience is Graph, signed by a
// published key (with Graph's nonce transform), within its lifetime.
func (s *Server) graphAuthenticate(r *http.Request) (*graphCaller, *graphError) {
	authz := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(authz, " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, gErr(401, "InvalidAuthenticationToken", "Access token is empty.")
	}
	now := s.now()
	_, claims, err := verifyJWT(s.keys, tok, now)
	switch {
	case errors.Is(err, errTokenMalformed):
		return nil, gErr(401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed. Access token validation failure.")
	case err != nil:
		return nil, gErr(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid signature.")
	}
	if stringClaim(claims, "iss") != s.issuer(1) || stringClaim(claims, "tid") != s.dir.tenantID {
		return nil, gErr(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid issuer.")
	}
	switch stringClaim(claims, "aud") {
	case graphResource, graphResource + "/", graphAppID:
	default:
		return nil, gErr(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
	}
	exp, ok1 := numericClaim(claims, "exp")
	nbf, ok2 := numericClaim(claims, "nbf")
	if !ok1 || !ok2 || now.After(time.Unix(exp, 0).Add(clockSkew)) {
		return nil, gErr(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
	}
	if now.Add(clockSkew).Before(time.Unix(nbf, 0)) {
		return nil, gErr(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is not yet valid.")
	}
	c := &graphCaller{client: s.dir.client(stringClaim(claims, "appid"))}
	if c.client == nil {
		return nil, gErr(401, "InvalidAuthenticationToken", "Access token validation failure. Unknown application.")
	}
	if rs, ok := claims["roles"].([]any); ok {
		for _, r := range rs {
			if s, ok := r.(string); ok {
				c.roles = append(c.roles, s)
			}
		}
	}
	if scp := stringClaim(claims, "scp"); scp != "" {
		c.scp = strings.Fields(scp)
		c.user = s.dir.userByKey(stringClaim(claims, "oid"))
		if c.user == nil {
			return nil, gErr(401, "InvalidAuthenticationToken", "Access token validation failure. Unknown user.")
		}
	}
	return c, nil
}

// serveGraph routes /graph/... requests: /graph/v1.0/... is the Microsoft
// Graph v1.0 API (application permissions only), /graph/oidc/userinfo the
// OpenID Connect userinfo endpoint.
func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request, segs []string) {
	if len(segs) == 2 && segs[0] == "oidc" && segs[1] == "userinfo" {
		s.serveUserinfo(w, r)
		return
	}
	if len(segs) < 2 || segs[0] != "v1.0" {
		s.writeGraphError(w, r, gErr(400, "BadRequest", "Invalid version."))
		return
	}
	segs = segs[1:]
	c, e := s.graphAuthenticate(r)
	if e != nil {
		s.writeGraphError(w, r, e)
		return
	}
	if c.user != nil {
		// The emulator implements application permissions only.
		s.writeGraphError(w, r, errGraphDenied)
		return
	}
	for _, opt := range []string{"$filter", "$search", "$orderby", "$expand", "$count"} {
		if r.URL.Query().Has(opt) {
			s.writeGraphError(w, r, gErr(400, "Request_UnsupportedQuery", "The emulator does not support the query option '%s'.", opt))
			return
		}
	}
	switch {
	case segs[0] == "users" && len(segs) >= 2:
		e = s.graphUsers(w, r, c, segs[1:])
	case segs[0] == "applications" && len(segs) >= 2:
		e = s.graphApplications(w, r, c, segs[1], false, segs[2:])
	case strings.HasPrefix(segs[0], "applications("):
		key, ok := parseAppIDKey(segs[0])
		if !ok {
			e = gErr(400, "BadRequest", "Invalid object identifier '%s'.", truncate(segs[0], 100))
			break
		}
		e = s.graphApplications(w, r, c, key, true, segs[1:])
	default:
		e = gErr(400, "BadRequest", "Resource not found for the segment '%s'.", truncate(segs[0], 100))
	}
	if e != nil {
		s.writeGraphError(w, r, e)
	}
}

// parseAppIDKey reads applications(appId='...').
func parseAppIDKey(seg string) (string, bool) {
	inner, ok := strings.CutPrefix(seg, "applications(")
	if !ok || !strings.HasSuffix(inner, ")") {
		return "", false
	}
	inner = strings.TrimSuffix(inner, ")")
	v, ok := strings.CutPrefix(inner, "appId=")
	if !ok || len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
		return "", false
	}
	return v[1 : len(v)-1], true
}

// readGraphJSON decodes a bounded JSON request body into v. An empty body
// leaves v untouched when optional.
func readGraphJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) *graphError {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 256<<10))
	if err != nil {
		return gErr(413, "Request_BadRequest", "The request body is too large.")
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		if optional {
			return nil
		}
		return gErr(400, "BadRequest", "Empty Payload. JSON content expected.")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return gErr(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
	}
	return nil
}

// serveUserinfo is the OpenID Connect userinfo endpoint (Graph's
// /oidc/userinfo): it takes a delegated Graph token.
func (s *Server) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	c, e := s.graphAuthenticate(r)
	if e != nil {
		s.writeGraphError(w, r, e)
		return
	}
	if c.user == nil {
		s.writeGraphError(w, r, errGraphDenied)
		return
	}
	u := c.user
	out := map[string]any{"sub": s.pairwiseSub(c.client.appID, u.id), "name": u.displayName}
	setIf(out, "family_name", u.surname)
	setIf(out, "given_name", u.givenName)
	setIf(out, "email", u.mail)
	writeJSON(w, http.StatusOK, out)
}

func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
