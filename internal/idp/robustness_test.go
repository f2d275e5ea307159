package idp

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExampleTenantFile(t *testing.T) {
	ten, err := LoadTenant(filepath.Join("testdata", "example-tenant.yaml"))
	if err != nil {
		t.Fatalf("LoadTenant() = %v", err)
	}
	s, info := startServer(t, Options{Tenant: ten, Dev: true})
	tok, err := newClient(t, info).Password(t.Context(), "gateway", "grace", "api://gateway/access_as_user")
	if err != nil {
		t.Fatal(err)
	}
	c := mustVerify(t, verifier(t, s.HTTPClient(), info.Issuer, info.Apps["gateway"].ClientID), tok.AccessToken)
	// grace is in analysts, nested in data-engineers: both groups, no role.
	if len(strs(c["groups"])) != 2 || c["roles"] != nil {
		t.Errorf("grace: groups %v roles %v", c["groups"], c["roles"])
	}
}

func TestSignClaims(t *testing.T) {
	s, info := startServer(t, Options{})
	tok, err := s.SignClaims(map[string]any{"iss": info.Issuer, "aud": "someone-else", "sub": "x", "exp": time.Now().Add(time.Hour).Unix()}, false)
	if err != nil {
		t.Fatal(err)
	}
	v := verifier(t, s.HTTPClient(), info.Issuer, DemoAirgateClientID)
	if _, err := v.Verify(t.Context(), tok); err == nil || !strings.Contains(err.Error(), "audience") {
		t.Errorf("Verify(wrong audience) = %v, want an audience error", err)
	}
}

// TestNoServerErrors throws random requests at every endpoint: nothing
// may answer 5xx.
func TestNoServerErrors(t *testing.T) {
	s, info := startServer(t, Options{})
	hc := s.HTTPClient()
	base := strings.TrimSuffix(info.AuthorityHost, "/")
	paths := []string{
		"/" + DemoTenantID + "/oauth2/v2.0/token", "/" + DemoTenantID + "/oauth2/token",
		"/" + DemoTenantID + "/oauth2/v2.0/authorize", "/" + DemoTenantID + "/oauth2/authorize",
		"/common/oauth2/v2.0/token", "/" + DemoTenantID + "/discovery/v2.0/keys", "/common/UserRealm/a%25zz",
		"/graph/v1.0/users/" + DemoAliceID + "/memberOf", "/graph/v1.0/applications(appId='x", "/graph/v1.0/applications/" + DemoAirgateObjectID + "/addPassword",
		"/graph/oidc/userinfo", "/x", "/", "/" + DemoTenantID + "/oauth2/v2.0/logout",
	}
	params := []string{"grant_type", "client_id", "client_secret", "scope", "code", "code_verifier", "redirect_uri", "refresh_token",
		"username", "password", "client_assertion", "client_assertion_type", "resource", "response_type", "code_challenge",
		"code_challenge_method", "response_mode", "request", "user", "post_logout_redirect_uri", "$top", "$skiptoken"}
	values := []string{"", "client_credentials", "password", "authorization_code", "refresh_token", DemoAirgateClientID,
		"api://airgate/.default", "openid", "a.b.c", "http://127.0.0.1/oauth2/callback", "S256", "plain", "%", "\x00",
		strings.Repeat("z", 300), "alice@airgate.example", DemoPassword("alice"), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "-1", "999999"}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		form := url.Values{}
		for j := rng.IntN(6); j > 0; j-- {
			form.Set(params[rng.IntN(len(params))], values[rng.IntN(len(values))])
		}
		target := base + paths[rng.IntN(len(paths))]
		method := []string{"GET", "POST", "PATCH", "DELETE"}[rng.IntN(4)]
		var req *http.Request
		var err error
		if method == "GET" {
			req, err = http.NewRequestWithContext(t.Context(), method, target+"?"+form.Encode(), nil)
		} else {
			req, err = http.NewRequestWithContext(t.Context(), method, target, strings.NewReader(form.Encode()))
		}
		if err != nil {
			continue // not a valid URL: nothing to send
		}
		if method != "GET" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if v := values[rng.IntN(len(values))]; rng.IntN(3) == 0 && !strings.ContainsRune(v, 0) {
			req.Header.Set("Authorization", "Bearer "+v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, target, err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Errorf("%s %s %v: status %d", method, target, form, resp.StatusCode)
		}
	}
}
