package authn

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/identity"
)

func TestVerifyValid(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	rk := newRSAKey(t, "rsa-1", 0)
	ek := newECKey(t, "ec-1")
	f := newFakeIdP(t, true, rk, ek)
	f.setKeyIssuer()
	iat, exp := now.Add(-time.Minute), now.Add(time.Hour)

	tests := []struct {
		name   string
		key    *signingKey
		claims map[string]any
		algs   []string
		want   identity.Principal
	}{
		{
			name:   "v2 user",
			key:    rk,
			claims: v2UserClaims(f, tenantA, now),
			want: identity.Principal{
				Kind: identity.User, TenantID: tenantA, ObjectID: userOID, Subject: "pairwise-sub-ada",
				UPN: "ada@contoso.example", AppID: clientA, DisplayName: "Ada Example",
				Groups: []string{groupX}, AppRoles: []string{"Airflow.Op"}, Scopes: []string{"access_as_user", "openid"},
				Issuer: f.issuerV2(tenantA), Audience: clientID, TokenVersion: "2.0", IssuedAt: iat, Expiry: exp,
			},
		},
		{
			name:   "v1 user",
			key:    rk,
			claims: v1UserClaims(f, tenantA, now),
			want: identity.Principal{
				Kind: identity.User, TenantID: tenantA, ObjectID: userOID, Subject: "pairwise-sub-ada-v1",
				UPN: "ada@contoso.example", AppID: clientA, DisplayName: "Ada Example",
				Scopes: []string{"user_impersonation"}, AMR: []string{"pwd", "mfa"}, ACR: "1",
				Issuer: f.issuerV1(tenantA), Audience: appIDURI, TokenVersion: "1.0", IssuedAt: iat, Expiry: exp,
			},
		},
		{
			name:   "v1 user, unique_name only",
			key:    rk,
			claims: with(v1UserClaims(f, tenantA, now), "upn", nil, "unique_name", "live.com#ada@example.org"),
			want: identity.Principal{
				Kind: identity.User, TenantID: tenantA, ObjectID: userOID, Subject: "pairwise-sub-ada-v1",
				UPN: "live.com#ada@example.org", AppID: clientA, DisplayName: "Ada Example",
				Scopes: []string{"user_impersonation"}, AMR: []string{"pwd", "mfa"}, ACR: "1",
				Issuer: f.issuerV1(tenantA), Audience: appIDURI, TokenVersion: "1.0", IssuedAt: iat, Expiry: exp,
			},
		},
		{
			name:   "v2 app (idtyp)",
			key:    rk,
			claims: v2AppClaims(f, tenantA, now),
			want: identity.Principal{
				Kind: identity.App, TenantID: tenantA, ObjectID: appOID, Subject: appOID, AppID: daemon,
				AppRoles: []string{"Airflow.Trigger"},
				Issuer:   f.issuerV2(tenantA), Audience: clientID, TokenVersion: "2.0", IssuedAt: iat, Expiry: exp,
			},
		},
		{
			name:   "v2 app without idtyp",
			key:    rk,
			claims: with(v2AppClaims(f, tenantA, now), "idtyp", nil),
			want: identity.Principal{
				Kind: identity.App, TenantID: tenantA, ObjectID: appOID, Subject: appOID, AppID: daemon,
				AppRoles: []string{"Airflow.Trigger"},
				Issuer:   f.issuerV2(tenantA), Audience: clientID, TokenVersion: "2.0", IssuedAt: iat, Expiry: exp,
			},
		},
		{
			name:   "v1 app, App ID URI with trailing slash",
			key:    rk,
			claims: v1AppClaims(f, tenantA, now),
			want: identity.Principal{
				Kind: identity.App, TenantID: tenantA, ObjectID: appOID, Subject: appOID, AppID: daemon,
				AppRoles: []string{"Airflow.Trigger"},
				Issuer:   f.issuerV1(tenantA), Audience: "api://airgate/", TokenVersion: "1.0", IssuedAt: iat, Expiry: exp,
			},
		},
		{
			name:   "v2 user with idtyp=user and no scp",
			key:    rk,
			claims: with(v2UserClaims(f, tenantA, now), "idtyp", "user", "scp", nil, "preferred_username", nil),
			want: identity.Principal{
				Kind: identity.User, TenantID: tenantA, ObjectID: userOID, Subject: "pairwise-sub-ada",
				AppID: clientA, DisplayName: "Ada Example",
				Groups: []string{groupX}, AppRoles: []string{"Airflow.Op"},
				Issuer: f.issuerV2(tenantA), Audience: clientID, TokenVersion: "2.0", IssuedAt: iat, Expiry: exp,
			},
		},
		{
			name: "v2 user, groups overage",
			key:  rk,
			claims: with(v2UserClaims(f, tenantA, now), "groups", nil,
				"_claim_names", map[string]any{"groups": "src1"},
				"_claim_sources", map[string]any{"src1": map[string]any{"endpoint": "https://graph.windows.net/x/users/y/getMemberObjects"}}),
			want: identity.Principal{
				Kind: identity.User, TenantID: tenantA, ObjectID: userOID, Subject: "pairwise-sub-ada",
				UPN: "ada@contoso.example", AppID: clientA, DisplayName: "Ada Example", GroupsOverage: true,
				AppRoles: []string{"Airflow.Op"}, Scopes: []string{"access_as_user", "openid"},
				Issuer: f.issuerV2(tenantA), Audience: clientID, TokenVersion: "2.0", IssuedAt: iat, Expiry: exp,
			},
		},
		{
			name:   "v2 user, hasgroups",
			key:    rk,
			claims: with(v2UserClaims(f, tenantA, now), "groups", nil, "hasgroups", true),
			want: identity.Principal{
				Kind: identity.User, TenantID: tenantA, ObjectID: userOID, Subject: "pairwise-sub-ada",
				UPN: "ada@contoso.example", AppID: clientA, DisplayName: "Ada Example", GroupsOverage: true,
				AppRoles: []string{"Airflow.Op"}, Scopes: []string{"access_as_user", "openid"},
				Issuer: f.issuerV2(tenantA), Audience: clientID, TokenVersion: "2.0", IssuedAt: iat, Expiry: exp,
			},
		},
		{
			name:   "ES256 when allowed",
			key:    ek,
			algs:   []string{"RS256", "ES256"},
			claims: v2AppClaims(f, tenantA, now),
			want: identity.Principal{
				Kind: identity.App, TenantID: tenantA, ObjectID: appOID, Subject: appOID, AppID: daemon,
				AppRoles: []string{"Airflow.Trigger"},
				Issuer:   f.issuerV2(tenantA), Audience: clientID, TokenVersion: "2.0", IssuedAt: iat, Expiry: exp,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := f.options(clk)
			opts.Algorithms = tc.algs
			v := newVerifier(t, opts)
			raw := sign(t, tc.key, nil, tc.claims)
			got, err := v.Verify(context.Background(), raw)
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			want := tc.want
			want.TokenFingerprint = Fingerprint(raw)
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("Verify() =\n%+v\nwant\n%+v", *got, want)
			}
			if len(got.TokenFingerprint) != 16 {
				t.Errorf("TokenFingerprint %q is not 16 hex characters", got.TokenFingerprint)
			}
		})
	}
}

