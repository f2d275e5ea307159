package idp

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"time"
)

var verifierRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// grantAuthCode redeems an authorization code: client authentication
// first (so nobody else can burn a code), then the code, exactly once,
// then the redirect URI and the PKCE verifier.
func (s *Server) grantAuthCode(tr *tokenReq) (any, *stsError) {
	code := tr.form.Get("code")
	if code == "" {
		return nil, errMissingParam("code")
	}
	redirect := tr.form.Get("redirect_uri")
	if redirect == "" {
		return nil, errMissingParam("redirect_uri")
	}
	// A code sent to a web redirect URI needs a confidential client; one
	// sent to a public-client (desktop) redirect URI does not.
	clientID := tr.form.Get("client_id")
	needCreds := true
	if a := s.dir.client(clientID); a != nil {
		if kind, ok := a.matchRedirect(redirect); ok && kind == redirectPublic {
			needCreds = false
		}
	}
	if e := s.authenticateClient(tr, needCreds); e != nil {
		return nil, e
	}
	ac, outcome := s.codes.redeem(code, s.now())
	switch outcome {
	case codeUnknown:
		return nil, stsErr(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid. The provided authorization code is not valid.")
	case codeRedeemed:
		s.log.Warn("authorization code replayed", "client_id", tr.client.appID, "code_fp", fingerprint(code))
		return nil, stsErr(400, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
	case codeExpired:
		return nil, stsErr(400, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
	}
	if ac.clientID != tr.client.appID {
		return nil, stsErr(400, "invalid_grant", 70000, "The provided value for the 'code' parameter is not valid. The code was issued to a different client.")
	}
	if redirect != ac.redirectURI {
		return nil, stsErr(400, "invalid_grant", 50011, "The redirect URI '%s' specified in the request does not match the redirect URI used to obtain the authorization code.", truncate(redirect, 200))
	}
	verifier := tr.form.Get("code_verifier")
	if verifier == "" {
		return nil, errMissingParam("code_verifier")
	}
	sum := sha256.Sum256([]byte(verifier))
	if !verifierRE.MatchString(verifier) || subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(ac.challenge)) != 1 {
		return nil, stsErr(400, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
	}
	fallback := ac.scope
	if ac.version == 1 {
		fallback = ac.resource + "/.default openid profile offline_access"
	}
	sr, e := s.scopesFor(tr, false, fallback)
	if e != nil {
		return nil, e
	}
	sub := subject{user: ac.user, client: tr.client, clientAuth: tr.clientAuth, amr: ac.amr, sid: ac.sid, ipaddr: remoteIP(tr.r)}
	g := &refreshGrant{clientID: tr.client.appID, user: ac.user, amr: ac.amr, sid: ac.sid, confidential: tr.clientAuth != clientAuthPublic, authTime: ac.authTime}
	return s.userTokens(tr, sub, sr, ac.nonce, g)
}

// grantRefresh redeems a refresh token. Refresh tokens slide: each use
// returns a new one; the old one is not revoked (as in Entra) but expires
// after the inactivity period.
func (s *Server) grantRefresh(tr *tokenReq) (any, *stsError) {
	rt := tr.form.Get("refresh_token")
	if rt == "" {
		return nil, errMissingParam("refresh_token")
	}
	g, ok := s.refresh.get(rt)
	// A refresh token issued to an authenticated client needs the same
	// client's credentials again; one from a public flow does not.
	required := (ok && g.confidential) || (!ok && !s.publicAllowed(tr))
	if e := s.authenticateClient(tr, required); e != nil {
		return nil, e
	}
	if !ok {
		return nil, stsErr(400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid. The provided refresh token is not valid.")
	}
	now := s.now()
	if now.Sub(g.lastUsed) > s.refreshInactivity() {
		e := stsErr(400, "invalid_grant", 700082, "The refresh token has expired due to inactivity. The token was issued on %s and was inactive for %s.", g.issued.UTC().Format(time.RFC3339Nano), formatTimeSpan(s.refreshInactivity()))
		e.suberror = "bad_token"
		return nil, e
	}
	if g.clientID != tr.client.appID {
		return nil, stsErr(400, "invalid_grant", 70000, "The provided value for the 'refresh_token' parameter is not valid. The refresh token was issued to a different client.")
	}
	sr, e := s.scopesFor(tr, false, "")
	if e != nil {
		return nil, e
	}
	sub := subject{user: g.user, client: tr.client, clientAuth: tr.clientAuth, amr: g.amr, sid: g.sid, ipaddr: remoteIP(tr.r)}
	next := g
	next.confidential = g.confidential || tr.clientAuth != clientAuthPublic
	sr.offline = true // a refresh always returns a new refresh token
	return s.userTokens(tr, sub, sr, "", &next)
}

// publicAllowed reports whether the requesting client may use the
// refresh grant without credentials.
func (s *Server) publicAllowed(tr *tokenReq) bool {
	a := s.dir.client(tr.form.Get("client_id"))
	return a != nil && a.allowPublicClient && !tr.form.Has("client_secret") && !tr.form.Has("client_assertion")
}

// grantPassword is the resource owner password credentials grant (ROPC),
// kept for tests and the demo. It cannot satisfy MFA.
func (s *Server) grantPassword(tr *tokenReq) (any, *stsError) {
	clientID := tr.form.Get("client_id")
	required := true
	if a := s.dir.client(clientID); a != nil && a.allowPublicClient {
		required = false
	}
	if e := s.authenticateClient(tr, required); e != nil {
		return nil, e
	}
	username, password := tr.form.Get("username"), tr.form.Get("password")
	if username == "" {
		return nil, errMissingParam("username")
	}
	if password == "" {
		return nil, errMissingParam("password")
	}
	var u *user
	if strings.Contains(username, "@") {
		u = s.dir.userByKey(username)
	}
	if u == nil {
		return nil, stsErr(400, "invalid_grant", 50034, "The user account {EmailHidden} does not exist in the %s directory. To sign into this application, the account must be added to the directory.", s.dir.tenantID)
	}
	if subtle.ConstantTimeCompare([]byte(password), []byte(u.password)) != 1 {
		s.log.Info("password sign-in failed", "oid", u.id)
		return nil, stsErr(400, "invalid_grant", 50126, "Error validating credentials due to invalid username or password.")
	}
	sr, e := s.scopesFor(tr, false, "")
	if e != nil {
		return nil, e
	}
	amr := []string{"pwd"}
	sid := newGUID()
	sub := subject{user: u, client: tr.client, clientAuth: tr.clientAuth, amr: amr, sid: sid, ipaddr: remoteIP(tr.r)}
	g := &refreshGrant{clientID: tr.client.appID, user: u, amr: amr, sid: sid, confidential: tr.clientAuth != clientAuthPublic, authTime: s.now()}
	return s.userTokens(tr, sub, sr, "", g)
}

// grantClientCredentials issues an app-only token. The client must
// authenticate; the scope must be exactly one resource's /.default (the
// OpenID Connect scopes MSAL adds are ignored).
func (s *Server) grantClientCredentials(tr *tokenReq) (any, *stsError) {
	if tr.tenant.multi {
		return nil, stsErr(400, "invalid_request", 9001023, "The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.")
	}
	if e := s.authenticateClient(tr, true); e != nil {
		return nil, e
	}
	sr, e := s.scopesFor(tr, true, "")
	if e != nil {
		return nil, e
	}
	sub := subject{client: tr.client, clientAuth: tr.clientAuth}
	at, life, e := s.mintAccessToken(sub, sr)
	if e != nil {
		return nil, e
	}
	secs := int(life / time.Second)
	s.log.Info("token issued", "grant", "client_credentials", "client_id", tr.client.appID, "resource", sr.resource.appID, "token_fp", fingerprint(at))
	return s.render(tr, tokenResponse{TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: at}, sr), nil
}

// userTokens issues the access token, and the ID token, refresh token and
// client_info a user flow returns.
func (s *Server) userTokens(tr *tokenReq, sub subject, sr scopeRequest, nonce string, g *refreshGrant) (any, *stsError) {
	at, life, e := s.mintAccessToken(sub, sr)
	if e != nil {
		return nil, e
	}
	secs := int(life / time.Second)
	resp := tokenResponse{TokenType: "Bearer", Scope: sr.grantedScope(), ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: at}
	if sr.openid || tr.version == 1 {
		id, err := s.mintIDToken(sub, tr.version, nonce, sr)
		if err != nil {
			return nil, stsErr(500, "server_error", 50000, "There was an error issuing a token.")
		}
		resp.IDToken = id
	}
	if sr.offline {
		now := s.now()
		g.issued, g.lastUsed = now, now
		rt := "1.A" + randomToken(96)
		s.refresh.put(rt, g)
		resp.RefreshToken = rt
	}
	if tr.form.Get("client_info") == "1" {
		resp.ClientInfo = s.clientInfo(sub.user)
	}
	s.log.Info("token issued", "grant", tr.form.Get("grant_type"), "client_id", sub.client.appID, "oid", sub.user.id, "resource", sr.resource.appID, "token_fp", fingerprint(at))
	return s.render(tr, resp, sr), nil
}

// formatTimeSpan renders d as .NET's TimeSpan (D.HH:MM:SS), as Entra's
// messages do.
func formatTimeSpan(d time.Duration) string {
	days := int(d / (24 * time.Hour))
	d -= time.Duration(days) * 24 * time.Hour
	h, m, sec := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	return fmt.Sprintf("%d.%02d:%02d:%02d", days, h, m, sec)
}

// s256 is the PKCE S256 transform of a code verifier.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
