package idp

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
)

// graphCall calls the emulator's Graph with bearer and decodes the reply.
func graphCall(t *testing.T, s *Server, method, target, bearer string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// wantGraphError checks Graph's error shape.
func wantGraphError(t *testing.T, status int, body map[string]any, wantStatus int, wantCode string) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("status = %d, want %d (%v)", status, wantStatus, body)
	}
	e, _ := body["error"].(map[string]any)
	if e["code"] != wantCode {
		t.Errorf("error.code = %v, want %s", e["code"], wantCode)
	}
	if m, _ := e["message"].(string); m == "" {
		t.Error("error.message empty")
	}
	inner, _ := e["innerError"].(map[string]any)
	if inner["request-id"] == nil || inner["date"] == nil || inner["client-request-id"] == nil {
		t.Errorf("error.innerError = %v", inner)
	}
}

func graphToken(t *testing.T, c *Client, app string) string {
	t.Helper()
	tok, err := c.ClientCredentials(t.Context(), app, "https://graph.microsoft.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

func TestGraphMemberships(t *testing.T) {
	s, info := startServer(t, Options{})
	c := newClient(t, info)
	tok := graphToken(t, c, "airgate")
	ids := func(body map[string]any) []string {
		var out []string
		for _, v := range body["value"].([]any) {
			out = append(out, v.(map[string]any)["id"].(string))
		}
		return out
	}
	t.Run("memberOf is direct", func(t *testing.T) {
		status, body := graphCall(t, s, "GET", info.Graph+"/users/"+DemoCarolID+"/memberOf", tok, nil)
		if status != 200 || !slices.Equal(ids(body), []string{DemoGroupPlatformID}) {
			t.Fatalf("memberOf = %d %v", status, body)
		}
		g := body["value"].([]any)[0].(map[string]any)
		if g["@odata.type"] != "#microsoft.graph.group" || g["displayName"] != "platform-engineers" || g["securityEnabled"] != true {
			t.Errorf("group object = %v", g)
		}
	})
	t.Run("transitiveMemberOf by UPN", func(t *testing.T) {
		status, body := graphCall(t, s, "GET", info.Graph+"/users/carol@airgate.example/transitiveMemberOf?$select=id", tok, nil)
		if status != 200 || !slices.Equal(ids(body), []string{DemoGroupAdminsID, DemoGroupPlatformID}) {
			t.Fatalf("transitiveMemberOf = %d %v", status, body)
		}
		if g := body["value"].([]any)[0].(map[string]any); len(g) != 2 {
			t.Errorf("$select=id returned %v", g)
		}
	})
	t.Run("paging", func(t *testing.T) {
		next := info.Graph + "/users/" + DemoFrankID + "/transitiveMemberOf?$top=100"
		var all []string
		pages := 0
		for next != "" {
			status, body := graphCall(t, s, "GET", next, tok, nil)
			if status != 200 {
				t.Fatalf("page %d: %d %v", pages, status, body)
			}
			all = append(all, ids(body)...)
			next, _ = body["@odata.nextLink"].(string)
			pages++
		}
		if pages != 3 || len(all) != 210 || !slices.Contains(all, DemoGroupTeamAOperatorsID) {
			t.Errorf("paged %d pages, %d groups", pages, len(all))
		}
		slices.Sort(all)
		if len(slices.Compact(all)) != 210 {
			t.Error("paging returned duplicates")
		}
	})
	t.Run("default page size", func(t *testing.T) {
		_, body := graphCall(t, s, "GET", info.Graph+"/users/"+DemoFrankID+"/memberOf", tok, nil)
		if len(body["value"].([]any)) != 100 || body["@odata.nextLink"] == nil {
			t.Errorf("default page: %d items, nextLink %v", len(body["value"].([]any)), body["@odata.nextLink"])
		}
	})
	t.Run("getMemberObjects", func(t *testing.T) {
		status, body := graphCall(t, s, "POST", info.Graph+"/users/"+DemoCarolID+"/getMemberObjects", tok, map[string]any{"securityEnabledOnly": true})
		got := strs(body["value"])
		slices.Sort(got)
		if status != 200 || !slices.Equal(got, []string{DemoGroupAdminsID, DemoGroupPlatformID}) {
			t.Errorf("getMemberObjects = %d %v", status, body)
		}
		status, body = graphCall(t, s, "POST", info.Graph+"/users/"+DemoCarolID+"/getMemberObjects", tok, map[string]any{})
		wantGraphError(t, status, body, 400, "Request_BadRequest")
	})
	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name, method, path string
			status             int
			code               string
		}{
			{"unknown user", "GET", "/users/nobody@airgate.example/memberOf", 404, "Request_ResourceNotFound"},
			{"bad top", "GET", "/users/" + DemoFrankID + "/memberOf?$top=1000", 400, "Request_BadRequest"},
			{"bad skiptoken", "GET", "/users/" + DemoFrankID + "/memberOf?$skiptoken=zzz", 400, "Request_BadRequest"},
			{"unsupported filter", "GET", "/users/" + DemoFrankID + "/memberOf?$filter=x", 400, "Request_UnsupportedQuery"},
			{"wrong method", "POST", "/users/" + DemoFrankID + "/memberOf", 405, "Request_BadRequest"},
			{"unknown segment", "GET", "/groups", 400, "BadRequest"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				status, body := graphCall(t, s, tc.method, info.Graph+tc.path, tok, nil)
				wantGraphError(t, status, body, tc.status, tc.code)
			})
		}
	})
}