// rejectCase is one token Verify must refuse.
type rejectCase struct {
	name string
	// token builds the raw token.
	token func(t *testing.T) string
	opts  func(o *Options)
	want  Code
	// cheap cases are refused before any key work: the IdP sees nothing.
	cheap bool
}

func TestVerifyRejects(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	rk := newRSAKey(t, "rsa-1", 0)
	other := newRSAKey(t, "rsa-1", 1) // same kid, unpublished key
	ek := newECKey(t, "ec-1")
	f := newFakeIdP(t, true, rk, ek)
	f.setKeyIssuer()
	skew := DefaultClockSkew

	v2 := func(kv ...any) map[string]any { return with(v2UserClaims(f, tenantA, now), kv...) }
	v1 := func(kv ...any) map[string]any { return with(v1UserClaims(f, tenantA, now), kv...) }
	signed := func(c map[string]any) func(*testing.T) string {
		return func(t *testing.T) string { return sign(t, rk, nil, c) }
	}
	withHeader := func(h map[string]any, c map[string]any) func(*testing.T) string {
		return func(t *testing.T) string { return sign(t, rk, h, c) }
	}
	pubDER, err := x509.MarshalPKIXPublicKey(rk.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	jwkJSON, _ := rk.jwk().MarshalJSON()

	tests := []rejectCase{
		{name: "empty", token: func(*testing.T) string { return "" }, want: CodeNoCredentials, cheap: true},
		{name: "garbage", token: func(*testing.T) string { return "not-a-token" }, want: CodeMalformedToken, cheap: true},
		{name: "four parts", token: func(t *testing.T) string { return sign(t, rk, nil, v2()) + ".x" }, want: CodeMalformedToken, cheap: true},
		{name: "padding in base64", token: func(t *testing.T) string {
			p := strings.SplitN(sign(t, rk, nil, v2()), ".", 3)
			return p[0] + "=." + p[1] + "." + p[2]
		}, want: CodeMalformedToken, cheap: true},
		{name: "too large", token: signed(v2("pad", strings.Repeat("x", DefaultMaxTokenBytes))), want: CodeTokenTooLarge, cheap: true},
		{name: "alg none", token: func(t *testing.T) string {
			hdr := enc.EncodeToString([]byte(`{"alg":"none","kid":"rsa-1","typ":"JWT"}`))
			return hdr + "." + enc.EncodeToString(mustJSON(t, v2())) + "."
		}, want: CodeAlgNotAllowed, cheap: true},
		{name: "alg none with a signature", token: func(t *testing.T) string {
			hdr := enc.EncodeToString([]byte(`{"alg":"none","kid":"rsa-1"}`))
			return hdr + "." + enc.EncodeToString(mustJSON(t, v2())) + ".c2ln"
		}, want: CodeAlgNotAllowed, cheap: true},
		{name: "alg NONE", token: withHeader(map[string]any{"alg": "NONE"}, v2()), want: CodeAlgNotAllowed, cheap: true},
		{name: "HS256 keyed with the public key (DER)", token: func(t *testing.T) string {
			return hs256(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, v2(), pubDER)
		}, want: CodeAlgNotAllowed, cheap: true},
		{name: "HS256 keyed with the JWK", token: func(t *testing.T) string {
			return hs256(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, v2(), jwkJSON)
		}, want: CodeAlgNotAllowed, cheap: true},
		{name: "RS384 not in the allow-list", token: withHeader(map[string]any{"alg": "RS384"}, v2()), want: CodeAlgNotAllowed, cheap: true},
		{name: "no alg", token: withHeader(map[string]any{"alg": nil}, v2()), want: CodeAlgNotAllowed, cheap: true},
		{name: "no kid", token: withHeader(map[string]any{"kid": nil}, v2()), want: CodeMalformedToken, cheap: true},
		{name: "Graph nonce header", token: withHeader(map[string]any{"nonce": "abc", "x5t": "rsa-1"}, v1("aud", "https://graph.microsoft.com")), want: CodeGraphToken, cheap: true},
		{name: "Graph nonce header for our audience", token: withHeader(map[string]any{"nonce": "abc"}, v2()), want: CodeGraphToken, cheap: true},
		{name: "crit header", token: withHeader(map[string]any{"crit": []string{"exp"}, "exp": 1}, v2()), want: CodeMalformedToken, cheap: true},
		{name: "JSON serialization, two signatures", token: func(t *testing.T) string {
			tok := strings.Split(sign(t, rk, nil, v2()), ".")
			tok2 := strings.Split(sign(t, ek, map[string]any{"alg": "ES256"}, v2()), ".")
			return string(mustJSON(t, map[string]any{
				"payload": tok[1],
				"signatures": []map[string]any{
					{"protected": tok[0], "signature": tok[2]},
					{"protected": tok2[0], "signature": tok2[2]},
				},
			}))
		}, want: CodeMalformedToken, cheap: true},
		{name: "JSON serialization, one signature", token: func(t *testing.T) string {
			tok := strings.Split(sign(t, rk, nil, v2()), ".")
			return string(mustJSON(t, map[string]any{"payload": tok[1], "protected": tok[0], "signature": tok[2]}))
		}, want: CodeMalformedToken, cheap: true},
		{name: "payload not JSON", token: func(t *testing.T) string {
			hdr := enc.EncodeToString(mustJSON(t, map[string]any{"alg": "RS256", "kid": "rsa-1"}))
			input := hdr + "." + enc.EncodeToString([]byte("hello"))
			return input + "." + enc.EncodeToString(signature(t, rk, input))
		}, want: CodeMalformedToken, cheap: true},
		{name: "claim of the wrong type", token: signed(v2("roles", "Airflow.Admin")), want: CodeMalformedToken, cheap: true},
		{name: "exp a string", token: signed(v2("exp", "tomorrow")), want: CodeMalformedToken, cheap: true},
		{name: "no exp", token: signed(v2("exp", nil)), want: CodeMalformedToken, cheap: true},
		{name: "no oid", token: signed(v2("oid", nil)), want: CodeMalformedToken, cheap: true},
		{name: "no client (ID token shape)", token: signed(v2("azp", nil, "scp", nil, "nonce", "n-0S6_WzA2Mj")), want: CodeNotAccessToken, cheap: true},
		{name: "v1 without appid", token: signed(v1("appid", nil)), want: CodeNotAccessToken, cheap: true},
		{name: "unsupported version", token: signed(v2("ver", "3.0")), want: CodeUnsupportedVersion, cheap: true},
		{name: "no version", token: signed(v2("ver", nil)), want: CodeUnsupportedVersion, cheap: true},
		{name: "v1 refused when only v2 accepted", token: signed(v1()), opts: func(o *Options) { o.Versions = []string{Version2} }, want: CodeUnsupportedVersion, cheap: true},
		{name: "v2 issuer on a v1 token", token: signed(v1("iss", f.issuerV2(tenantA))), want: CodeWrongIssuer, cheap: true},
		{name: "v1 issuer on a v2 token", token: signed(v2("iss", f.issuerV1(tenantA))), want: CodeWrongIssuer, cheap: true},
		{name: "real Entra issuer", token: signed(v2("iss", "https://login.microsoftonline.com/"+tenantA+"/v2.0")), want: CodeWrongIssuer, cheap: true},
		{name: "issuer tenant is not tid", token: signed(v2("iss", f.issuerV2(tenantB))), want: CodeWrongIssuer, cheap: true},
		{name: "issuer with a suffix", token: signed(v2("iss", f.issuerV2(tenantA)+"/")), want: CodeWrongIssuer, cheap: true},
		{name: "no tid", token: signed(v2("tid", nil)), want: CodeWrongTenant, cheap: true},
		{name: "tid not a GUID", token: signed(v2("tid", "../../evil", "iss", f.base()+"/../../evil/v2.0")), want: CodeWrongTenant, cheap: true},
		{name: "other tenant", token: signed(v2("tid", tenantB, "iss", f.issuerV2(tenantB))), want: CodeWrongTenant, cheap: true},
		{name: "wrong audience", token: signed(v2("aud", "99999999-9999-9999-9999-999999999999")), want: CodeWrongAudience, cheap: true},
		{name: "Graph audience", token: signed(v1("aud", "https://graph.microsoft.com")), want: CodeWrongAudience, cheap: true},
		{name: "App ID URI prefix", token: signed(v1("aud", "api://airgate-evil")), want: CodeWrongAudience, cheap: true},
		{name: "no audience", token: signed(v2("aud", nil)), want: CodeWrongAudience, cheap: true},
		{name: "expired", token: signed(v2("exp", now.Add(-time.Hour).Unix())), want: CodeTokenExpired, cheap: true},
		{name: "expired just past the skew", token: signed(v2("exp", now.Add(-skew).Unix())), want: CodeTokenExpired, cheap: true},
		{name: "expired, no skew", token: signed(v2("exp", now.Add(-time.Second).Unix())), opts: func(o *Options) { o.ClockSkew = -1 }, want: CodeTokenExpired, cheap: true},
		{name: "nbf in the future", token: signed(v2("nbf", now.Add(time.Hour).Unix())), want: CodeTokenNotYetValid, cheap: true},
		{name: "nbf just past the skew", token: signed(v2("nbf", now.Add(skew+time.Second).Unix())), want: CodeTokenNotYetValid, cheap: true},
		{name: "iat in the future", token: signed(v2("iat", now.Add(time.Hour).Unix())), want: CodeTokenNotYetValid, cheap: true},

		// These need the key.
		{name: "forged signature (other key, same kid)", token: func(t *testing.T) string { return sign(t, other, nil, v2()) }, want: CodeBadSignature},
		{name: "payload swapped after signing", token: func(t *testing.T) string {
			a := strings.Split(sign(t, rk, nil, v2()), ".")
			b := strings.Split(sign(t, rk, nil, v2("roles", []string{"Airflow.Admin"})), ".")
			return a[0] + "." + b[1] + "." + a[2]
		}, want: CodeBadSignature},
		{name: "signature truncated", token: func(t *testing.T) string { s := sign(t, rk, nil, v2()); return s[:len(s)-8] }, want: CodeBadSignature},
		{name: "EC key named by an RS256 header", token: func(t *testing.T) string {
			return sign(t, rk, map[string]any{"kid": "ec-1"}, v2())
		}, want: CodeBadSignature},
		{name: "unknown kid", token: func(t *testing.T) string {
			return sign(t, newRSAKey(t, "rsa-unknown", 2), nil, v2())
		}, want: CodeUnknownKey},
		{name: "key issuer is another tenant's", token: signed(v2("tid", tenantB, "iss", f.issuerV2(tenantB))),
			opts: func(o *Options) {
				o.Tenants = []string{AnyTenant}
				o.JWKSURL = f.base() + "/" + tenantA + "/discovery/v2.0/keys"
			},
			want: CodeWrongIssuer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := f.options(clk)
			if tc.opts != nil {
				tc.opts(&opts)
			}
			v := newVerifier(t, opts)
			before := f.jwksHits.Load()
			p, err := v.Verify(context.Background(), tc.token(t))
			if p != nil || err == nil {
				t.Fatalf("Verify() = %+v, %v; want rejection %s", p, err, tc.want)
			}
			if got := CodeOf(err); got != tc.want {
				t.Fatalf("Verify() error = %v (code %q), want code %q", err, got, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "authn: ") {
				t.Errorf("error %q lacks the authn: prefix", err)
			}
			if tc.cheap && f.jwksHits.Load() != before {
				t.Errorf("a cheap rejection fetched keys")
			}
		})
	}
}

func TestSkewBoundaries(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	rk := newRSAKey(t, "rsa-1", 0)
	f := newFakeIdP(t, true, rk)
	skew := DefaultClockSkew
	tests := []struct {
		name string
		kv   []any
		want Code
	}{
		{"exp one second inside the skew", []any{"exp", now.Add(-skew + time.Second).Unix()}, ""},
		{"exp at the skew", []any{"exp", now.Add(-skew).Unix()}, CodeTokenExpired},
		{"nbf at the skew", []any{"nbf", now.Add(skew).Unix()}, ""},
		{"nbf one second past the skew", []any{"nbf", now.Add(skew + time.Second).Unix()}, CodeTokenNotYetValid},
		{"iat at the skew", []any{"iat", now.Add(skew).Unix()}, ""},
		{"fractional exp", []any{"exp", float64(now.Unix()) + 0.5}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, f.options(clk))
			_, err := v.Verify(context.Background(), sign(t, rk, nil, with(v2UserClaims(f, tenantA, now), tc.kv...)))
			if got := CodeOf(err); got != tc.want || (tc.want == "" && err != nil) {
				t.Errorf("Verify() error = %v, want code %q", err, tc.want)
			}
		})
	}
}

