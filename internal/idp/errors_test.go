package idp

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestTokenEndpointErrors checks the error shapes of the token endpoint
// for the failures clients meet.
func TestTokenEndpointErrors(t *testing.T) {
	s, info := startServer(t, Options{})
	secret := info.Apps["etl-agent"].ClientSecret
	gate := info.Apps["airgate"].ClientSecret
	cc := func(extra url.Values) url.Values {
		f := url.Values{"grant_type": {"client_credentials"}, "client_id": {DemoETLAgentClientID}, "client_secret": {secret}, "scope": {"api://airgate/.default"}}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}
	ropc := func(extra url.Values) url.Values {
		f := url.Values{"grant_type": {"password"}, "client_id": {DemoAirgateClientID}, "username": {"alice@airgate.example"}, "password": {DemoPassword("alice")}, "scope": {"api://airgate/access_as_user"}}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}
	tests := []struct {
		name     string
		endpoint string
		form     url.Values
		status   int
		err      string
		code     int
	}{
		{"invalid secret", "", cc(url.Values{"client_secret": {"nope"}}), 401, "invalid_client", 7000215},
		{"no credential", "", cc(url.Values{"client_secret": nil}), 401, "invalid_client", 7000218},
		{"unknown client", "", cc(url.Values{"client_id": {"00000000-0000-4000-8000-000000000009"}}), 400, "unauthorized_client", 700016},
		{"missing client_id", "", cc(url.Values{"client_id": nil}), 400, "invalid_request", 900144},
		{"missing grant_type", "", cc(url.Values{"grant_type": nil}), 400, "invalid_request", 900144},
		{"unsupported grant", "", cc(url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}}), 400, "unsupported_grant_type", 70003},
		{"scope without .default", "", cc(url.Values{"scope": {"api://airgate/access_as_user"}}), 400, "invalid_scope", 1002012},
		{"two resources", "", cc(url.Values{"scope": {"api://airgate/.default https://graph.microsoft.com/.default"}}), 400, "invalid_scope", 700022},
		{"unknown resource", "", cc(url.Values{"scope": {"api://unknown/.default"}}), 400, "invalid_resource", 500011},
		{"missing scope", "", cc(url.Values{"scope": nil}), 400, "invalid_request", 900144},
		{"resource on v2", "", cc(url.Values{"resource": {"api://airgate"}}), 400, "invalid_request", 901002},
		{"client credentials on common", "common", cc(nil), 400, "invalid_request", 9001023},
		{"bad password", "", ropc(url.Values{"password": {"wrong"}}), 400, "invalid_grant", 50126},
		{"unknown user", "", ropc(url.Values{"username": {"mallory@airgate.example"}}), 400, "invalid_grant", 50034},
		{"unknown delegated scope", "", ropc(url.Values{"scope": {"api://airgate/admin_everything"}}), 400, "invalid_scope", 70011},
		{"password grant for a confidential-only client", "", url.Values{"grant_type": {"password"}, "client_id": {DemoETLAgentClientID}, "username": {"alice@airgate.example"}, "password": {DemoPassword("alice")}, "scope": {"api://airgate/access_as_user"}}, 401, "invalid_client", 7000218},
		{"unknown refresh token", "", url.Values{"grant_type": {"refresh_token"}, "client_id": {DemoAirgateClientID}, "client_secret": {gate}, "refresh_token": {"1.Anope"}, "scope": {"openid"}}, 400, "invalid_grant", 9002313},
		{"unknown tenant", "00000000-0000-4000-8000-00000000dead", cc(nil), 400, "invalid_tenant", 90002},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			endpoint := info.TokenEndpoint
			if tc.endpoint != "" {
				endpoint = strings.Replace(endpoint, "/"+DemoTenantID+"/", "/"+tc.endpoint+"/", 1)
			}
			status, body := postForm(t, s, endpoint, tc.form)
			wantSTSError(t, status, body, tc.status, tc.err, tc.code)
		})
	}

	t.Run("correlation id echoed", func(t *testing.T) {
		req, _ := http.NewRequest("POST", info.TokenEndpoint, strings.NewReader(cc(url.Values{"client_secret": {"x"}}).Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("client-request-id", "0f0e0d0c-0b0a-4909-8807-060504030201")
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if body["correlation_id"] != "0f0e0d0c-0b0a-4909-8807-060504030201" {
			t.Errorf("correlation_id = %v, want the client-request-id", body["correlation_id"])
		}
	})
}

// TestMalformedRequests sends broken requests; each gets an Entra-shaped
// error, never a 500 or a dropped connection.
func TestMalformedRequests(t *testing.T) {
	s, info := startServer(t, Options{})
	hc := s.HTTPClient()
	huge := "grant_type=client_credentials&scope=" + strings.Repeat("a", 2<<20)
	tests := []struct {
		name, method, target, contentType, body string
		status                                  int
		code                                    string
	}{
		{"GET token", "GET", info.TokenEndpoint, "", "", 405, "AADSTS900561"},
		{"JSON body", "POST", info.TokenEndpoint, "application/json", `{"grant_type":"password"}`, 400, "AADSTS900144"},
		{"no content type", "POST", info.TokenEndpoint, "", "grant_type=password", 400, "AADSTS900144"},
		{"bad escaping", "POST", info.TokenEndpoint, "application/x-www-form-urlencoded", "grant_type=%zz", 400, "AADSTS9002313"},
		{"oversized body", "POST", info.TokenEndpoint, "application/x-www-form-urlencoded", huge, 400, "AADSTS9002313"},
		{"bad basic auth", "POST", info.TokenEndpoint, "application/x-www-form-urlencoded", "grant_type=client_credentials&scope=api://airgate/.default", 0, ""},
		{"garbage assertion", "POST", info.TokenEndpoint, "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=" + DemoETLAgentClientID + "&scope=api://airgate/.default&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=a.b.c", 400, "AADSTS50027"},
		{"assertion wrong type", "POST", info.TokenEndpoint, "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=" + DemoETLAgentClientID + "&scope=api://airgate/.default&client_assertion_type=x&client_assertion=a.b.c", 400, "AADSTS50027"},
		{"instance discovery without endpoint", "GET", strings.Replace(info.Authority, DemoTenantID, "common", 1) + "/discovery/instance", "", "", 400, "AADSTS50049"},
		{"authorize POST without request", "POST", info.AuthorizeEndpoint, "application/x-www-form-urlencoded", "user=alice", 400, "AADSTS50089"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tc.method, tc.target, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.name == "bad basic auth" {
				req.Header.Set("Authorization", "Basic %%%")
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatalf("request failed: %v", err)
			}
			defer resp.Body.Close()
			buf := new(strings.Builder)
			_, _ = ioCopy(buf, resp)
			if resp.StatusCode >= 500 {
				t.Fatalf("status %d: %s", resp.StatusCode, buf.String())
			}
			if tc.status != 0 && (resp.StatusCode != tc.status || !strings.Contains(buf.String(), tc.code)) {
				t.Errorf("status %d body %s; want %d with %s", resp.StatusCode, buf.String(), tc.status, tc.code)
			}
		})
	}
}

