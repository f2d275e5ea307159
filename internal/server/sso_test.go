package server

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/idp"
	"github.com/airgate/airgate/internal/session"
)

func TestBrowserSignInThroughTheGateway(t *testing.T) {
	for _, version := range []int{2, 3} {
		t.Run(fmt.Sprintf("airflow%d", version), func(t *testing.T) {
			s := newStack(t, version, nil)
			b := s.browser()
			home := b.signIn("/home?tab=dags", "alice", false)
			if home.status != 200 || home.url.Path != "/home" || home.url.RawQuery != "tab=dags" {
				t.Fatalf("after sign-in: %v, want the page asked for", home)
			}
			if got := uiUser(t, version, home.body); got != upn("alice") {
				t.Errorf("the UI received %q, want alice", got)
			}
			// What reached Airflow: airgate's credential, never a cookie.
			reqs := s.airflow.Requests()
			last := reqs[len(reqs)-1]
			if c := last.Header.Get("Cookie"); c != "" {
				t.Errorf("a cookie reached Airflow: %q", c)
			}
			if version == 2 && last.Identity.User != svcUser {
				t.Errorf("Airflow 2 authenticated %q, want the service account", last.Identity.User)
			}
			if version == 3 && (last.Identity.Subject != upn("alice") || last.Identity.Role != "viewer") {
				t.Errorf("Airflow 3 JWT sub/role = %q/%q, want alice/viewer", last.Identity.Subject, last.Identity.Role)
			}

			// The UI's API calls are authorized like any other request.
			api := s.api()
			list := b.fetch("GET", api+"/dags", "")
			if list.status != 200 {
				t.Fatalf("alice's DAG list: %v", list)
			}
			if ids := dagIDs(t, []byte(list.body)); strings.Join(ids, ",") != "team_a_daily,team_a_hourly" {
				t.Errorf("alice sees %v through the UI, want team A's DAGs only", ids)
			}
			denied := b.fetch("GET", api+"/connections", "")
			if denied.status != 403 || !strings.Contains(denied.body, `"permission-missing"`) || !strings.HasPrefix(denied.header.Get("Content-Type"), "application/json") {
				t.Errorf("alice's connections call: %v, want a JSON 403", denied)
			}
			s.airflow.Reset()
			trig := b.fetch("POST", api+"/dags/team_a_daily/dagRuns", triggerBody(version, "from the UI"))
			if trig.status != 200 {
				t.Fatalf("alice triggers team_a_daily from the UI: %v", trig)
			}
			var body map[string]any
			_ = json.Unmarshal(s.airflow.Requests()[0].Body, &body)
			if note, _ := body["note"].(string); !strings.Contains(note, upn("alice")) {
				t.Errorf("the run's note %q does not name alice", note)
			}

			// Audit: the sign-in, and decisions with the session's fingerprint.
			var signIn, bySession int
			for _, rec := range s.auditRecords() {
				if rec.Kind == kindSession && rec.Detail["event"] == "sign-in" && rec.Principal.UPN == upn("alice") {
					signIn++
				}
				if rec.Kind == "decision" && strings.HasPrefix(rec.TokenFingerprint, "session:") && rec.Principal.UPN == upn("alice") {
					bySession++
				}
			}
			if signIn != 1 || bySession < 4 {
				t.Errorf("audit: %d sign-in records, %d decisions by session; want 1 and at least 4", signIn, bySession)
			}
		})
	}
}