func TestAudiences(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	rk := newRSAKey(t, "rsa-1", 0)
	f := newFakeIdP(t, true, rk)
	tests := []struct {
		configured []string
		aud        any
		ok         bool
	}{
		{[]string{"api://airgate"}, "api://airgate", true},
		{[]string{"api://airgate"}, "api://airgate/", true},
		{[]string{"api://airgate/"}, "api://airgate", true},
		{[]string{"api://airgate/"}, "api://airgate/", true},
		{[]string{"api://airgate"}, "api://airgate//", false},
		{[]string{"api://airgate"}, "API://AIRGATE", false},
		{[]string{"https://airgate.contoso.example"}, "https://airgate.contoso.example/", true},
		{[]string{clientID}, clientID, true},
		{[]string{clientID}, strings.ToUpper(clientID), true},
		{[]string{clientID}, "api://" + clientID, false},
		{[]string{clientID}, []string{"https://graph.microsoft.com", clientID}, true},
		{[]string{clientID}, []string{"https://graph.microsoft.com"}, false},
	}
	for _, tc := range tests {
		opts := f.options(clk)
		opts.Audiences = tc.configured
		v := newVerifier(t, opts)
		p, err := v.Verify(context.Background(), sign(t, rk, nil, with(v1UserClaims(f, tenantA, now), "aud", tc.aud)))
		if tc.ok && err != nil {
			t.Errorf("audiences %q, aud %v: Verify() = %v, want accepted", tc.configured, tc.aud, err)
		}
		if !tc.ok && CodeOf(err) != CodeWrongAudience {
			t.Errorf("audiences %q, aud %v: Verify() = %v, want wrong-audience", tc.configured, tc.aud, err)
		}
		if tc.ok && err == nil {
			if s, isString := tc.aud.(string); isString && p.Audience != s {
				t.Errorf("Audience = %q, want %q", p.Audience, s)
			}
		}
	}
}

