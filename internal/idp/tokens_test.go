package idp

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDemoUserTokens checks groups, app roles and the overage indicator
// for each demo user, through the password grant, with go-oidc
// verification of every token.
func TestDemoUserTokens(t *testing.T) {
	s, info := startServer(t, Options{})
	c := newClient(t, info)
	v := verifier(t, s.HTTPClient(), info.Issuer, DemoAirgateClientID)
	tests := []struct {
		user      string
		roles     []string
		groups    []string // nil: no groups claim
		overage   bool
		notRoles  []string
		notGroups []string
	}{
		{user: "alice", roles: []string{"Airflow.Operator"}, groups: []string{DemoGroupTeamAOperatorsID}},
		{user: "bob", roles: []string{"Airflow.Viewer"}, groups: []string{DemoGroupViewersID}},
		// carol reaches airflow-admins only through platform-engineers: the
		// groups claim is transitive, app role assignments are not.
		{user: "carol", groups: []string{DemoGroupAdminsID, DemoGroupPlatformID}, notRoles: []string{"Airflow.Admin"}},
		{user: "dave", roles: []string{"Airflow.Admin"}, groups: []string{DemoGroupAdminsID}},
		{user: "erin", notGroups: []string{DemoGroupAdminsID}},
		{user: "frank", roles: []string{"Airflow.Operator"}, overage: true},
	}
	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			tok, err := c.Password(t.Context(), "airgate", tc.user, "api://airgate/access_as_user")
			if err != nil {
				t.Fatal(err)
			}
			for kind, raw := range map[string]string{"access": tok.AccessToken, "id": tok.IDToken} {
				cl := mustVerify(t, v, raw)
				if got := strs(cl["roles"]); !slices.Equal(got, tc.roles) {
					t.Errorf("%s token roles = %v, want %v", kind, got, tc.roles)
				}
				for _, r := range tc.notRoles {
					if slices.Contains(strs(cl["roles"]), r) {
						t.Errorf("%s token has role %s, must not", kind, r)
					}
				}
				if tc.overage {
					if _, ok := cl["groups"]; ok {
						t.Errorf("%s token has groups despite overage", kind)
					}
					names, _ := cl["_claim_names"].(map[string]any)
					sources, _ := cl["_claim_sources"].(map[string]any)
					src, _ := sources["src1"].(map[string]any)
					want := "https://graph.windows.net/" + DemoTenantID + "/users/" + DemoFrankID + "/getMemberObjects"
					if names["groups"] != "src1" || src["endpoint"] != want {
						t.Errorf("%s token overage = %v %v, want groups->src1 at %s", kind, names, sources, want)
					}
				} else {
					if got := strs(cl["groups"]); !slices.Equal(got, tc.groups) {
						t.Errorf("%s token groups = %v, want %v", kind, got, tc.groups)
					}
					if _, ok := cl["_claim_names"]; ok {
						t.Errorf("%s token has _claim_names without overage", kind)
					}
				}
				for _, g := range tc.notGroups {
					if slices.Contains(strs(cl["groups"]), g) {
						t.Errorf("%s token has group %s", kind, g)
					}
				}
			}
		})
	}
}

