package idp

import (
	"encoding/base64"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

const (
	maxFormBytes          = 1 << 20
	assertionTypeJWT      = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	clockSkew             = 5 * time.Minute
	clientAuthPublic      = "0"
	clientAuthSecret      = "1"
	clientAuthCertificate = "2"
)

// tokenReq is one call of the token endpoint.
type tokenReq struct {
	r       *http.Request
	form    url.Values
	tenant  tenantRef
	version int // 2 for /oauth2/v2.0/token, 1 for /oauth2/token

	client     *app
	clientAuth string // "0" public, "1" secret, "2" certificate
}

// serveToken is the token endpoint. It reads a bounded form body, rejects
// what Entra rejects and dispatches on grant_type.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, t tenantRef, v int) {
	if r.Method == http.MethodOptions {
		w.Header().Set("Allow", "POST, OPTIONS")
		w.WriteHeader(http.StatusOK)
		return
	}
	if r.Method != http.MethodPost {
		s.writeSTSError(w, r, stsErr(405, "invalid_request", 900561, "The endpoint only accepts POST, OPTIONS requests. Received a %s request.", truncate(r.Method, 16)))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		s.writeSTSError(w, r, errMissingParam("grant_type"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.writeSTSError(w, r, errMalformed())
		return
	}
	tr := &tokenReq{r: r, form: r.PostForm, tenant: t, version: v}
	if v == 2 && tr.form.Has("resource") {
		s.writeSTSError(w, r, stsErr(400, "invalid_request", 901002, "The 'resource' request parameter is not supported."))
		return
	}
	grant := tr.form.Get("grant_type")
	var resp any
	var e *stsError
	switch grant {
	case "":
		e = errMissingParam("grant_type")
	case "authorization_code":
		resp, e = s.grantAuthCode(tr)
	case "refresh_token":
		resp, e = s.grantRefresh(tr)
	case "client_credentials":
		resp, e = s.grantClientCredentials(tr)
	case "password":
		resp, e = s.grantPassword(tr)
	default:
		e = stsErr(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'.", truncate(grant, 100))
	}
	if e != nil {
		s.writeSTSError(w, r, e)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// authenticateClient finds the client and checks its credential: a client
// secret (form or HTTP Basic) or a certificate assertion. Without a
// credential the client is public, which only grants that allow it accept
// (required false).
func (s *Server) authenticateClient(tr *tokenReq, required bool) *stsError {
	f := tr.form
	clientID := f.Get("client_id")
	secret, hasSecret := f.Get("client_secret"), f.Has("client_secret")
	if u, p, ok := tr.r.BasicAuth(); ok {
		// RFC 6749 2.3.1: both parts are form-urlencoded.
		uu, err1 := url.QueryUnescape(u)
		pp, err2 := url.QueryUnescape(p)
		if err1 != nil || err2 != nil {
			return errMalformed()
		}
		if clientID != "" && clientID != uu {
			return stsErr(401, "invalid_client", 700021, "Client assertion application identifier doesn't match 'client_id' parameter.")
		}
		clientID, secret, hasSecret = uu, pp, true
	}
	assertion := f.Get("client_assertion")
	if assertion != "" && clientID == "" {
		// MSAL and others may omit client_id next to an assertion.
		if tok, err := josejwt.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.RS256, jose.PS256}); err == nil {
			var c josejwt.Claims
			if tok.UnsafeClaimsWithoutVerification(&c) == nil {
				clientID = c.Issuer
			}
		}
	}
	if clientID == "" {
		return errMissingParam("client_id")
	}
	client := s.dir.client(clientID)
	if client == nil {
		return errUnknownClient(truncate(clientID, 64), s.dir.tenantID)
	}
	tr.client = client
	switch {
	case hasSecret && assertion != "":
		return stsErr(400, "invalid_request", 9002313, "Invalid request. Both 'client_secret' and 'client_assertion' were presented; send one.")
	case hasSecret:
		switch s.dir.checkSecret(client, secret, s.now()) {
		case secretValid:
			tr.clientAuth = clientAuthSecret
			s.log.Info("client authenticated", "client_id", client.appID, "method", "secret", "secret_fp", fingerprint(secret))
			return nil
		case secretExpired:
			return stsErr(401, "invalid_client", 7000222, "The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.", client.appID)
		default:
			return stsErr(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", client.appID)
		}
	case assertion != "":
		if at := f.Get("client_assertion_type"); at != assertionTypeJWT {
			if at == "" {
				return errMissingParam("client_assertion_type")
			}
			return stsErr(400, "invalid_request", 50027, "Invalid JWT token. The client_assertion_type '%s' is not supported.", truncate(at, 100))
		}
		if e := s.verifyClientAssertion(tr, client, assertion); e != nil {
			return e
		}
		tr.clientAuth = clientAuthCertificate
		return nil
	case required:
		return stsErr(401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	tr.clientAuth = clientAuthPublic
	return nil
}

// verifyClientAssertion checks a certificate client assertion: RS256 or
// PS256, signed by a registered certificate named by x5t (SHA-1) or
// x5t#S256 (SHA-256; MSAL sends standard base64), iss = sub = client id,
// aud = this tenant's token endpoint, and a valid time range.
func (s *Server) verifyClientAssertion(tr *tokenReq, client *app, assertion string) *stsError {
	now := s.now()
	tok, err := josejwt.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.RS256, jose.PS256})
	if err != nil || len(tok.Headers) != 1 {
		return stsErr(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
	}
	h := tok.Headers[0]
	sha1Print := thumbprintHeader(h.ExtraHeaders["x5t"])
	sha256Print := thumbprintHeader(h.ExtraHeaders["x5t#S256"])
	key := s.dir.keyByThumbprint(client, sha1Print, sha256Print)
	if key == nil {
		return stsErr(401, "invalid_client", 700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found.]")
	}
	var c josejwt.Claims
	if err := tok.Claims(key.cert.PublicKey, &c); err != nil {
		return stsErr(401, "invalid_client", 700027, "Client assertion failed signature validation.")
	}
	if now.After(key.end) || now.Before(key.start) {
		return stsErr(401, "invalid_client", 700027, "Client assertion contains an invalid signature. [Reason - The key used is expired.]")
	}
	if c.Issuer != c.Subject {
		return stsErr(401, "invalid_client", 50048, "Subject mismatches Issuer claim in the client assertion.")
	}
	if !strings.EqualFold(c.Issuer, client.appID) {
		return stsErr(401, "invalid_client", 700021, "Client assertion application identifier doesn't match 'client_id' parameter.")
	}
	if !s.assertionAudienceOK(tr, c.Audience) {
		return stsErr(401, "invalid_client", 700023, "Client assertion audience claim does not match Realm issuer.")
	}
	if c.Expiry == nil || now.After(c.Expiry.Time().Add(clockSkew)) || (c.NotBefore != nil && now.Add(clockSkew).Before(c.NotBefore.Time())) {
		return stsErr(401, "invalid_client", 700024, "Client assertion is not within its valid time range. Current time: %s.", now.UTC().Format(time.RFC3339))
	}
	s.log.Info("client authenticated", "client_id", client.appID, "method", "certificate", "key_id", key.keyID)
	return nil
}

// assertionAudienceOK accepts the tenant's v2 or v1 token endpoint, by
// tenant id, domain or the path the client called.
func (s *Server) assertionAudienceOK(tr *tokenReq, aud josejwt.Audience) bool {
	base := s.base()
	var ok []string
	for _, seg := range []string{s.dir.tenantID, s.dir.domain, tr.tenant.segment} {
		ok = append(ok, base+"/"+seg+"/oauth2/v2.0/token", base+"/"+seg+"/oauth2/token")
	}
	for _, a := range aud {
		for _, o := range ok {
			if strings.EqualFold(a, o) {
				return true
			}
		}
	}
	return false
}

// thumbprintHeader decodes an x5t or x5t#S256 header value, accepting
// base64url (the standard) and standard base64 (what MSAL Go sends).
func thumbprintHeader(v any) []byte {
	s, ok := v.(string)
	if !ok || s == "" {
		return nil
	}
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b
		}
	}
	return nil
}

// tokenResponse is the v2 token endpoint's success body.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope,omitempty"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	ClientInfo   string `json:"client_info,omitempty"`
}

// render shapes a response for the endpoint version: v1 responses carry
// string-valued expiries, expires_on, not_before and resource.
func (s *Server) render(tr *tokenReq, resp tokenResponse, sr scopeRequest) any {
	if tr.version == 2 {
		return resp
	}
	now := s.now().Unix()
	m := map[string]any{
		"token_type":     resp.TokenType,
		"expires_in":     strconv.Itoa(resp.ExpiresIn),
		"ext_expires_in": strconv.Itoa(resp.ExtExpiresIn),
		"expires_on":     strconv.FormatInt(now+int64(resp.ExpiresIn), 10),
		"not_before":     strconv.FormatInt(now, 10),
		"resource":       sr.resourceID,
		"access_token":   resp.AccessToken,
	}
	if resp.Scope != "" {
		m["scope"] = sr.scp()
	}
	if resp.RefreshToken != "" {
		m["refresh_token"] = resp.RefreshToken
	}
	if resp.IDToken != "" {
		m["id_token"] = resp.IDToken
	}
	if resp.ClientInfo != "" {
		m["client_info"] = resp.ClientInfo
	}
	return m
}

// scopesFor reads the requested scopes: the scope parameter on v2; on v1
// the resource parameter (plus openid and offline_access from scope).
func (s *Server) scopesFor(tr *tokenReq, strict bool, fallback string) (scopeRequest, *stsError) {
	if tr.version == 1 {
		res := tr.form.Get("resource")
		if res == "" {
			if fallback != "" {
				return s.parseScopes(fallback, strict)
			}
			return scopeRequest{}, errMissingParam("resource")
		}
		raw := res + "/.default"
		for _, f := range strings.Fields(tr.form.Get("scope")) {
			if isOIDCScope(f) {
				raw += " " + f
			}
		}
		if !strict {
			raw += " openid profile offline_access"
		}
		return s.parseScopes(raw, strict)
	}
	raw := tr.form.Get("scope")
	if raw == "" && fallback != "" {
		raw = fallback
	}
	return s.parseScopes(raw, strict)
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	return host
}