func TestMultiTenant(t *testing.T) {
	clk := newClock()
	now := clk.Now()
	rk := newRSAKey(t, "rsa-1", 0)
	f := newFakeIdP(t, true, rk)
	f.setKeyIssuer()
	opts := f.options(clk)
	opts.Tenants = []string{AnyTenant}
	v := newVerifier(t, opts)
	ctx := context.Background()

	for _, tid := range []string{tenantA, tenantB} {
		p, err := v.Verify(ctx, sign(t, rk, nil, v2UserClaims(f, tid, now)))
		if err != nil {
			t.Fatalf("tenant %s: Verify() = %v", tid, err)
		}
		if p.TenantID != tid {
			t.Errorf("TenantID = %q, want %q", p.TenantID, tid)
		}
		if _, err := v.Verify(ctx, sign(t, rk, nil, v1UserClaims(f, tid, now))); err != nil {
			t.Fatalf("tenant %s v1: Verify() = %v", tid, err)
		}
	}
	// Keys come from each token's own tenant.
	want := []string{"/" + tenantA + "/discovery/v2.0/keys", "/" + tenantB + "/discovery/v2.0/keys"}
	if got := f.jwksPaths(); !reflect.DeepEqual(got, want) {
		t.Errorf("JWKS requests = %v, want %v", got, want)
	}
	// The issuer's tenant must be the token's tid.
	for _, c := range []map[string]any{
		with(v2UserClaims(f, tenantB, now), "iss", f.issuerV2(tenantA)),
		with(v1UserClaims(f, tenantA, now), "iss", f.issuerV1(tenantB)),
	} {
		if _, err := v.Verify(ctx, sign(t, rk, nil, c)); CodeOf(err) != CodeWrongIssuer {
			t.Errorf("issuer tenant != tid: Verify() = %v, want wrong-issuer", err)
		}
	}
}

