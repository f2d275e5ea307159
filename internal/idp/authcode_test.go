package idp

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// codeFor signs alice in and returns a fresh authorization code with its
// PKCE verifier.
func codeFor(t *testing.T, s *Server, info ReadyInfo, redirect string) (code, verifier string) {
	t.Helper()
	verifier, challenge := pkce()
	params := url.Values{
		"client_id": {DemoAirgateClientID}, "response_type": {"code"}, "redirect_uri": {redirect},
		"scope": {"api://airgate/access_as_user openid offline_access"}, "state": {"s"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	resp, page := authorize(t, s, info.AuthorizeEndpoint, params)
	if resp.StatusCode != 200 {
		t.Fatalf("authorize: %d %s", resp.StatusCode, page)
	}
	loc := pickUser(t, s, info.AuthorizeEndpoint, page, "alice", false)
	code = loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in %v", loc)
	}
	return code, verifier
}

func TestAuthCodeRedemption(t *testing.T) {
	s, info := startServer(t, Options{})
	secret := info.Apps["airgate"].ClientSecret
	const redirect = "http://127.0.0.1:43123/oauth2/callback"
	redeem := func(code, verifier string, extra url.Values) (int, map[string]any) {
		form := url.Values{
			"grant_type": {"authorization_code"}, "client_id": {DemoAirgateClientID}, "client_secret": {secret},
			"code": {code}, "redirect_uri": {redirect}, "scope": {"api://airgate/access_as_user openid offline_access"},
		}
		if verifier != "" {
			form.Set("code_verifier", verifier)
		}
		for k, v := range extra {
			form[k] = v
		}
		return postForm(t, s, info.TokenEndpoint, form)
	}
	t.Run("success then replay", func(t *testing.T) {
		code, verifier := codeFor(t, s, info, redirect)
		status, body := redeem(code, verifier, nil)
		if status != 200 || body["refresh_token"] == nil || body["id_token"] == nil {
			t.Fatalf("redeem: %d %v", status, body)
		}
		rt := body["refresh_token"].(string)
		status, body = redeem(code, verifier, nil)
		wantSTSError(t, status, body, 400, "invalid_grant", 54005)
		// The refresh token went to a confidential client: refreshing
		// needs its secret again.
		refresh := url.Values{"grant_type": {"refresh_token"}, "client_id": {DemoAirgateClientID}, "refresh_token": {rt}, "scope": {"api://airgate/access_as_user"}}
		status, body = postForm(t, s, info.TokenEndpoint, refresh)
		wantSTSError(t, status, body, 401, "invalid_client", 7000218)
		refresh.Set("client_secret", secret)
		if status, body = postForm(t, s, info.TokenEndpoint, refresh); status != 200 {
			t.Errorf("refresh with the secret: %d %v", status, body)
		}
	})
	tests := []struct {
		name     string
		verifier func(good string) string
		extra    url.Values
		status   int
		err      string
		code     int
	}{
		{"missing verifier", func(string) string { return "" }, nil, 400, "invalid_request", 900144},
		{"wrong verifier", func(string) string { _, v := pkce(); return strings.Repeat("x", 43) + v[:0] }, nil, 400, "invalid_grant", 501481},
		{"verifier of another challenge", func(string) string { v, _ := pkce(); return v }, nil, 400, "invalid_grant", 501481},
		{"challenge sent as verifier", func(good string) string { return s256(good) }, nil, 400, "invalid_grant", 501481},
		{"other redirect uri", func(good string) string { return good }, url.Values{"redirect_uri": {"http://localhost:1/oauth2/callback"}}, 400, "invalid_grant", 50011},
		{"no client secret", func(good string) string { return good }, url.Values{"client_secret": {""}}, 401, "invalid_client", 7000215},
		{"wrong client", func(good string) string { return good }, url.Values{"client_id": {DemoETLAgentClientID}, "client_secret": {info.Apps["etl-agent"].ClientSecret}}, 400, "invalid_grant", 70000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, good := codeFor(t, s, info, redirect)
			status, body := redeem(code, tc.verifier(good), tc.extra)
			wantSTSError(t, status, body, tc.status, tc.err, tc.code)
		})
	}
	t.Run("unknown code", func(t *testing.T) {
		status, body := redeem("1.Anot-a-code", strings.Repeat("v", 43), nil)
		wantSTSError(t, status, body, 400, "invalid_grant", 9002313)
	})
	t.Run("client secret omitted entirely", func(t *testing.T) {
		code, good := codeFor(t, s, info, redirect)
		form := url.Values{"grant_type": {"authorization_code"}, "client_id": {DemoAirgateClientID}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {good}}
		status, body := postForm(t, s, info.TokenEndpoint, form)
		wantSTSError(t, status, body, 401, "invalid_client", 7000218)
	})
}