func TestSignInRedirects(t *testing.T) {
	s := newStack(t, 3, nil)
	b := s.browser()
	b.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	// A browser navigation to the UI without a session goes to sign in.
	p := b.navigate(s.gwURL + "/home?x=1")
	if p.status != http.StatusFound || p.header.Get("Location") != "/oauth2/authorize?rd=%2Fhome%3Fx%3D1" {
		t.Fatalf("unauthenticated UI navigation: %d %s", p.status, p.header.Get("Location"))
	}
	// API clients and the UI's own calls get 401, never a redirect.
	if p := b.fetch("GET", "/api/v2/dags", ""); p.status != 401 {
		t.Errorf("unauthenticated API call: %v", p)
	}
	if p := b.fetch("GET", "/home", ""); p.status != 401 {
		t.Errorf("unauthenticated non-navigation UI request: %v", p)
	}

	// The authorize redirect: code flow with PKCE S256, state, nonce,
	// offline_access for refresh, the callback as redirect URI.
	p = b.navigate(s.gwURL + "/oauth2/authorize?rd=%2Fhome")
	loc, err := url.Parse(p.header.Get("Location"))
	if p.status != http.StatusFound || err != nil {
		t.Fatalf("authorize: %d %s", p.status, p.header.Get("Location"))
	}
	q := loc.Query()
	if !strings.HasPrefix(loc.String(), s.info.AuthorizeEndpoint+"?") {
		t.Errorf("authorize redirects to %s, want Entra's authorize endpoint %s", loc, s.info.AuthorizeEndpoint)
	}
	for k, want := range map[string]string{
		"response_type": "code", "code_challenge_method": "S256", "client_id": s.cfg.Entra.ClientID,
		"redirect_uri": s.gwURL + "/oauth2/callback", "response_mode": "query",
		"scope": "openid profile offline_access api://airgate/access_as_user",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("authorize %s = %q, want %q", k, got, want)
		}
	}
	if len(q.Get("state")) < 40 || len(q.Get("nonce")) < 40 || len(q.Get("code_challenge")) != 43 {
		t.Errorf("state, nonce or code_challenge too short: %v", q)
	}
	var login *http.Cookie
	for _, c := range p.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "airgate_login_") {
			login, _ = http.ParseSetCookie(c)
		}
	}
	if login == nil || !login.HttpOnly || login.SameSite != http.SameSiteLaxMode || login.MaxAge <= 0 || login.MaxAge > 600 {
		t.Errorf("sign-in state cookie = %+v, want HttpOnly, SameSite=Lax, at most 10 minutes", login)
	}
	for _, secret := range []string{q.Get("state"), q.Get("nonce")} {
		if strings.Contains(login.Value, secret) {
			t.Error("the sign-in cookie shows the state or nonce in clear")
		}
	}
}