func TestUnknownKidOneRefreshUnderLoad(t *testing.T) {
	clk := newClock()
	rk := newRSAKey(t, "rsa-1", 0)
	f := newFakeIdP(t, true, rk)
	v := newVerifier(t, f.options(clk))
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, rk, nil, v2UserClaims(f, tenantA, clk.Now()))); err != nil {
		t.Fatal(err)
	}
	if got := f.jwksHits.Load(); got != 1 {
		t.Fatalf("JWKS fetches after the first token = %d, want 1", got)
	}

	clk.Advance(time.Minute) // past the minimum refresh interval
	bogus := newRSAKey(t, "bogus", 1)
	tokens := make([]string, 100)
	for i := range tokens {
		tokens[i] = sign(t, bogus, map[string]any{"kid": "bogus-" + string(rune('a'+i%26))}, with(v2UserClaims(f, tenantA, clk.Now()), "uti", i))
	}
	release := make(chan struct{})
	f.setBlock(release)
	var wg sync.WaitGroup
	errs := make([]error, len(tokens))
	for i, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = v.Verify(ctx, tok)
		}()
	}
	deadline := time.Now().Add(2 * time.Second)
	for f.jwksHits.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others pile up behind it
	close(release)
	wg.Wait()
	f.setBlock(nil)
	for i, err := range errs {
		if CodeOf(err) != CodeUnknownKey {
			t.Fatalf("token %d: Verify() = %v, want unknown-key", i, err)
		}
	}
	if got := f.jwksHits.Load(); got != 2 {
		t.Fatalf("JWKS fetches after 100 concurrent unknown kids = %d, want 2 (one refresh)", got)
	}

	// Rate-limited: more bogus kids within the interval fetch nothing. (Some
	// of the 100 above may have arrived after the refresh and been
	// rate-limited already, depending on scheduling: count from here.)
	limitedBefore := v.Stats().Keys.RateLimited
	for i := range 20 {
		tok := sign(t, bogus, map[string]any{"kid": "more-bogus"}, with(v2UserClaims(f, tenantA, clk.Now()), "uti", 1000+i))
		if _, err := v.Verify(ctx, tok); CodeOf(err) != CodeUnknownKey {
			t.Fatalf("Verify() = %v, want unknown-key", err)
		}
	}
	if got := f.jwksHits.Load(); got != 2 {
		t.Errorf("JWKS fetches within the minimum interval = %d, want still 2", got)
	}
	if st := v.Stats(); st.Keys.RateLimited-limitedBefore != 20 || st.Keys.Refreshes != 2 {
		t.Errorf("Stats().Keys = %+v (rate-limited before the loop: %d), want 20 more rate-limited and 2 refreshes", st.Keys, limitedBefore)
	}
}

func TestKeyRollover(t *testing.T) {
	clk := newClock()
	k1 := newRSAKey(t, "k1", 0)
	k2 := newRSAKey(t, "k2", 1)
	f := newFakeIdP(t, true, k1)
	v := newVerifier(t, f.options(clk))
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, k1, nil, v2UserClaims(f, tenantA, clk.Now()))); err != nil {
		t.Fatal(err)
	}
	// The IdP rolls over: k2 is published and signs.
	f.setKeys(k1, k2)
	clk.Advance(DefaultClockSkew) // beyond the 30 s minimum interval
	if _, err := v.Verify(ctx, sign(t, k2, nil, v2UserClaims(f, tenantA, clk.Now()))); err != nil {
		t.Fatalf("token signed with the new key: Verify() = %v", err)
	}
	if got := f.jwksHits.Load(); got != 2 {
		t.Errorf("JWKS fetches = %d, want 2", got)
	}
	// k1 retired: still cached until the next refresh, which drops it.
	f.setKeys(k2)
	clk.Advance(time.Minute)
	if _, err := v.Verify(ctx, sign(t, newRSAKey(t, "k3", 2), nil, v2UserClaims(f, tenantA, clk.Now()))); CodeOf(err) != CodeUnknownKey {
		t.Fatalf("unknown k3: Verify() = %v, want unknown-key", err)
	}
	if _, err := v.Verify(ctx, sign(t, k1, nil, with(v2UserClaims(f, tenantA, clk.Now()), "uti", "x"))); CodeOf(err) != CodeUnknownKey {
		t.Errorf("retired k1 after a refresh: Verify() = %v, want unknown-key", err)
	}
}