func TestAuthorizeRequestErrors(t *testing.T) {
	s, info := startServer(t, Options{})
	_, challenge := pkce()
	good := func() url.Values {
		return url.Values{
			"client_id": {DemoAirgateClientID}, "response_type": {"code"},
			"redirect_uri": {"http://localhost:5555/oauth2/callback"}, "scope": {"api://airgate/access_as_user"},
			"state": {"xyz"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
		}
	}
	tests := []struct {
		name   string
		mutate func(url.Values)
		page   bool // error shown on a page, not redirected
		err    string
		code   string
	}{
		{"unknown client", func(q url.Values) { q.Set("client_id", "00000000-0000-4000-8000-000000000000") }, true, "unauthorized_client", "AADSTS700016"},
		{"missing client", func(q url.Values) { q.Del("client_id") }, true, "invalid_request", "AADSTS900144"},
		{"unregistered redirect", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }, true, "invalid_request", "AADSTS50011"},
		{"wrong loopback path", func(q url.Values) { q.Set("redirect_uri", "http://localhost:5555/other") }, true, "invalid_request", "AADSTS50011"},
		{"plain method refused", func(q url.Values) { q.Set("code_challenge_method", "plain") }, false, "invalid_request", "AADSTS90100"},
		{"no method means plain", func(q url.Values) { q.Del("code_challenge_method") }, false, "invalid_request", "AADSTS90100"},
		{"missing challenge", func(q url.Values) { q.Del("code_challenge") }, false, "invalid_request", "AADSTS900144"},
		{"short challenge", func(q url.Values) { q.Set("code_challenge", "abc") }, false, "invalid_request", "AADSTS501491"},
		{"v1 resource on v2", func(q url.Values) { q.Set("resource", "api://airgate") }, false, "invalid_request", "AADSTS901002"},
		{"token response type", func(q url.Values) { q.Set("response_type", "token") }, false, "unsupported_response_type", "AADSTS700054"},
		{"unknown scope", func(q url.Values) { q.Set("scope", "api://airgate/nope") }, false, "invalid_scope", "AADSTS70011"},
		{"prompt none", func(q url.Values) { q.Set("prompt", "none") }, false, "login_required", "AADSTS50058"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := good()
			tc.mutate(q)
			resp, body := authorize(t, s, info.AuthorizeEndpoint, q)
			if tc.page {
				if resp.StatusCode != 400 || !strings.Contains(body, tc.code) {
					t.Errorf("status %d, body lacks %s:\n%s", resp.StatusCode, tc.code, body)
				}
				if resp.Header.Get("Location") != "" {
					t.Errorf("redirected to %s; must not redirect to an unverified URI", resp.Header.Get("Location"))
				}
				return
			}
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("status %d, want a redirect with the error", resp.StatusCode)
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if loc.Host != "localhost:5555" || loc.Query().Get("error") != tc.err || !strings.HasPrefix(loc.Query().Get("error_description"), tc.code+":") || loc.Query().Get("state") != "xyz" {
				t.Errorf("redirect = %v, want error %s %s and state", loc, tc.err, tc.code)
			}
		})
	}
}