func TestAccessTokenShapes(t *testing.T) {
	s, info := startServer(t, Options{})
	c := newClient(t, info)
	user, err := c.Password(t.Context(), "airgate", "alice", "api://airgate/access_as_user")
	if err != nil {
		t.Fatal(err)
	}
	app, err := c.ClientCredentials(t.Context(), "etl-agent", "api://airgate/.default")
	if err != nil {
		t.Fatal(err)
	}
	id := claimsOf(t, user.IDToken)
	at := claimsOf(t, user.AccessToken)
	tests := []struct {
		name    string
		claims  map[string]any
		present []string
		absent  []string
		equal   map[string]any
	}{
		{"v2 user access token", at,
			[]string{"aud", "iss", "iat", "nbf", "exp", "aio", "azp", "azpacr", "name", "oid", "preferred_username", "rh", "scp", "sub", "tid", "uti", "ver", "idtyp"},
			[]string{"appid", "appidacr", "unique_name", "upn", "acr", "nonce"},
			map[string]any{"ver": "2.0", "idtyp": "user", "iss": info.Issuer, "aud": DemoAirgateClientID, "preferred_username": "alice@airgate.example"}},
		{"v2 ID token", id,
			[]string{"aud", "iss", "iat", "nbf", "exp", "oid", "sub", "tid", "uti", "ver", "name", "preferred_username", "sid"},
			[]string{"upn", "unique_name", "scp", "azp", "appid"},
			map[string]any{"ver": "2.0", "aud": DemoAirgateClientID}},
		{"v2 app-only token", claimsOf(t, app.AccessToken),
			[]string{"azp", "azpacr", "idtyp", "oid", "sub", "roles", "uti"},
			[]string{"scp", "name", "preferred_username", "upn", "amr", "appid"},
			map[string]any{"idtyp": "app", "azpacr": "1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range tc.present {
				if _, ok := tc.claims[k]; !ok {
					t.Errorf("claim %s missing", k)
				}
			}
			for _, k := range tc.absent {
				if _, ok := tc.claims[k]; ok {
					t.Errorf("claim %s present, want absent", k)
				}
			}
			for k, v := range tc.equal {
				if tc.claims[k] != v {
					t.Errorf("claim %s = %v, want %v", k, tc.claims[k], v)
				}
			}
		})
	}
	if sub := at["sub"].(string); len(sub) != 43 || sub == DemoAliceID {
		t.Errorf("sub = %q, want a 43-character pairwise identifier", sub)
	}
	if h := headerOf(t, user.AccessToken); h["x5t"] != nil || h["kid"] == nil || h["typ"] != "JWT" || h["alg"] != "RS256" {
		t.Errorf("v2 header = %v, want typ JWT, RS256, kid and no x5t", h)
	}
	life := int64(at["exp"].(float64) - at["iat"].(float64))
	if life < 3600 || life > 5400 {
		t.Errorf("lifetime %ds outside 60-90 minutes", life)
	}
	if _, err := mustVerifyErr(t, s, info, user.AccessToken); err != nil {
		t.Error(err)
	}
}

func mustVerifyErr(t *testing.T, s *Server, info ReadyInfo, tok string) (map[string]any, error) {
	t.Helper()
	idt, err := verifier(t, s.HTTPClient(), info.Issuer, DemoAirgateClientID).Verify(t.Context(), tok)
	if err != nil {
		return nil, err
	}
	var c map[string]any
	return c, idt.Claims(&c)
}

// TestV1AndV2Tokens checks that the resource's requestedAccessTokenVersion
// decides the access token's version, whichever endpoint was called.
func TestV1AndV2Tokens(t *testing.T) {
	_, _, certPEM := newTestCert(t, "daemon")
	s, info := startTenant(t, certTenant(certPEM), Options{})
	c := newClient(t, info)
	v2ID := verifier(t, s.HTTPClient(), info.Issuer, info.Apps["daemon"].ClientID)
	v1 := verifier(t, s.HTTPClient(), info.IssuerV1, "api://legacy-api")

	user, err := c.Password(t.Context(), "daemon", "ada", "api://legacy-api/user_impersonation")
	if err != nil {
		t.Fatal(err)
	}
	at := mustVerify(t, v1, user.AccessToken)
	for k, want := range map[string]any{"ver": "1.0", "iss": info.IssuerV1, "aud": "api://legacy-api", "appid": info.Apps["daemon"].ClientID, "appidacr": "0", "upn": "ada@contoso.test", "unique_name": "ada@contoso.test", "given_name": "Ada", "family_name": "Lovelace", "scp": "user_impersonation", "acr": "1"} {
		if at[k] != want {
			t.Errorf("v1 access token %s = %v, want %v", k, at[k], want)
		}
	}
	if !slices.Equal(strs(at["amr"]), []string{"pwd"}) || !slices.Equal(strs(at["roles"]), []string{"Data.Read"}) || len(strs(at["groups"])) != 1 {
		t.Errorf("v1 access token amr/roles/groups = %v %v %v", at["amr"], at["roles"], at["groups"])
	}
	for _, k := range []string{"azp", "azpacr", "preferred_username"} {
		if _, ok := at[k]; ok {
			t.Errorf("v1 access token has %s", k)
		}
	}
	// The ID token from the v2 endpoint is v2 whatever the resource.
	id := mustVerify(t, v2ID, user.IDToken)
	if id["ver"] != "2.0" || id["iss"] != info.Issuer {
		t.Errorf("ID token = %v, want v2", id)
	}
	if _, ok := id["amr"]; ok {
		t.Errorf("v2 ID token has amr; Entra emits it in v1 tokens only (tenant without amrInV2Tokens)")
	}
	// A v1 token does not verify against the v2 issuer's metadata.
	if _, err := verifier(t, s.HTTPClient(), info.Issuer, "api://legacy-api").Verify(t.Context(), user.AccessToken); err == nil {
		t.Error("v1 token verified against the v2 issuer")
	}

	// The v1 token endpoint takes resource and answers in v1 shape.
	status, body := postForm(t, s, info.Authority+"/oauth2/token", map[string][]string{
		"grant_type": {"client_credentials"}, "client_id": {info.Apps["daemon"].ClientID},
		"client_secret": {"daemon-secret-value-1"}, "resource": {"api://legacy-api"},
	})
	if status != 200 || body["resource"] != "api://legacy-api" || body["expires_on"] == nil {
		t.Fatalf("v1 token endpoint: %d %v", status, body)
	}
	if _, isString := body["expires_in"].(string); !isString {
		t.Errorf("v1 expires_in = %#v, want a string", body["expires_in"])
	}
	mustVerify(t, v1, body["access_token"].(string))
}