func TestGraphAuthentication(t *testing.T) {
	s, info := startServer(t, Options{})
	other, otherInfo := startServer(t, Options{})
	c := newClient(t, info)
	apiToken, err := c.ClientCredentials(t.Context(), "etl-agent", "api://airgate/.default")
	if err != nil {
		t.Fatal(err)
	}
	userGraph, err := c.Password(t.Context(), "airgate", "alice", "https://graph.microsoft.com/User.Read")
	if err != nil {
		t.Fatal(err)
	}
	good := graphToken(t, c, "airgate")
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"https://graph.microsoft.com"}`)) + "." + parts[2]
	target := info.Graph + "/users/" + DemoAliceID + "/memberOf"
	tests := []struct {
		name   string
		token  string
		status int
		code   string
	}{
		{"no token", "", 401, "InvalidAuthenticationToken"},
		{"garbage", "abc", 401, "InvalidAuthenticationToken"},
		{"token for another API", apiToken.AccessToken, 401, "InvalidAuthenticationToken"},
		{"tampered payload", tampered, 401, "InvalidAuthenticationToken"},
		{"token of another emulator", graphToken(t, newClient(t, otherInfo), "airgate"), 401, "InvalidAuthenticationToken"},
		{"delegated token", userGraph.AccessToken, 403, "Authorization_RequestDenied"},
		{"app without Graph permissions", graphToken(t, c, "etl-agent"), 403, "Authorization_RequestDenied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := graphCall(t, s, "GET", target, tc.token, nil)
			wantGraphError(t, status, body, tc.status, tc.code)
		})
	}
	_ = other
	if status, _ := graphCall(t, s, "GET", target, good, nil); status != 200 {
		t.Errorf("valid token: status %d", status)
	}
}

func TestGraphExpiredToken(t *testing.T) {
	clk := &clock{}
	s, info := startServer(t, Options{Now: clk.Now})
	tok := graphToken(t, newClient(t, info), "airgate")
	clk.Advance(2 * time.Hour)
	status, body := graphCall(t, s, "GET", info.Graph+"/users/"+DemoAliceID+"/memberOf", tok, nil)
	wantGraphError(t, status, body, 401, "InvalidAuthenticationToken")
}

// TestSecretRotation adds a secret through Graph, uses it, removes the
// old one and checks the token endpoint refuses what must be refused.
func TestSecretRotation(t *testing.T) {
	clk := &clock{}
	s, info := startServer(t, Options{Now: clk.Now})
	c := newClient(t, info)
	tok := graphToken(t, c, "airgate")
	appURL := info.Graph + "/applications/" + DemoAirgateObjectID
	cc := func(secret string) (int, map[string]any) {
		return postForm(t, s, info.TokenEndpoint, url.Values{
			"grant_type": {"client_credentials"}, "client_id": {DemoAirgateClientID},
			"client_secret": {secret}, "scope": {"api://airgate/.default"},
		})
	}

	status, app := graphCall(t, s, "GET", appURL, tok, nil)
	if status != 200 || app["appId"] != DemoAirgateClientID || len(app["passwordCredentials"].([]any)) != 1 {
		t.Fatalf("GET application = %d %v", status, app)
	}
	oldKeyID := app["passwordCredentials"].([]any)[0].(map[string]any)["keyId"].(string)
	if pc := app["passwordCredentials"].([]any)[0].(map[string]any); pc["secretText"] != nil || pc["hint"] != info.Apps["airgate"].ClientSecret[:3] {
		t.Errorf("listed credential = %v: secretText must be null, hint the first 3 characters", pc)
	}
	if status, byAppID := graphCall(t, s, "GET", info.Graph+"/applications(appId='"+DemoAirgateClientID+"')", tok, nil); status != 200 || byAppID["id"] != DemoAirgateObjectID {
		t.Errorf("GET by appId = %d %v", status, byAppID)
	}

	status, added := graphCall(t, s, "POST", appURL+"/addPassword", tok, map[string]any{"passwordCredential": map[string]any{"displayName": "rotated"}})
	newSecret, _ := added["secretText"].(string)
	if status != 200 || len(newSecret) < 16 || added["hint"] != newSecret[:3] || !isGUID(added["keyId"].(string)) || added["displayName"] != "rotated" {
		t.Fatalf("addPassword = %d %v", status, added)
	}
	for _, k := range []string{"startDateTime", "endDateTime"} {
		if _, err := time.Parse(time.RFC3339, added[k].(string)); err != nil {
			t.Errorf("%s = %v: %v", k, added[k], err)
		}
	}
	if status, body := cc(newSecret); status != 200 {
		t.Fatalf("new secret refused: %v", body)
	}
	if status, _ := cc(info.Apps["airgate"].ClientSecret); status != 200 {
		t.Fatal("old secret refused before removal")
	}
	if status, _ := graphCall(t, s, "POST", appURL+"/removePassword", tok, map[string]any{"keyId": oldKeyID}); status != 204 {
		t.Fatalf("removePassword status %d", status)
	}
	status, body := cc(info.Apps["airgate"].ClientSecret)
	wantSTSError(t, status, body, 401, "invalid_client", 7000215)
	status, body = graphCall(t, s, "POST", appURL+"/removePassword", tok, map[string]any{"keyId": oldKeyID})
	wantGraphError(t, status, body, 404, "Request_ResourceNotFound")
	status, body = graphCall(t, s, "POST", appURL+"/removePassword", tok, map[string]any{"keyId": "not-a-guid"})
	wantGraphError(t, status, body, 400, "Request_BadRequest")
	// The secret ID in place of the value is refused as in Entra.
	status, body = cc(added["keyId"].(string))
	wantSTSError(t, status, body, 401, "invalid_client", 7000215)

	// A short-lived secret stops working once past its end date.
	end := clk.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	_, short := graphCall(t, s, "POST", appURL+"/addPassword", tok, map[string]any{"passwordCredential": map[string]any{"endDateTime": end}})
	shortSecret := short["secretText"].(string)
	if status, _ := cc(shortSecret); status != 200 {
		t.Fatal("short-lived secret refused while valid")
	}
	clk.Advance(2 * time.Hour)
	status, body = cc(shortSecret)
	wantSTSError(t, status, body, 401, "invalid_client", 7000222)

	// etl-agent has no Graph permission on airgate's application.
	etlTok := graphToken(t, c, "etl-agent")
	status, body = graphCall(t, s, "POST", appURL+"/addPassword", etlTok, nil)
	wantGraphError(t, status, body, 403, "Authorization_RequestDenied")
	// OwnedBy does not reach applications airgate does not own.
	status, fresh := postForm(t, s, info.TokenEndpoint, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {DemoAirgateClientID},
		"client_secret": {newSecret}, "scope": {"https://graph.microsoft.com/.default"},
	})
	if status != 200 {
		t.Fatalf("Graph token with the new secret: %v", fresh)
	}
	tok = fresh["access_token"].(string)
	status, body = graphCall(t, s, "POST", info.Graph+"/applications/"+DemoETLAgentObjectID+"/addPassword", tok, nil)
	wantGraphError(t, status, body, 403, "Authorization_RequestDenied")
	status, body = graphCall(t, s, "GET", info.Graph+"/applications/00000000-0000-4000-8000-000000000000", tok, nil)
	wantGraphError(t, status, body, 404, "Request_ResourceNotFound")
}

// TestExpiredSecretFromTenantFile checks a secret already expired in the
// tenant file.
func TestExpiredSecretFromTenantFile(t *testing.T) {
	s, info := startTenant(t, `id: 11111111-2222-4333-8444-555555555555