func TestSignInPage(t *testing.T) {
	s, info := startServer(t, Options{})
	_, challenge := pkce()
	q := url.Values{
		"client_id": {DemoAirgateClientID}, "response_type": {"code"}, "redirect_uri": {"http://127.0.0.1/oauth2/callback"},
		"scope": {"api://airgate/access_as_user"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
		"response_mode": {"form_post"}, "state": {"<script>"},
	}
	resp, page := authorize(t, s, info.AuthorizeEndpoint, q)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d type %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, name := range []string{"alice", "bob", "carol", "dave", "erin", "frank"} {
		want := `<button type="submit" name="user" value="` + name + `">` + name + `@airgate.example</button>`
		if !strings.Contains(page, want) {
			t.Errorf("page lacks the button %s", want)
		}
	}
	if !strings.Contains(page, `type="checkbox" id="mfa" name="mfa"`) || strings.Contains(page, "<script") {
		t.Errorf("page lacks the MFA checkbox or has scripts")
	}
	// form_post delivers the code in an auto-submitting form.
	action := formActionTestRE.FindStringSubmatch(page)[1]
	form := url.Values{"request": {requestTestRE.FindStringSubmatch(page)[1]}, "user": {"erin"}}
	base, _ := url.Parse(info.AuthorizeEndpoint)
	target, _ := base.Parse(action)
	r2, err := s.HTTPClient().PostForm(target.String(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Body.Close()
	buf := new(strings.Builder)
	_, _ = ioCopy(buf, r2)
	out := buf.String()
	if r2.StatusCode != 200 || !strings.Contains(out, `action="http://127.0.0.1/oauth2/callback"`) || !strings.Contains(out, `name="code"`) || !strings.Contains(out, "&lt;script&gt;") {
		t.Errorf("form_post page wrong (status %d):\n%s", r2.StatusCode, out)
	}
	// The pending request is single-use.
	r3, err := s.HTTPClient().PostForm(target.String(), form)
	if err != nil {
		t.Fatal(err)
	}
	r3.Body.Close()
	if r3.StatusCode != 400 {
		t.Errorf("reusing the sign-in form: status %d, want 400", r3.StatusCode)
	}
}

func TestRedirectMatching(t *testing.T) {
	tests := []struct {
		registered, requested string
		want                  bool
	}{
		{"http://127.0.0.1/oauth2/callback", "http://127.0.0.1:8080/oauth2/callback", true},
		{"http://localhost/oauth2/callback", "http://localhost:1/oauth2/callback", true},
		{"http://localhost/oauth2/callback", "http://127.0.0.1:1/oauth2/callback", false},
		{"http://localhost/oauth2/callback", "https://localhost:1/oauth2/callback", false},
		{"http://localhost/oauth2/callback", "http://localhost:1/oauth2/callback/x", false},
		{"http://localhost/oauth2/callback", "http://localhost:1/oauth2/callback?x=1", false},
		{"https://app.example/cb", "https://app.example/cb", true},
		{"https://app.example/cb", "https://app.example:444/cb", false},
		{"https://app.example/cb", "https://app.example/cb#frag", false},
	}
	for _, tc := range tests {
		if got := redirectMatches(tc.registered, tc.requested); got != tc.want {
			t.Errorf("redirectMatches(%q, %q) = %v, want %v", tc.registered, tc.requested, got, tc.want)
		}
	}
}

// TestV1AuthorizeEndpoint signs in through the v1 endpoints (resource
// parameter): the ID token is v1, the access token's version is still the
// resource's choice.
func TestV1AuthorizeEndpoint(t *testing.T) {
	s, info := startServer(t, Options{})
	verifierStr, challenge := pkce()
	endpoint := info.Authority + "/oauth2/authorize"
	const redirect = "http://127.0.0.1:9999/oauth2/callback"
	resp, page := authorize(t, s, endpoint, url.Values{
		"client_id": {DemoAirgateClientID}, "response_type": {"code"}, "redirect_uri": {redirect},
		"resource": {"api://airgate"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	})
	if resp.StatusCode != 200 {
		t.Fatalf("v1 authorize: %d %s", resp.StatusCode, page)
	}
	loc := pickUser(t, s, endpoint, page, "bob", true)
	status, body := postForm(t, s, info.Authority+"/oauth2/token", url.Values{
		"grant_type": {"authorization_code"}, "client_id": {DemoAirgateClientID}, "client_secret": {info.Apps["airgate"].ClientSecret},
		"code": {loc.Query().Get("code")}, "redirect_uri": {redirect}, "code_verifier": {verifierStr}, "resource": {"api://airgate"},
	})
	if status != 200 {
		t.Fatalf("v1 redeem: %d %v", status, body)
	}
	id := mustVerify(t, verifier(t, s.HTTPClient(), info.IssuerV1, DemoAirgateClientID), body["id_token"].(string))
	if id["ver"] != "1.0" || id["upn"] != "bob@airgate.example" || !slices.Contains(strs(id["amr"]), "mfa") {
		t.Errorf("v1 ID token = %v", id)
	}
	at := mustVerify(t, verifier(t, s.HTTPClient(), info.Issuer, DemoAirgateClientID), body["access_token"].(string))
	if at["ver"] != "2.0" || at["scp"] != "access_as_user" {
		t.Errorf("access token = %v, want v2 (airgate asks for v2)", at)
	}
}
