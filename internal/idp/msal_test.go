package idp

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

// certTenant has a v1 API and a daemon that authenticates with a
// certificate (and a secret).
func certTenant(certPEM string) string {
	return `id: 3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b0a
domain: contoso.test
users:
  - name: ada
    password: ada-password-1
    givenName: Ada
    surname: Lovelace
groups:
  - name: readers
    members: [ada]
applications:
  - name: legacy-api
    identifierUris: [api://legacy-api]
    requestedAccessTokenVersion: 1
    groupMembershipClaims: SecurityGroup
    scopes: [{value: user_impersonation}]
    appRoles: [{value: Data.Read}]
  - name: daemon
    allowPublicClient: true
    secrets: [{value: daemon-secret-value-1}]
    certificates:
      - pem: |
` + indent(certPEM, "          ") + `
appRoleAssignments:
  - {principal: daemon, resource: legacy-api, role: Data.Read}
  - {principal: readers, resource: legacy-api, role: Data.Read}
`
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}

func TestMSALConfidentialClientSecret(t *testing.T) {
	s, info := startServer(t, Options{})
	app := info.Apps["etl-agent"]
	cred, err := confidential.NewCredFromSecret(app.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := confidential.New(info.Authority, app.ClientID, cred,
		confidential.WithHTTPClient(s.HTTPClient()), confidential.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatal(err)
	}
	res, err := cc.AcquireTokenByCredential(t.Context(), []string{"api://airgate/.default"})
	if err != nil {
		t.Fatalf("AcquireTokenByCredential() = %v", err)
	}
	c := mustVerify(t, verifier(t, s.HTTPClient(), info.Issuer, DemoAirgateClientID), res.AccessToken)
	want := map[string]any{"azp": DemoETLAgentClientID, "azpacr": "1", "idtyp": "app", "oid": DemoETLAgentSPID, "sub": DemoETLAgentSPID, "tid": DemoTenantID, "ver": "2.0"}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if got := strs(c["roles"]); !slices.Equal(got, []string{"Airflow.Operator"}) {
		t.Errorf("roles = %v, want [Airflow.Operator]", got)
	}
	for _, absent := range []string{"scp", "name", "preferred_username", "upn", "groups", "amr"} {
		if _, ok := c[absent]; ok {
			t.Errorf("app-only token has %s", absent)
		}
	}
	if ttl := time.Until(res.ExpiresOn); ttl < 59*time.Minute || ttl > 91*time.Minute {
		t.Errorf("lifetime %v outside Entra's 60-90 minutes", ttl)
	}
	// A second call is served from MSAL's cache: same token.
	res2, err := cc.AcquireTokenByCredential(t.Context(), []string{"api://airgate/.default"})
	if err != nil || res2.AccessToken != res.AccessToken {
		t.Errorf("second AcquireTokenByCredential() = %v, want the cached token", err)
	}
}

func TestMSALConfidentialClientCertificate(t *testing.T) {
	cert, key, certPEM := newTestCert(t, "daemon")
	s, info := startTenant(t, certTenant(certPEM), Options{})
	daemon := info.Apps["daemon"]
	cred, err := confidential.NewCredFromCert(nil, nil)
	if err == nil {
		t.Fatal("NewCredFromCert(nil) succeeded")
	}
	cred, err = confidential.NewCredFromCert([]*x509.Certificate{cert}, key)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := confidential.New(info.Authority, daemon.ClientID, cred,
		confidential.WithHTTPClient(s.HTTPClient()), confidential.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatal(err)
	}
	res, err := cc.AcquireTokenByCredential(t.Context(), []string{"api://legacy-api/.default"})
	if err != nil {
		t.Fatalf("AcquireTokenByCredential() with a certificate (PS256, x5t#S256) = %v", err)
	}
	// legacy-api asks for v1 tokens: v1 issuer, App ID URI audience, appid.
	c := mustVerify(t, verifier(t, s.HTTPClient(), info.IssuerV1, "api://legacy-api"), res.AccessToken)
	if c["ver"] != "1.0" || c["appid"] != daemon.ClientID || c["appidacr"] != "2" || c["iss"] != info.IssuerV1 {
		t.Errorf("claims = %v, want a v1 token with appidacr 2", c)
	}
	if h := headerOf(t, res.AccessToken); h["x5t"] != h["kid"] {
		t.Errorf("v1 header x5t = %v, kid = %v; want equal", h["x5t"], h["kid"])
	}

	// RS256 with an x5t (SHA-1) header, as the Entra docs describe.
	sum := sha1.Sum(cert.Raw)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("x5t", base64.RawURLEncoding.EncodeToString(sum[:])))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	assertion := func(aud string) string {
		a, err := josejwt.Signed(signer).Claims(josejwt.Claims{
			Issuer: daemon.ClientID, Subject: daemon.ClientID, Audience: josejwt.Audience{aud},
			ID: newGUID(), IssuedAt: josejwt.NewNumericDate(now), NotBefore: josejwt.NewNumericDate(now),
			Expiry: josejwt.NewNumericDate(now.Add(10 * time.Minute)),
		}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {daemon.ClientID}, "scope": {"api://legacy-api/.default"},
		"client_assertion_type": {assertionTypeJWT}, "client_assertion": {assertion(info.TokenEndpoint)},
	}
	status, body := postForm(t, s, info.TokenEndpoint, form)
	if status != 200 {
		t.Fatalf("RS256 assertion: status %d, body %v", status, body)
	}
	form.Set("client_assertion", assertion("https://login.microsoftonline.com/"+info.TenantID+"/oauth2/v2.0/token"))
	status, body = postForm(t, s, info.TokenEndpoint, form)
	wantSTSError(t, status, body, 401, "invalid_client", 700023)

	// A certificate that is not registered is refused.
	other, otherKey, _ := newTestCert(t, "stranger")
	cred, _ = confidential.NewCredFromCert([]*x509.Certificate{other}, otherKey)
	cc, _ = confidential.New(info.Authority, daemon.ClientID, cred,
		confidential.WithHTTPClient(s.HTTPClient()), confidential.WithInstanceDiscovery(false))
	if _, err := cc.AcquireTokenByCredential(t.Context(), []string{"api://legacy-api/.default"}); err == nil || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Errorf("unregistered certificate: err = %v, want AADSTS700027", err)
	}
}