func TestIdPDown(t *testing.T) {
	ctx := context.Background()
	t.Run("cached keys keep verifying", func(t *testing.T) {
		clk := newClock()
		rk := newRSAKey(t, "rsa-1", 0)
		f := newFakeIdP(t, true, rk)
		v := newVerifier(t, f.options(clk))
		if _, err := v.Verify(ctx, sign(t, rk, nil, v2UserClaims(f, tenantA, clk.Now()))); err != nil {
			t.Fatal(err)
		}
		f.setDown(true)
		clk.Advance(48 * time.Hour) // well past the key set's TTL
		for i := range 3 {
			if _, err := v.Verify(ctx, sign(t, rk, nil, with(v2UserClaims(f, tenantA, clk.Now()), "uti", i))); err != nil {
				t.Fatalf("Verify() with the IdP down = %v", err)
			}
			clk.Advance(time.Minute)
		}
		deadline := time.Now().Add(2 * time.Second)
		for v.Stats().Keys.RefreshFailures == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if st := v.Stats(); st.Keys.RefreshFailures == 0 {
			t.Errorf("Stats().Keys = %+v, want failed background refreshes", st.Keys)
		}
		if err := v.Ready(ctx); err != nil {
			t.Errorf("Ready() = %v with cached keys", err)
		}
	})
	t.Run("no keys: could not check", func(t *testing.T) {
		clk := newClock()
		rk := newRSAKey(t, "rsa-1", 0)
		f := newFakeIdP(t, true, rk)
		f.setDown(true)
		v := newVerifier(t, f.options(clk))
		_, err := v.Verify(ctx, sign(t, rk, nil, v2UserClaims(f, tenantA, clk.Now())))
		if !errors.Is(err, ErrKeysUnavailable) {
			t.Fatalf("Verify() = %v, want ErrKeysUnavailable", err)
		}
		var rej *Error
		if errors.As(err, &rej) || CodeOf(err) != "" || WWWAuthenticate(err) != "" {
			t.Errorf("keys-unavailable is reported as a rejection: %v", err)
		}
		if err := v.Ready(ctx); !errors.Is(err, ErrKeysUnavailable) {
			t.Errorf("Ready() = %v, want ErrKeysUnavailable", err)
		}
		if v.Loaded() {
			t.Error("Loaded() = true")
		}
		f.setDown(false)
		clk.Advance(time.Minute)
		if err := v.Ready(ctx); err != nil {
			t.Errorf("Ready() after recovery = %v", err)
		}
		if !v.Loaded() {
			t.Error("Loaded() = false after recovery")
		}
	})
}

func TestVerifiedTokenCache(t *testing.T) {
	clk := newClock()
	rk := newRSAKey(t, "rsa-1", 0)
	f := newFakeIdP(t, true, rk)
	v := newVerifier(t, f.options(clk))
	ctx := context.Background()
	raw := sign(t, rk, nil, with(v2UserClaims(f, tenantA, clk.Now()), "exp", clk.Now().Add(10*time.Minute).Unix()))

	p1, err := v.Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	// Withdraw the key and move past the refresh interval: a hit must not
	// look at keys at all, and returns the very principal built before.
	f.setKeys(newRSAKey(t, "rsa-2", 1))
	clk.Advance(5 * time.Minute)
	p2, err := v.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("cached Verify() = %v", err)
	}
	if p1 != p2 {
		t.Error("cached Verify() returned a different principal")
	}
	if got := f.jwksHits.Load(); got != 1 {
		t.Errorf("JWKS fetches = %d, want 1 (hit did no key work)", got)
	}
	if st := v.Stats(); st.CacheHits != 1 || st.CacheMisses != 1 || st.CachedTokens != 1 {
		t.Errorf("Stats() = %+v, want 1 hit, 1 miss, 1 cached", st)
	}

	// At exp the cached principal is gone: the token is verified afresh
	// (accepted within the clock skew), giving a new principal.
	clk.Advance(5 * time.Minute)
	p3, err := v.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("Verify() at exp = %v", err)
	}
	if p3 == p1 {
		t.Error("Verify() at exp served the cached principal")
	}
	if st := v.Stats(); st.CacheMisses != 2 || st.CacheHits != 1 {
		t.Errorf("Stats() = %+v, want 1 hit and 2 misses", st)
	}
}

func TestCachedPrincipalExpiresWithToken(t *testing.T) {
	clk := newClock()
	rk := newRSAKey(t, "rsa-1", 0)
	f := newFakeIdP(t, true, rk)
	v := newVerifier(t, f.options(clk))
	ctx := context.Background()
	exp := clk.Now().Add(time.Minute)
	raw := sign(t, rk, nil, with(v2UserClaims(f, tenantA, clk.Now()), "exp", exp.Unix()))
	if _, err := v.Verify(ctx, raw); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute - time.Second)
	if _, err := v.Verify(ctx, raw); err != nil {
		t.Fatal(err)
	}
	if st := v.Stats(); st.CacheHits != 1 {
		t.Fatalf("CacheHits = %d, want 1", st.CacheHits)
	}
	// Past exp but within the skew: verified again, not cached.
	clk.Advance(time.Second)
	if _, err := v.Verify(ctx, raw); err != nil {
		t.Fatalf("Verify() within the skew = %v", err)
	}
	if st := v.Stats(); st.CacheHits != 1 || st.CacheMisses != 2 {
		t.Errorf("Stats() = %+v, want no hit after exp", st)
	}
	clk.Advance(DefaultClockSkew)
	if _, err := v.Verify(ctx, raw); CodeOf(err) != CodeTokenExpired {
		t.Errorf("Verify() past exp+skew = %v, want token-expired", err)
	}
}

func TestTokenCacheBounded(t *testing.T) {
	c := newTokenCache(64)
	now := time.Unix(1000, 0)
	p := &identity.Principal{}
	key := func(i int) *tokenKey { var k tokenKey; k[0], k[1] = byte(i), byte(i>>8); return &k }
	// Half expire soon.
	for i := range 32 {
		c.put(key(i), p, now.Add(time.Second), now)
	}
	for i := 32; i < 64; i++ {
		c.put(key(i), p, now.Add(time.Hour), now)
	}
	later := now.Add(2 * time.Second)
	c.put(key(100), p, later.Add(time.Hour), later)
	if n := c.len(); n != 33 {
		t.Errorf("len after expired sweep = %d, want 33", n)
	}
	for i := 32; i < 64; i++ {
		if c.get(key(i), later) == nil {
			t.Fatalf("live entry %d evicted while expired ones were available", i)
		}
	}
	for i := 200; i < 1200; i++ {
		c.put(key(i), p, later.Add(time.Hour), later)
		if n := c.len(); n > 64 {
			t.Fatalf("len = %d, over the bound", n)
		}
	}
	if c.get(key(1199), later) == nil {
		t.Error("latest entry missing")
	}
	// Already expired tokens are not stored.
	c2 := newTokenCache(4)
	c2.put(key(1), p, now, now)
	if c2.len() != 0 {
		t.Error("stored a principal whose token had expired")
	}
}