// TestGraphTokenHasNonceHeader checks that Graph tokens carry the header
// nonce that makes standard verification fail, so a gateway can recognise
// and reject them.
func TestGraphTokenHasNonceHeader(t *testing.T) {
	s, info := startServer(t, Options{})
	c := newClient(t, info)
	tok, err := c.ClientCredentials(t.Context(), "airgate", "https://graph.microsoft.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	h := headerOf(t, tok.AccessToken)
	if n, _ := h["nonce"].(string); n == "" || h["x5t"] == nil {
		t.Fatalf("Graph token header = %v, want nonce and x5t", h)
	}
	cl := claimsOf(t, tok.AccessToken)
	if cl["aud"] != graphResource || cl["ver"] != "1.0" || cl["idtyp"] != "app" || cl["app_displayname"] != "airgate" {
		t.Errorf("Graph token claims = %v", cl)
	}
	if got := strs(cl["roles"]); !slices.Equal(got, []string{"Application.ReadWrite.OwnedBy", "GroupMember.Read.All", "User.Read.All"}) {
		t.Errorf("Graph token roles = %v", got)
	}
	_, err = verifier(t, s.HTTPClient(), info.IssuerV1, graphResource).Verify(t.Context(), tok.AccessToken)
	if err == nil {
		t.Fatal("a Graph token verified with standard JWS verification; the nonce transform must prevent that")
	}
}

// TestKeyRollover checks that the JWKS publishes several keys, that a
// rolled-in key was published before it signed (go-oidc verifies the new
// token without fetching the keys again), and that retired keys stay until
// their tokens expire and then go.
func TestKeyRollover(t *testing.T) {
	clk := &clock{}
	s, info := startServer(t, Options{Now: clk.Now, TokenLifetime: time.Hour})
	counter := &countingTransport{base: s.HTTPClient().Transport, suffix: "/discovery/v2.0/keys"}
	hc := &http.Client{Transport: counter}
	v := verifier(t, hc, info.Issuer, DemoAirgateClientID)
	c := newClient(t, info)

	get := func() string {
		tok, err := c.ClientCredentials(t.Context(), "etl-agent", "api://airgate/.default")
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	jwksKids := func() []string {
		resp, err := s.HTTPClient().Get(info.JWKSURI)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var set struct {
			Keys []struct {
				Kid, X5t, Issuer, Kty, Use string
				X5c                        []string
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range set.Keys {
			if k.Kid != k.X5t || k.Issuer != info.Issuer || k.Kty != "RSA" || k.Use != "sig" || len(k.X5c) != 1 {
				t.Errorf("JWKS key %+v is not Entra-shaped", k)
			}
			out = append(out, k.Kid)
		}
		return out
	}

	before := jwksKids()
	if len(before) < 2 {
		t.Fatalf("JWKS has %d keys, want more than one", len(before))
	}
	old := get()
	oldKid := headerOf(t, old)["kid"].(string)
	mustVerify(t, v, old)
	fetches := counter.n.Load()

	if err := s.RollKeys(); err != nil {
		t.Fatal(err)
	}
	fresh := get()
	newKid := headerOf(t, fresh)["kid"].(string)
	if newKid == oldKid || !slices.Contains(before, newKid) {
		t.Fatalf("new signing kid %s: want a different key that was already published in %v", newKid, before)
	}
	mustVerify(t, v, fresh)
	mustVerify(t, v, old)
	if got := counter.n.Load(); got != fetches {
		t.Errorf("go-oidc fetched the JWKS %d more times after the roll; the new key should have been published already", got-fetches)
	}
	after := jwksKids()
	if !slices.Contains(after, oldKid) {
		t.Errorf("retired key %s left the JWKS while its tokens are valid", oldKid)
	}

	// Once every token the old key signed has expired, it is withdrawn.
	clk.Advance(2 * time.Hour)
	if slices.Contains(jwksKids(), oldKid) {
		t.Errorf("retired key %s still published after its tokens expired", oldKid)
	}
	if !strings.Contains(strings.Join(jwksKids(), " "), newKid) {
		t.Error("current key missing from the JWKS")
	}
}