func TestMSALPublicClientUsernamePassword(t *testing.T) {
	s, info := startServer(t, Options{})
	pc, err := public.New(DemoAirgateClientID, public.WithAuthority(info.Authority),
		public.WithHTTPClient(s.HTTPClient()), public.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatal(err)
	}
	res, err := pc.AcquireTokenByUsernamePassword(t.Context(), []string{"api://airgate/access_as_user"}, "bob@airgate.example", DemoPassword("bob"))
	if err != nil {
		t.Fatalf("AcquireTokenByUsernamePassword() = %v", err)
	}
	if want := DemoBobID + "." + DemoTenantID; res.Account.HomeAccountID != want {
		t.Errorf("HomeAccountID = %q, want %q (from client_info)", res.Account.HomeAccountID, want)
	}
	if res.IDToken.PreferredUsername != "bob@airgate.example" {
		t.Errorf("ID token preferred_username = %q", res.IDToken.PreferredUsername)
	}
	c := mustVerify(t, verifier(t, s.HTTPClient(), info.Issuer, DemoAirgateClientID), res.AccessToken)
	if c["azpacr"] != "0" || c["scp"] != "access_as_user" || !slices.Equal(strs(c["roles"]), []string{"Airflow.Viewer"}) {
		t.Errorf("claims = %v", c)
	}
	mustVerify(t, verifier(t, s.HTTPClient(), info.Issuer, DemoAirgateClientID), res.IDToken.RawToken)

	// Silent acquisition for another resource redeems the refresh token.
	res2, err := pc.AcquireTokenSilent(t.Context(), []string{"https://graph.microsoft.com/User.Read"}, public.WithSilentAccount(res.Account))
	if err != nil {
		t.Fatalf("AcquireTokenSilent() = %v", err)
	}
	g := claimsOf(t, res2.AccessToken)
	if g["aud"] != graphResource || g["scp"] != "User.Read" || g["oid"] != DemoBobID {
		t.Errorf("Graph token claims = %v", g)
	}
	if h := headerOf(t, res2.AccessToken); h["nonce"] == nil {
		t.Errorf("Graph token header %v lacks nonce", h)
	}

	if _, err := pc.AcquireTokenByUsernamePassword(t.Context(), []string{"api://airgate/access_as_user"}, "bob@airgate.example", "wrong"); err == nil || !strings.Contains(err.Error(), "AADSTS50126") {
		t.Errorf("wrong password: err = %v, want AADSTS50126", err)
	}
}