func TestCacheControlHonoured(t *testing.T) {
	clk := newClock()
	rk := newRSAKey(t, "rsa-1", 0)
	f := newFakeIdP(t, true, rk)
	f.setCacheControl("public, max-age=600")
	v := newVerifier(t, f.options(clk))
	ctx := context.Background()
	verify := func(i int) {
		t.Helper()
		if _, err := v.Verify(ctx, sign(t, rk, nil, with(v2UserClaims(f, tenantA, clk.Now()), "uti", i))); err != nil {
			t.Fatal(err)
		}
	}
	verify(0)
	clk.Advance(500 * time.Second)
	verify(1)
	if got := f.jwksHits.Load(); got != 1 {
		t.Fatalf("JWKS fetches before max-age = %d, want 1", got)
	}
	clk.Advance(101 * time.Second)
	verify(2) // served from cache, refresh in the background
	deadline := time.Now().Add(2 * time.Second)
	for f.jwksHits.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := f.jwksHits.Load(); got != 2 {
		t.Errorf("JWKS fetches after max-age = %d, want 2", got)
	}
}

func TestDiscovery(t *testing.T) {
	ctx := context.Background()
	t.Run("plain HTTP, two tenants", func(t *testing.T) {
		clk := newClock()
		rk := newRSAKey(t, "rsa-1", 0)
		f := newFakeIdP(t, false, rk)
		f.setKeyIssuer()
		opts := f.options(clk)
		opts.Tenants = []string{tenantA, tenantB}
		opts.JWKSURL = ""
		opts.DiscoveryURL = f.base() + "/{TenantID}/v2.0/.well-known/openid-configuration"
		v := newVerifier(t, opts)
		for i := range 3 {
			for _, tid := range []string{tenantA, tenantB} {
				if _, err := v.Verify(ctx, sign(t, rk, nil, with(v2UserClaims(f, tid, clk.Now()), "uti", i))); err != nil {
					t.Fatalf("Verify() = %v", err)
				}
			}
		}
		if d, k := f.discoHits.Load(), f.jwksHits.Load(); d != 2 || k != 2 {
			t.Errorf("discovery fetches %d, JWKS fetches %d; want 2 and 2", d, k)
		}
	})
	t.Run("document of another issuer", func(t *testing.T) {
		clk := newClock()
		rk := newRSAKey(t, "rsa-1", 0)
		f := newFakeIdP(t, true, rk)
		f.setDiscoIssuer("https://evil.example/" + tenantA + "/v2.0")
		opts := f.options(clk)
		opts.JWKSURL = ""
		opts.DiscoveryURL = f.base() + "/{tenantid}/v2.0/.well-known/openid-configuration"
		v := newVerifier(t, opts)
		_, err := v.Verify(ctx, sign(t, rk, nil, v2UserClaims(f, tenantA, clk.Now())))
		if !errors.Is(err, ErrKeysUnavailable) {
			t.Errorf("Verify() = %v, want ErrKeysUnavailable", err)
		}
		if f.jwksHits.Load() != 0 {
			t.Error("fetched keys named by a foreign discovery document")
		}
		if err := v.Ready(ctx); !errors.Is(err, ErrKeysUnavailable) {
			t.Errorf("Ready() = %v, want ErrKeysUnavailable", err)
		}
	})
	t.Run("IdP down", func(t *testing.T) {
		clk := newClock()
		rk := newRSAKey(t, "rsa-1", 0)
		f := newFakeIdP(t, true, rk)
		f.setDown(true)
		opts := f.options(clk)
		opts.JWKSURL = ""
		opts.DiscoveryURL = f.base() + "/{tenantid}/v2.0/.well-known/openid-configuration"
		v := newVerifier(t, opts)
		for range 5 {
			if _, err := v.Verify(ctx, sign(t, rk, nil, v2UserClaims(f, tenantA, clk.Now()))); !errors.Is(err, ErrKeysUnavailable) {
				t.Fatalf("Verify() = %v, want ErrKeysUnavailable", err)
			}
		}
		if got := f.discoHits.Load(); got != 1 {
			t.Errorf("discovery attempts within the retry interval = %d, want 1", got)
		}
	})
}

func TestContextCancelled(t *testing.T) {
	clk := newClock()
	rk := newRSAKey(t, "rsa-1", 0)
	f := newFakeIdP(t, true, rk)
	f.setBlock(make(chan struct{})) // the IdP never answers
	v := newVerifier(t, f.options(clk))
	raw := sign(t, rk, nil, v2UserClaims(f, tenantA, clk.Now()))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := v.Verify(ctx, raw)
		done <- err
	}()
	deadline := time.Now().Add(2 * time.Second)
	for f.jwksHits.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || CodeOf(err) != "" {
			t.Errorf("Verify() = %v, want context.Canceled and no rejection code", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Verify did not return after its context was cancelled")
	}
	// An already cancelled context with nothing cached fails the same way.
	if _, err := v.Verify(ctx, raw); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify(cancelled ctx) = %v, want context.Canceled", err)
	}
}