// TestCallbackRejects drives the emulator by hand to build callbacks that
// a correct client must refuse.
func TestCallbackRejects(t *testing.T) {
	s := newStack(t, 3, nil)
	sr := s.gw.rt.Load().sso
	callback := s.gwURL + "/oauth2/callback"

	// code runs an authorization at the emulator with the given PKCE
	// challenge and nonce, and returns the code it issues for alice.
	code := func(verifier, nonce string) string {
		t.Helper()
		sum := sha256.Sum256([]byte(verifier))
		q := url.Values{"client_id": {s.cfg.Entra.ClientID}, "response_type": {"code"}, "redirect_uri": {callback},
			"scope": {"openid profile offline_access api://airgate/access_as_user"}, "state": {"x"}, "nonce": {nonce},
			"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
		b := s.browser()
		b.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		p := b.navigate(s.info.AuthorizeEndpoint + "?" + q.Encode())
		p.url, _ = url.Parse(s.info.AuthorizeEndpoint)
		res := b.pickUser(p, "alice", false)
		loc, _ := url.Parse(res.header.Get("Location"))
		if loc.Query().Get("code") == "" {
			t.Fatalf("the emulator issued no code: %v %v", res, loc)
		}
		return loc.Query().Get("code")
	}
	// loginCookie seals a sign-in state as /oauth2/authorize would.
	loginCookie := func(l *session.Login) *http.Cookie {
		t.Helper()
		w := httptest.NewRecorder()
		if err := sr.mgr.StartLogin(w, l); err != nil {
			t.Fatal(err)
		}
		return w.Result().Cookies()[0]
	}
	call := func(query string, cookies ...*http.Cookie) page {
		t.Helper()
		req, _ := http.NewRequest("GET", callback+"?"+query, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		_, _ = fmt.Fprint(&sb, resp.Header.Get("Location"))
		body := make([]byte, 8192)
		n, _ := resp.Body.Read(body)
		return page{status: resp.StatusCode, header: resp.Header, body: string(body[:n])}
	}
	sessionSet := func(p page) bool {
		for _, c := range p.header.Values("Set-Cookie") {
			if strings.HasPrefix(c, "airgate_session_0=") && !strings.Contains(c, "Max-Age=0") {
				return true
			}
		}
		return false
	}

	verifier := strings.Repeat("v", 43)
	good := &session.Login{State: "state-good", Nonce: "nonce-good", Verifier: verifier, RedirectURI: callback, ReturnTo: "/home"}
	cases := []struct {
		name    string
		login   *session.Login // the state cookie the browser holds; nil for none
		query   func() string
		status  int
		message string
	}{
		{"control", good, func() string { return "state=state-good&code=" + url.QueryEscape(code(verifier, "nonce-good")) }, 302, ""},
		{"no sign-in started here (login CSRF)", nil, func() string { return "state=state-good&code=" + url.QueryEscape(code(verifier, "nonce-good")) }, 400, "not started in this browser"},
		{"state of another sign-in", good, func() string { return "state=forged&code=" + url.QueryEscape(code(verifier, "nonce-good")) }, 400, "not started in this browser"},
		{"PKCE verifier does not match the challenge", good, func() string {
			return "state=state-good&code=" + url.QueryEscape(code(strings.Repeat("w", 43), "nonce-good"))
		}, 401, "token-invalid_grant"},
		{"ID token for another nonce", good, func() string { return "state=state-good&code=" + url.QueryEscape(code(verifier, "nonce-other")) }, 401, "nonce-mismatch"},
		{"code not issued by Entra", good, func() string { return "state=state-good&code=1.Aforged" }, 401, "token-invalid_grant"},
		{"error from Entra", good, func() string { return "state=state-good&error=access_denied&error_description=%3Cb%3Enope%3C%2Fb%3E" }, 401, "access_denied: &lt;b&gt;nope&lt;/b&gt;"},
		{"redirect URI differs from the authorization's", &session.Login{State: "state-good", Nonce: "nonce-good", Verifier: verifier, RedirectURI: "http://127.0.0.1:1/oauth2/callback", ReturnTo: "/"},
			func() string { return "state=state-good&code=" + url.QueryEscape(code(verifier, "nonce-good")) }, 401, "token-invalid_grant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var cookies []*http.Cookie
			if tc.login != nil {
				l := *tc.login
				cookies = append(cookies, loginCookie(&l))
			}
			p := call(tc.query(), cookies...)
			if p.status != tc.status {
				t.Fatalf("callback = %d, want %d: %.400s", p.status, tc.status, p.body)
			}
			if tc.status == 302 {
				if loc := p.header.Get("Location"); loc != "/home" || !sessionSet(p) {
					t.Errorf("control: Location %q, session set %v", loc, sessionSet(p))
				}
				return
			}
			if sessionSet(p) {
				t.Error("a session cookie was set on a refused callback")
			}
			if !strings.Contains(p.body, tc.message) {
				t.Errorf("page does not say %q: %.500s", tc.message, p.body)
			}
			if strings.Contains(p.body, "<b>nope") {
				t.Error("Entra's error description is not escaped")
			}
		})
	}

	t.Run("replayed callback", func(t *testing.T) {
		ck := loginCookie(&session.Login{State: "state-replay", Nonce: "n", Verifier: verifier, RedirectURI: callback, ReturnTo: "/"})
		q := "state=state-replay&code=" + url.QueryEscape(code(verifier, "n"))
		first := call(q, ck)
		if first.status != 302 {
			t.Fatalf("first use = %d", first.status)
		}
		var deleted bool
		for _, c := range first.header.Values("Set-Cookie") {
			deleted = deleted || (strings.HasPrefix(c, ck.Name+"=") && strings.Contains(c, "Max-Age=0"))
		}
		if !deleted {
			t.Error("the sign-in state cookie is not deleted on use")
		}
		// A browser that kept the cookie anyway: the code is spent.
		if again := call(q, ck); again.status == 302 {
			t.Error("a replayed callback signed in again")
		}
	})
}

func TestSafeReturnTo(t *testing.T) {
	for in, want := range map[string]string{
		"/home":                         "/home",
		"/dags/x/grid?tab=graph":        "/dags/x/grid?tab=graph",
		"/":                             "/",
		"":                              "/",
		"//evil.example/x":              "/",
		"/\\evil.example":               "/",
		"\\\\evil.example":              "/",
		"https://evil.example/":         "/",
		"http:/evil.example":            "/",
		"javascript:alert(1)":           "/",
		"evil.example":                  "/",
		"/%0d%0aSet-Cookie:x=1":         "/%0d%0aSet-Cookie:x=1",
		"/\r\nLocation: //evil":         "/",
		"/\t/evil.example":              "/",
		"/oauth2/authorize?rd=/x":       "/",
		"/oauth2/callback":              "/",
		"/" + strings.Repeat("a", 3000): "/",
	} {
		if got := safeReturnTo(in); got != want {
			t.Errorf("safeReturnTo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpenRedirectAfterSignIn(t *testing.T) {
	s := newStack(t, 2, nil)
	for _, rd := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example", "%2F%2Fevil.example"} {
		b := s.browser()
		p := b.navigate(s.gwURL + "/oauth2/authorize?rd=" + url.QueryEscape(rd))
		end := b.pickUser(p, "bob", false)
		if end.url.Host != strings.TrimPrefix(s.gwURL, "http://") || end.url.Path != "/" {
			t.Errorf("rd=%q: sign-in ended at %s, want the gateway's /", rd, end.url)
		}
	}
}

func TestRedirectURIBehindAnIngress(t *testing.T) {
	authorize := func(s *stack, headers map[string]string) (*url.URL, []*http.Cookie) {
		t.Helper()
		req, _ := http.NewRequest("GET", s.gwURL+"/oauth2/authorize", nil)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		redirect, _ := url.Parse(loc.Query().Get("redirect_uri"))
		return redirect, resp.Cookies()
	}
	ingress := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "airflow.example.com"}

	t.Run("untrusted peer: its forwarding headers are ignored", func(t *testing.T) {
		s := newStack(t, 3, nil)
		got, _ := authorize(s, ingress)
		if got.String() != s.gwURL+"/oauth2/callback" {
			t.Errorf("redirect_uri = %s, want %s/oauth2/callback", got, s.gwURL)
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		s := newStack(t, 3, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.0/8"} })
		got, _ := authorize(s, ingress)
		if got.String() != "https://airflow.example.com/oauth2/callback" {
			t.Errorf("redirect_uri = %s, want https://airflow.example.com/oauth2/callback", got)
		}
		for _, bad := range []string{"evil.example/x", "a b", "x@evil.example"} {
			if got, _ := authorize(s, map[string]string{"X-Forwarded-Host": bad}); got.Host == bad || strings.Contains(got.String(), "evil") {
				t.Errorf("X-Forwarded-Host %q became redirect_uri %s", bad, got)
			}
		}
	})
	t.Run("public_url wins, and makes cookies Secure with __Host-", func(t *testing.T) {
		s := newStack(t, 3, func(c *config.Config) {
			c.PublicURL = "https://airflow.example.com"
			c.TrustedProxies = []string{"127.0.0.0/8"}
		})
		got, cookies := authorize(s, map[string]string{"X-Forwarded-Host": "other.example.com"})
		if got.String() != "https://airflow.example.com/oauth2/callback" {
			t.Errorf("redirect_uri = %s, want the public URL's callback", got)
		}
		if len(cookies) != 1 || !cookies[0].Secure || !strings.HasPrefix(cookies[0].Name, "__Host-airgate_login_") {
			t.Errorf("cookies = %v, want one Secure __Host- sign-in cookie", cookies)
		}
	})
}

// TestSilentRefresh runs the gateway, the emulator and Airflow on one
// clock: access tokens live 10 minutes, the refresh margin is 5.
func TestSilentRefresh(t *testing.T) {
	clk := newTestClock()
	s := newClockStack(t, 2, clk, idp.Options{TokenLifetime: 10 * time.Minute, RefreshTokenInactivity: 30 * time.Minute}, func(c *config.Config) {
		c.Session.Lifetime = config.Duration(time.Hour)
		// The Graph client's token cache runs on the real clock: read
		// memberships once.
		c.Entra.MembershipTTL = config.Duration(3 * time.Hour)
	})
	sr := s.gw.rt.Load().sso
	b := s.browser()
	if p := b.signIn("/home", "bob", false); p.status != 200 {
		t.Fatalf("sign-in: %v", p)
	}
	session0 := sessionOf(t, sr, b)
	if !session0.Principal.Expiry.Equal(clk.now().Add(10 * time.Minute)) {
		t.Fatalf("the session's token expires at %v, want in 10 minutes", session0.Principal.Expiry)
	}

	// Outside the margin: no refresh.
	clk.advance(4 * time.Minute)
	if p := b.fetch("GET", "/api/v1/dags", ""); p.status != 200 || len(p.header.Values("Set-Cookie")) != 0 {
		t.Fatalf("6 minutes before expiry: %d, %d cookies set; want 200 and no refresh", p.status, len(p.header.Values("Set-Cookie")))
	}
	// Inside the margin: the next request refreshes, silently.
	clk.advance(2 * time.Minute)
	p := b.fetch("GET", "/api/v1/dags", "")
	if p.status != 200 || len(p.header.Values("Set-Cookie")) == 0 {
		t.Fatalf("4 minutes before expiry: %d, %d cookies set; want 200 and a refreshed session", p.status, len(p.header.Values("Set-Cookie")))
	}
	session1 := sessionOf(t, sr, b)
	if session1.ID != session0.ID || !session1.IssuedAt.Equal(session0.IssuedAt) {
		t.Error("a refresh started a new session")
	}
	if !session1.Principal.Expiry.Equal(clk.now().Add(10 * time.Minute)) {
		t.Errorf("refreshed token expires at %v, want %v", session1.Principal.Expiry, clk.now().Add(10*time.Minute))
	}
	if session1.RefreshToken == session0.RefreshToken {
		t.Error("the refresh token did not slide")
	}

	// Idle past the refresh token's inactivity: the session ends.
	clk.advance(31 * time.Minute)
	if p := b.fetch("GET", "/api/v1/dags", ""); p.status != 401 {
		t.Errorf("expired token, refresh refused: %v, want 401", p)
	}
	if len(b.cookies()) != 0 {
		t.Errorf("the dead session's cookies were not cleared: %v", b.cookies())
	}

	// The session's own lifetime bounds it, however often it refreshes.
	if p := b.signIn("/home", "bob", false); p.status != 200 {
		t.Fatalf("second sign-in: %v", p)
	}
	end := clk.now().Add(time.Hour)
	for clk.now().Add(5*time.Minute + time.Second).Before(end) {
		clk.advance(5*time.Minute + time.Second)
		if p := b.fetch("GET", "/api/v1/dags", ""); p.status != 200 {
			t.Fatalf("%v into the session: %v, want refreshes to keep it", clk.now().Sub(end.Add(-time.Hour)), p)
		}
	}
	clk.advance(end.Sub(clk.now()))
	b.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if p := b.navigate(s.gwURL + "/home"); p.status != http.StatusFound || !strings.HasPrefix(p.header.Get("Location"), "/oauth2/authorize") {
		t.Errorf("past the session lifetime: %d %s, want a redirect to sign in", p.status, p.header.Get("Location"))
	}
}

// sessionOf opens the browser's session as the gateway would.
func sessionOf(t *testing.T, sr *ssoRuntime, b *goBrowser) *session.Session {
	t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	for _, c := range b.cookies() {
		r.AddCookie(c)
	}
	sess, err := sr.mgr.Load(r)
	if err != nil {
		t.Fatalf("the browser's session does not open: %v", err)
	}
	return sess
}

func TestSignOut(t *testing.T) {
	s := newStack(t, 3, nil)
	b := s.browser()
	if p := b.signIn("/home", "alice", false); p.status != 200 {
		t.Fatalf("sign-in: %v", p)
	}
	stolen := b.cookies()

	// A link from another site asks first.
	req, _ := http.NewRequest("GET", s.gwURL+"/oauth2/sign_out", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if p := b.do(req); p.status != 200 || !strings.Contains(p.body, `id="sign-out"`) {
		t.Errorf("cross-site sign-out link: %v, want a confirmation page", p)
	}
	if p := b.fetch("GET", "/api/v2/dags", ""); p.status != 200 {
		t.Fatalf("the session did not survive a cross-site sign-out link: %v", p)
	}

	// Sign out: the session ends here and at Entra, which comes back.
	p := b.navigate(s.gwURL + "/oauth2/sign_out")
	if p.status != 200 || p.url.Path != "/oauth2/callback" || !strings.Contains(p.body, "You are signed out") {
		t.Fatalf("sign-out ended at %v, want the signed-out page after Entra's logout", p)
	}
	if len(b.cookies()) != 0 {
		t.Errorf("cookies left after sign-out: %v", b.cookies())
	}
	// A copy of the cookies made before is dead too, on every replica.
	b.setCookies(stolen)
	if p := b.fetch("GET", "/api/v2/dags", ""); p.status != 401 {
		t.Errorf("replayed session after sign-out: %v, want 401", p)
	}
	other := s.replica(nil)
	req, _ = http.NewRequest("GET", other+"/api/v2/dags", nil)
	for _, c := range stolen {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("replayed session on another replica: %d, want 401", resp.StatusCode)
	}
	// Signing in again works.
	if p := b.signIn("/home", "alice", false); p.status != 200 {
		t.Errorf("sign-in after sign-out: %v", p)
	}
}

func TestAdminRevokesSessions(t *testing.T) {
	s := newStack(t, 3, func(c *config.Config) { c.Session.RevocationCache = config.Duration(time.Millisecond) })
	other := s.replica(nil)
	alice := s.browser()
	if p := alice.signIn("/home", "alice", false); p.status != 200 {
		t.Fatalf("sign-in: %v", p)
	}
	revoke := func(token, body string, headers map[string]string) response {
		if headers == nil {
			headers = map[string]string{"Content-Type": "application/json"}
		}
		return s.do("POST", "/-/admin/sessions/revoke", token, body, headers)
	}
	body := `{"user":"ALICE@` + strings.ToUpper(idp.DemoDomain) + `"}`
	for _, tc := range []struct {
		name   string
		token  string
		status int
		reason string
	}{
		{"no credentials", "", 401, "no-credentials"},
		{"viewer", s.userToken("bob", false), 403, "permission-missing"},
		{"admin without MFA", s.userToken("dave", false), 403, "mfa-required"},
		{"nested admin", s.userToken("carol", true), 403, "nested-membership-ignored"},
	} {
		r := revoke(tc.token, body, nil)
		if r.status != tc.status || !strings.Contains(string(r.body), tc.reason) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.status, r.body, tc.status, tc.reason)
		}
	}
	if p := alice.fetch("GET", "/api/v2/dags", ""); p.status != 200 {
		t.Fatalf("refused revocations ended the session: %v", p)
	}
	dave := s.userToken("dave", true)
	if r := revoke(dave, body, map[string]string{"Content-Type": "text/plain"}); r.status != 415 {
		t.Errorf("text/plain body: %d", r.status)
	}
	if r := revoke(dave, `{"user":"a","session":"session:b"}`, nil); r.status != 400 {
		t.Errorf("two targets: %d", r.status)
	}
	stolen := alice.cookies()
	r := revoke(dave, body, nil)
	if r.status != 200 {
		t.Fatalf("admin with MFA revokes alice: %d %s", r.status, r.body)
	}
	if p := alice.fetch("GET", "/api/v2/dags", ""); p.status != 401 {
		t.Errorf("alice's revoked session on this replica: %v, want 401", p)
	}
	req, _ := http.NewRequest("GET", other+"/api/v2/dags", nil)
	for _, c := range stolen {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("alice's revoked session on the other replica: %d, want 401", resp.StatusCode)
	}
	// Alice may sign in again; her new session stands.
	if p := alice.signIn("/home", "alice", false); p.status != 200 || uiUser(t, 3, p.body) != upn("alice") {
		t.Fatalf("sign-in after revocation: %v", p)
	}
	if p := alice.fetch("GET", "/api/v2/dags", ""); p.status != 200 {
		t.Errorf("the new session after revocation: %v", p)
	}
	var revoked bool
	for _, rec := range s.auditRecords() {
		revoked = revoked || (rec.Kind == kindSession && rec.Detail["event"] == "revoke" && rec.Principal.UPN == upn("dave"))
	}
	if !revoked {
		t.Error("the revocation is not in the audit log")
	}
}

func TestSessionRefusesCrossOriginWrites(t *testing.T) {
	s := newStack(t, 3, nil)
	b := s.browser()
	if p := b.signIn("/home", "alice", false); p.status != 200 {
		t.Fatalf("sign-in: %v", p)
	}
	for name, h := range map[string]map[string]string{
		"cross-site origin":    {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
		"same-site other port": {"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"},
	} {
		s.airflow.Reset()
		req, _ := http.NewRequest("POST", s.gwURL+"/api/v2/dags/team_a_daily/dagRuns", strings.NewReader(triggerBody(3, "")))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		p := b.do(req)
		if p.status != 403 || !strings.Contains(p.body, "cross-origin-request") {
			t.Errorf("%s: %v, want 403 cross-origin-request", name, p)
		}
		if len(s.airflow.Requests()) != 0 {
			t.Errorf("%s: the request reached Airflow", name)
		}
	}
	if p := b.fetch("POST", "/api/v2/dags/team_a_daily/dagRuns", triggerBody(3, "")); p.status != 200 {
		t.Errorf("same-origin trigger: %v", p)
	}
}

func TestSessionCookieRefusedWhenTampered(t *testing.T) {
	s := newStack(t, 3, nil)
	b := s.browser()
	if p := b.signIn("/home", "bob", false); p.status != 200 {
		t.Fatalf("sign-in: %v", p)
	}
	cs := b.cookies()
	for _, c := range cs {
		if strings.HasPrefix(c.Name, "airgate_session_0") {
			v := []byte(c.Value)
			v[len(v)-5] ^= 1
			c.Value = string(v)
		}
	}
	b.setCookies(cs)
	if p := b.fetch("GET", "/api/v2/dags", ""); p.status != 401 {
		t.Errorf("tampered session: %v, want 401", p)
	}
	// A bearer token beside a session cookie: the token decides.
	req, _ := http.NewRequest("GET", s.gwURL+"/api/v2/connections", nil)
	req.Header.Set("Authorization", "Bearer "+s.userToken("alice", false))
	if p := b.do(req); p.status != 403 {
		t.Errorf("alice's token with a cookie jar: %v, want alice's 403", p)
	}
}

func TestUpstreamCookiesAreDropped(t *testing.T) {
	s := newStack(t, 3, nil)
	sr := s.gw.rt.Load().sso
	rec := httptest.NewRecorder()
	w := s.gw.filterUpstreamCookies(rec)
	ours := "airgate_session_0=1~v1.x.y; Path=/; HttpOnly"
	w.Header().Add("Set-Cookie", ours)
	w.Header().Add("Set-Cookie", "_token=eyJhbGciOi.airflow.jwt; Path=/; HttpOnly")
	w.Header().Add("Set-Cookie", "session=flask; Path=/")
	w.WriteHeader(200)
	got := rec.Header().Values("Set-Cookie")
	if len(got) != 1 || got[0] != ours {
		t.Errorf("Set-Cookie after the filter = %q, want only airgate's", got)
	}
	if !sr.mgr.Owns("airgate_session_0") {
		t.Error("the filter's notion of airgate's cookies is wrong")
	}
}