applications:
  - name: api
    identifierUris: [api://api]
  - name: old
    secrets:
      - {value: expired-secret-1, startDateTime: 2020-01-01T00:00:00Z, endDateTime: 2021-01-01T00:00:00Z}
      - {value: future-secret-1, startDateTime: 2999-01-01T00:00:00Z}
`, Options{})
	for secret, code := range map[string]int{"expired-secret-1": 7000222, "future-secret-1": 7000215} {
		status, body := postForm(t, s, info.TokenEndpoint, url.Values{
			"grant_type": {"client_credentials"}, "client_id": {info.Apps["old"].ClientID},
			"client_secret": {secret}, "scope": {"api://api/.default"},
		})
		wantSTSError(t, status, body, 401, "invalid_client", code)
	}
}

// TestCertificateRotation uploads a certificate through PATCH
// keyCredentials and authenticates with it through MSAL; replacing the
// list removes the old certificate.
func TestCertificateRotation(t *testing.T) {
	s, info := startServer(t, Options{})
	c := newClient(t, info)
	tok := graphToken(t, c, "airgate")
	appURL := info.Graph + "/applications(appId='" + DemoAirgateClientID + "')"
	cert1, key1, _ := newTestCert(t, "airgate-1")
	cert2, key2, _ := newTestCert(t, "airgate-2")
	keyCred := func(der []byte) map[string]any {
		return map[string]any{"type": "AsymmetricX509Cert", "usage": "Verify", "key": base64.StdEncoding.EncodeToString(der), "displayName": "CN=airgate"}
	}
	acquire := func(certIdx int) error {
		cert, key := cert1, key1
		if certIdx == 2 {
			cert, key = cert2, key2
		}
		cred, err := confidential.NewCredFromCert([]*x509.Certificate{cert}, key)
		if err != nil {
			t.Fatal(err)
		}
		cc, err := confidential.New(info.Authority, DemoAirgateClientID, cred, confidential.WithHTTPClient(s.HTTPClient()), confidential.WithInstanceDiscovery(false))
		if err != nil {
			t.Fatal(err)
		}
		res, err := cc.AcquireTokenByCredential(t.Context(), []string{"api://airgate/.default"})
		if err == nil && claimsOf(t, res.AccessToken)["azpacr"] != "2" {
			t.Errorf("azpacr = %v, want 2", claimsOf(t, res.AccessToken)["azpacr"])
		}
		return err
	}
	if err := acquire(1); err == nil {
		t.Fatal("certificate accepted before upload")
	}
	if status, body := graphCall(t, s, "PATCH", appURL, tok, map[string]any{"keyCredentials": []any{keyCred(cert1.Raw)}}); status != 204 {
		t.Fatalf("PATCH = %d %v", status, body)
	}
	if err := acquire(1); err != nil {
		t.Fatalf("uploaded certificate refused: %v", err)
	}
	_, app := graphCall(t, s, "GET", appURL, tok, nil)
	kc := app["keyCredentials"].([]any)[0].(map[string]any)
	sum := sha1.Sum(cert1.Raw)
	if kc["customKeyIdentifier"] != base64.StdEncoding.EncodeToString(sum[:]) || kc["key"] != nil || kc["type"] != "AsymmetricX509Cert" {
		t.Errorf("keyCredential = %v", kc)
	}
	// Rotate: keep cert1 by keyId, add cert2; then drop cert1.
	keep := map[string]any{"keyId": kc["keyId"]}
	if status, body := graphCall(t, s, "PATCH", appURL, tok, map[string]any{"keyCredentials": []any{keep, keyCred(cert2.Raw)}}); status != 204 {
		t.Fatalf("PATCH rotate = %d %v", status, body)
	}
	if acquire(1) != nil || acquire(2) != nil {
		t.Fatal("both certificates should work during the overlap")
	}
	if status, _ := graphCall(t, s, "PATCH", appURL, tok, map[string]any{"keyCredentials": []any{keyCred(cert2.Raw)}}); status != 204 {
		t.Fatal("PATCH drop")
	}
	if err := acquire(1); err == nil || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Errorf("removed certificate: err = %v, want AADSTS700027", err)
	}
	status, body := graphCall(t, s, "PATCH", appURL, tok, map[string]any{"displayName": "x"})
	wantGraphError(t, status, body, 400, "Request_BadRequest")
	status, body = graphCall(t, s, "PATCH", appURL, tok, map[string]any{"keyCredentials": []any{map[string]any{"type": "AsymmetricX509Cert", "usage": "Verify", "key": "bm90IGEgY2VydA=="}}})
	wantGraphError(t, status, body, 400, "Request_BadRequest")
}