func TestCheapChecksNeverLeakClaims(t *testing.T) {
	clk := newClock()
	rk := newRSAKey(t, "rsa-1", 0)
	f := newFakeIdP(t, true, rk)
	v := newVerifier(t, f.options(clk))
	marker := "SECRET-MARKER-VALUE"
	for _, c := range []map[string]any{
		with(v2UserClaims(f, tenantA, clk.Now()), "aud", marker),
		with(v2UserClaims(f, tenantA, clk.Now()), "iss", marker),
		with(v2UserClaims(f, tenantA, clk.Now()), "tid", marker),
		with(v2UserClaims(f, tenantA, clk.Now()), "ver", marker),
	} {
		raw := sign(t, rk, nil, c)
		_, err := v.Verify(context.Background(), raw)
		if err == nil || strings.Contains(err.Error(), marker) || strings.Contains(err.Error(), raw) {
			t.Errorf("error %q carries token content", err)
		}
	}
}

func TestOptionsInvalid(t *testing.T) {
	base := Options{Tenants: []string{tenantA}, Audiences: []string{clientID}}
	if _, err := New(base); err != nil {
		t.Fatalf("New(minimal) = %v", err)
	}
	tests := []struct {
		name string
		mod  func(o *Options)
	}{
		{"no tenants", func(o *Options) { o.Tenants = nil }},
		{"tenant not a GUID", func(o *Options) { o.Tenants = []string{"contoso.onmicrosoft.com"} }},
		{"no audiences", func(o *Options) { o.Audiences = nil }},
		{"empty audience", func(o *Options) { o.Audiences = []string{" "} }},
		{"HS256", func(o *Options) { o.Algorithms = []string{"HS256"} }},
		{"none", func(o *Options) { o.Algorithms = []string{"none"} }},
		{"version", func(o *Options) { o.Versions = []string{"3.0"} }},
		{"issuer without placeholder", func(o *Options) { o.IssuerV2 = "https://login.microsoftonline.com/x/v2.0" }},
		{"issuer not a URL", func(o *Options) { o.IssuerV1 = "sts/{tenantid}/" }},
		{"JWKS URL not a URL", func(o *Options) { o.JWKSURL = "keys/{tenantid}" }},
		{"discovery without placeholder", func(o *Options) { o.DiscoveryURL = "https://idp.example/.well-known/openid-configuration" }},
	}
	for _, tc := range tests {
		o := base
		tc.mod(&o)
		if _, err := New(o); err == nil || !strings.HasPrefix(err.Error(), "authn: ") {
			t.Errorf("%s: New() = %v, want an authn: error", tc.name, err)
		}
	}
}

func TestFingerprint(t *testing.T) {
	got := Fingerprint("abc")
	// SHA-256("abc") = ba7816bf8f01cfea...
	if got != "ba7816bf8f01cfea" {
		t.Errorf("Fingerprint(abc) = %q", got)
	}
}

func TestMulti(t *testing.T) {
	clk := newClock()
	rk := newRSAKey(t, "rsa-1", 0)
	f := newFakeIdP(t, true, rk)
	entra := newVerifier(t, f.options(clk))
	minted := &staticVerifier{p: &identity.Principal{Kind: identity.Agent}}
	m := &Multi{ByIssuer: map[string]TokenVerifier{"https://airgate.example": minted}, Fallback: entra}
	ctx := context.Background()

	p, err := m.Verify(ctx, sign(t, rk, nil, v2UserClaims(f, tenantA, clk.Now())))
	if err != nil || p.Kind != identity.User {
		t.Fatalf("Entra token through Multi: %v, %v", p, err)
	}
	p, err = m.Verify(ctx, sign(t, rk, nil, with(v2UserClaims(f, tenantA, clk.Now()), "iss", "https://airgate.example")))
	if err != nil || p.Kind != identity.Agent || minted.calls != 1 {
		t.Fatalf("airgate token through Multi: %v, %v (calls %d)", p, err, minted.calls)
	}
	// A forged airgate-issuer token still goes to the airgate verifier,
	// never to Entra's, and the Entra verifier refuses foreign issuers.
	if _, err := entra.Verify(ctx, sign(t, rk, nil, with(v2UserClaims(f, tenantA, clk.Now()), "iss", "https://airgate.example"))); CodeOf(err) != CodeWrongIssuer {
		t.Errorf("Entra verifier on an airgate token = %v, want wrong-issuer", err)
	}
	if _, err := m.Verify(ctx, "x.y.z"); CodeOf(err) != CodeMalformedToken {
		t.Errorf("Multi on garbage = %v, want malformed-token", err)
	}
	if _, err := m.Verify(ctx, ""); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("Multi on empty = %v, want no-credentials", err)
	}
	noFallback := &Multi{ByIssuer: m.ByIssuer}
	if _, err := noFallback.Verify(ctx, sign(t, rk, nil, v2UserClaims(f, tenantA, clk.Now()))); CodeOf(err) != CodeWrongIssuer {
		t.Errorf("Multi without fallback = %v, want wrong-issuer", err)
	}
}

// staticVerifier is a hand-written fake TokenVerifier.
type staticVerifier struct {
	p     *identity.Principal
	calls int
}

func (s *staticVerifier) Verify(context.Context, string) (*identity.Principal, error) {
	s.calls++
	return s.p, nil
}

func TestErrorIs(t *testing.T) {
	err := error(&Error{Code: CodeNoCredentials, Err: errors.New("detail")})
	if !errors.Is(err, ErrNoCredentials) {
		t.Error("errors.Is(no-credentials with detail, ErrNoCredentials) = false")
	}
	if errors.Is(reject(CodeBadSignature, "x"), ErrNoCredentials) {
		t.Error("bad-signature Is ErrNoCredentials")
	}
	if got := (&Error{Code: CodeTokenExpired}).Error(); got != "authn: token-expired" {
		t.Errorf("Error() = %q", got)
	}
	b, _ := json.Marshal(CodeTokenExpired)
	if string(b) != `"token-expired"` {
		t.Errorf("Code marshals as %s", b)
	}
}