func TestMSALAuthCodeWithPKCE(t *testing.T) {
	s, info := startServer(t, Options{})
	app := info.Apps["airgate"]
	cred, _ := confidential.NewCredFromSecret(app.ClientSecret)
	cc, err := confidential.New(info.Authority, app.ClientID, cred,
		confidential.WithHTTPClient(s.HTTPClient()), confidential.WithInstanceDiscovery(false))
	if err != nil {
		t.Fatal(err)
	}
	redirect := "http://localhost:8080/oauth2/callback"
	scopes := []string{"api://airgate/access_as_user"}
	u, err := cc.AuthCodeURL(t.Context(), app.ClientID, redirect, scopes)
	if err != nil {
		t.Fatal(err)
	}
	verifierStr, challenge := pkce()
	authURL, _ := url.Parse(u)
	q := authURL.Query()
	q.Set("state", "st-1")
	q.Set("nonce", "n-1")
	q.Set("code_challenge", challenge)
	q.Set("code_challenge_method", "S256")
	endpoint := strings.Split(u, "?")[0]
	resp, page := authorize(t, s, endpoint, q)
	if resp.StatusCode != 200 {
		t.Fatalf("authorize status %d: %s", resp.StatusCode, page)
	}
	loc := pickUser(t, s, endpoint, page, "dave", true)
	if loc.Query().Get("state") != "st-1" || loc.Host != "localhost:8080" {
		t.Fatalf("redirect %v", loc)
	}
	res, err := cc.AcquireTokenByAuthCode(t.Context(), loc.Query().Get("code"), redirect, scopes, confidential.WithChallenge(verifierStr))
	if err != nil {
		t.Fatalf("AcquireTokenByAuthCode() = %v", err)
	}
	v := verifier(t, s.HTTPClient(), info.Issuer, app.ClientID)
	at := mustVerify(t, v, res.AccessToken)
	if !slices.Equal(strs(at["roles"]), []string{"Airflow.Admin"}) || !slices.Contains(strs(at["amr"]), "mfa") {
		t.Errorf("access token claims = %v", at)
	}
	id := mustVerify(t, v, res.IDToken.RawToken)
	if id["nonce"] != "n-1" || id["oid"] != DemoDaveID {
		t.Errorf("ID token claims = %v", id)
	}
}

func TestAzidentityClientSecretCredential(t *testing.T) {
	s, info := startServer(t, Options{})
	app := info.Apps["etl-agent"]
	cred, err := azidentity.NewClientSecretCredential(info.TenantID, app.ClientID, app.ClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: info.AuthorityHost},
			Transport: s.HTTPClient(),
		},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{"api://airgate/.default"}})
	if err != nil {
		t.Fatalf("GetToken() = %v", err)
	}
	c := mustVerify(t, verifier(t, s.HTTPClient(), info.Issuer, DemoAirgateClientID), tok.Token)
	if c["azp"] != app.ClientID || c["idtyp"] != "app" {
		t.Errorf("claims = %v", c)
	}

	bad, _ := azidentity.NewClientSecretCredential(info.TenantID, app.ClientID, "not-the-secret", &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: info.AuthorityHost}, Transport: s.HTTPClient()},
		DisableInstanceDiscovery: true,
	})
	if _, err := bad.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{"api://airgate/.default"}}); err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Errorf("wrong secret: err = %v, want AADSTS7000215", err)
	}
}