// TestRefreshTokens checks the sliding refresh token and its expiry after
// inactivity (AADSTS700082).
func TestRefreshTokens(t *testing.T) {
	clk := &clock{}
	s, info := startServer(t, Options{Now: clk.Now, RefreshTokenInactivity: 24 * time.Hour})
	tok, err := newClient(t, info).Password(t.Context(), "airgate", "alice", "api://airgate/access_as_user")
	if err != nil {
		t.Fatal(err)
	}
	refresh := func(rt, scope string) (int, map[string]any) {
		return postForm(t, s, info.TokenEndpoint, url.Values{
			"grant_type": {"refresh_token"}, "client_id": {DemoAirgateClientID}, "refresh_token": {rt}, "scope": {scope},
		})
	}
	clk.Advance(20 * time.Hour)
	status, body := refresh(tok.RefreshToken, "api://airgate/access_as_user openid")
	if status != 200 || body["refresh_token"] == nil || body["refresh_token"] == tok.RefreshToken {
		t.Fatalf("refresh: %d %v", status, body)
	}
	if c := claimsOf(t, body["access_token"].(string)); c["oid"] != DemoAliceID || c["scp"] != "access_as_user" {
		t.Errorf("refreshed token claims = %v", c)
	}
	next := body["refresh_token"].(string)
	// The same refresh token can fetch a token for another resource.
	status, body = refresh(next, "https://graph.microsoft.com/User.Read")
	if status != 200 || claimsOf(t, body["access_token"].(string))["aud"] != graphResource {
		t.Fatalf("refresh for Graph: %d %v", status, body)
	}
	// Another client cannot use it.
	status, body = postForm(t, s, info.TokenEndpoint, url.Values{
		"grant_type": {"refresh_token"}, "client_id": {DemoETLAgentClientID}, "client_secret": {info.Apps["etl-agent"].ClientSecret},
		"refresh_token": {next}, "scope": {"openid"},
	})
	wantSTSError(t, status, body, 400, "invalid_grant", 70000)
	// The first token has now been idle for more than a day.
	clk.Advance(5 * time.Hour)
	status, body = refresh(tok.RefreshToken, "openid")
	wantSTSError(t, status, body, 400, "invalid_grant", 700082)
	if body["suberror"] != "bad_token" {
		t.Errorf("suberror = %v, want bad_token", body["suberror"])
	}
	// The newer one was used five hours ago: still valid.
	if status, _ := refresh(next, "api://airgate/access_as_user"); status != 200 {
		t.Errorf("recently used refresh token refused: %d", status)
	}
}
