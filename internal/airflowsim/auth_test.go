package airflowsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestBasicAuth(t *testing.T) {
	tests := []struct {
		name       string
		auths      []auth
		wantStatus int
		wantUser   string
	}{
		{name: "right", auths: []auth{basic(testUser, testPassword)}, wantStatus: 200, wantUser: testUser},
		{name: "wrong password", auths: []auth{basic(testUser, "nope")}, wantStatus: 401},
		{name: "wrong user", auths: []auth{basic("admin", testPassword)}, wantStatus: 401},
		{name: "empty password", auths: []auth{basic(testUser, "")}, wantStatus: 401},
		{name: "missing", wantStatus: 401},
		{name: "bearer instead", auths: []auth{bearer("x")}, wantStatus: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			req, resp, body := f.do("GET", "/api/v1/dags", "", tc.auths...)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d %s, want %d", resp.StatusCode, body, tc.wantStatus)
			}
			if err := ValidateResponseStrict(APIv1, req, resp.StatusCode, resp.Header, body); err != nil {
				t.Error(err)
			}
			if tc.wantStatus == 401 {
				if got := resp.Header.Get("WWW-Authenticate"); got != "Basic" {
					t.Errorf("WWW-Authenticate = %q, want Basic", got)
				}
			}
			reqs := f.srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("Requests() has %d entries, want 1", len(reqs))
			}
			if got := reqs[0].Identity; got != (Identity{User: tc.wantUser}) {
				t.Errorf("Identity = %+v, want User %q", got, tc.wantUser)
			}
		})
	}
}

func TestBasicAuthWithoutAccount(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Username, o.Password = "", "" })
	if _, resp, _ := f.do("GET", "/api/v1/dags", "", basic("", "")); resp.StatusCode != 401 {
		t.Errorf("status = %d, want 401", resp.StatusCode)
	}
	if _, resp, _ := f.do("GET", "/api/v1/health", ""); resp.StatusCode != 200 {
		t.Errorf("health status = %d, want 200", resp.StatusCode)
	}
}

// TestPasswordRotation changes the service account's password through the
// v1 users API: afterwards the old password is refused and the new one
// works.
func TestPasswordRotation(t *testing.T) {
	f := newFixture(t, nil)
	req, resp, body := f.v1("PATCH", "/users/"+testUser+"?update_mask=password", `{"password": "rotated"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("PATCH users = %d %s", resp.StatusCode, body)
	}
	if err := ValidateResponseStrict(APIv1, req, 200, resp.Header, body); err != nil {
		t.Error(err)
	}
	if m := decode(t, body); m["changed_on"] != "2025-06-15T10:30:00+00:00" {
		t.Errorf("changed_on = %v, want the rotation time", m["changed_on"])
	}
	if _, resp, _ := f.do("GET", "/api/v1/dags", "", basic(testUser, testPassword)); resp.StatusCode != 401 {
		t.Errorf("old password: status = %d, want 401", resp.StatusCode)
	}
	if _, resp, _ := f.do("GET", "/api/v1/dags", "", basic(testUser, "rotated")); resp.StatusCode != 200 {
		t.Errorf("new password: status = %d, want 200", resp.StatusCode)
	}
	// A mask without password changes nothing.
	f.do("PATCH", "/api/v1/users/"+testUser+"?update_mask=email", `{"password": "other"}`, basic(testUser, "rotated"))
	if _, resp, _ := f.do("GET", "/api/v1/dags", "", basic(testUser, "rotated")); resp.StatusCode != 200 {
		t.Errorf("after masked patch: status = %d, want 200", resp.StatusCode)
	}
	// The old password cannot change it back.
	if _, resp, _ := f.do("PATCH", "/api/v1/users/"+testUser, `{"password": "x"}`, basic(testUser, testPassword)); resp.StatusCode != 401 {
		t.Errorf("patch with old password: status = %d, want 401", resp.StatusCode)
	}
}

func TestJWTAuth(t *testing.T) {
	rsaK, ecK, edK, rogue := testKeys(t)
	now := testNow
	valid := claims("alice", "admin", now)
	with := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{}
		for k, v := range valid {
			c[k] = v
		}
		edit(c)
		return c
	}
	hs, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")},
		(&jose.SignerOptions{}).WithHeader("kid", "rsa-1"))
	if err != nil {
		t.Fatal(err)
	}
	hsPayload, _ := json.Marshal(valid)
	hsObj, _ := hs.Sign(hsPayload)
	hsToken, _ := hsObj.CompactSerialize()

	tests := []struct {
		name       string
		opts       func(*Options)
		auths      []auth
		wantStatus int
		wantDetail string
		wantSub    string
		wantRole   string
	}{
		{name: "rs256", auths: []auth{bearer(sign(t, rsaK, rsaK.kid, valid))}, wantStatus: 200, wantSub: "alice", wantRole: "admin"},
		{name: "es256", auths: []auth{bearer(sign(t, ecK, ecK.kid, valid))}, wantStatus: 200, wantSub: "alice", wantRole: "admin"},
		{name: "eddsa", auths: []auth{bearer(sign(t, edK, edK.kid, valid))}, wantStatus: 200, wantSub: "alice", wantRole: "admin"},
		{name: "lower-case scheme", auths: []auth{header("Authorization", "bearer "+sign(t, rsaK, rsaK.kid, valid))}, wantStatus: 200, wantSub: "alice", wantRole: "admin"},
		{name: "no role claim", auths: []auth{bearer(sign(t, rsaK, rsaK.kid, with(func(c map[string]any) { delete(c, "role") })))},
			wantStatus: 200, wantSub: "alice"},
		{name: "audience list", auths: []auth{bearer(sign(t, rsaK, rsaK.kid, with(func(c map[string]any) { c["aud"] = []string{"x", DefaultAudience} })))},
			wantStatus: 200, wantSub: "alice", wantRole: "admin"},
		{name: "expired", auths: []auth{bearer(sign(t, rsaK, rsaK.kid, with(func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-2*time.Hour).Unix(), now.Add(-time.Minute).Unix()
		})))}, wantStatus: 401, wantDetail: "Token Expired"},
		{name: "expired within leeway", auths: []auth{bearer(sign(t, rsaK, rsaK.kid, with(func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = now.Add(-time.Hour).Unix(), now.Add(-time.Hour).Unix(), now.Add(-5*time.Second).Unix()
		})))}, wantStatus: 200, wantSub: "alice", wantRole: "admin"},
		{name: "not yet valid", auths: []auth{bearer(sign(t, rsaK, rsaK.kid, with(func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() })))},
			wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "issued in the future", auths: []auth{bearer(sign(t, rsaK, rsaK.kid, with(func(c map[string]any) { c["iat"] = now.Add(time.Minute).Unix() })))},
			wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "no iat", auths: []auth{bearer(sign(t, rsaK, rsaK.kid, with(func(c map[string]any) { delete(c, "iat") })))},
			wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "no nbf", auths: []auth{bearer(sign(t, rsaK, rsaK.kid, with(func(c map[string]any) { delete(c, "nbf") })))},
			wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "no exp", auths: []auth{bearer(sign(t, rsaK, rsaK.kid, with(func(c map[string]any) { delete(c, "exp") })))},
			wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "wrong audience", auths: []auth{bearer(sign(t, rsaK, rsaK.kid, with(func(c map[string]any) { c["aud"] = "airgate" })))},
			wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "no audience", auths: []auth{bearer(sign(t, rsaK, rsaK.kid, with(func(c map[string]any) { delete(c, "aud") })))},
			wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "custom audience", opts: func(o *Options) { o.Audience = "airflow-prod" },
			auths:      []auth{bearer(sign(t, rsaK, rsaK.kid, with(func(c map[string]any) { c["aud"] = "airflow-prod" })))},
			wantStatus: 200, wantSub: "alice", wantRole: "admin"},
		{name: "default audience refused when another is set", opts: func(o *Options) { o.Audience = "airflow-prod" },
			auths: []auth{bearer(sign(t, rsaK, rsaK.kid, valid))}, wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "issuer matches", opts: func(o *Options) { o.Issuer = "https://airgate.example" },
			auths:      []auth{bearer(sign(t, rsaK, rsaK.kid, with(func(c map[string]any) { c["iss"] = "https://airgate.example" })))},
			wantStatus: 200, wantSub: "alice", wantRole: "admin"},
		{name: "issuer missing", opts: func(o *Options) { o.Issuer = "https://airgate.example" },
			auths: []auth{bearer(sign(t, rsaK, rsaK.kid, valid))}, wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "unknown kid", auths: []auth{bearer(sign(t, rsaK, "rsa-2", valid))}, wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "no kid", auths: []auth{bearer(sign(t, rsaK, "", valid))}, wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "signed by an untrusted key", auths: []auth{bearer(sign(t, rogue, rogue.kid, valid))}, wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "key of another algorithm", auths: []auth{bearer(sign(t, ecK, rsaK.kid, valid))}, wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "algorithm not allowed", opts: func(o *Options) { o.Algorithms = []jose.SignatureAlgorithm{jose.EdDSA} },
			auths: []auth{bearer(sign(t, rsaK, rsaK.kid, valid))}, wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "hmac with a public key id", auths: []auth{bearer(hsToken)}, wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "alg none", auths: []auth{bearer(unsigned(valid))}, wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "no subject", auths: []auth{bearer(sign(t, rsaK, rsaK.kid, with(func(c map[string]any) { delete(c, "sub") })))},
			wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "garbage", auths: []auth{bearer("not.a.jwt")}, wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "no keys configured", opts: func(o *Options) { o.KeySet = nil },
			auths: []auth{bearer(sign(t, rsaK, rsaK.kid, valid))}, wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "no token", wantStatus: 401, wantDetail: "Not authenticated"},
		{name: "basic auth", auths: []auth{basic(testUser, testPassword)}, wantStatus: 401, wantDetail: "Not authenticated"},
		{name: "cookie", auths: []auth{cookie(sign(t, rsaK, rsaK.kid, valid))}, wantStatus: 200, wantSub: "alice", wantRole: "admin"},
		{name: "cookie before bearer", auths: []auth{
			cookie(sign(t, edK, edK.kid, claims("carol", "viewer", now))),
			bearer(sign(t, rsaK, rsaK.kid, claims("bob", "admin", now))),
		}, wantStatus: 200, wantSub: "carol", wantRole: "viewer"},
		{name: "invalid cookie wins over valid bearer", auths: []auth{
			cookie(sign(t, rsaK, "rsa-2", valid)),
			bearer(sign(t, rsaK, rsaK.kid, claims("bob", "admin", now))),
		}, wantStatus: 403, wantDetail: "Invalid JWT token"},
		{name: "expired cookie wins over valid bearer", auths: []auth{
			cookie(sign(t, rsaK, rsaK.kid, with(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() }))),
			bearer(sign(t, rsaK, rsaK.kid, claims("bob", "admin", now))),
		}, wantStatus: 401, wantDetail: "Token Expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts)
			req, resp, body := f.do("GET", "/api/v2/dags", "", tc.auths...)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d %s, want %d", resp.StatusCode, body, tc.wantStatus)
			}
			if err := ValidateResponseStrict(APIv2, req, resp.StatusCode, resp.Header, body); err != nil {
				t.Error(err)
			}
			if tc.wantDetail != "" {
				if got := decode(t, body)["detail"]; got != tc.wantDetail {
					t.Errorf("detail = %v, want %q", got, tc.wantDetail)
				}
			}
			reqs := f.srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("Requests() has %d entries, want 1", len(reqs))
			}
			want := Identity{Subject: tc.wantSub, Role: tc.wantRole}
			if got := reqs[0].Identity; got != want {
				t.Errorf("Identity = %+v, want %+v", got, want)
			}
		})
	}
}

// jwksServer serves a key set and counts the fetches.
type jwksServer struct {
	*httptest.Server
	set     atomic.Pointer[jose.JSONWebKeySet]
	fetches atomic.Int32
	fail    atomic.Bool
}

func newJWKSServer(t *testing.T, set *jose.JSONWebKeySet) *jwksServer {
	t.Helper()
	js := &jwksServer{}
	js.set.Store(set)
	js.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		js.fetches.Add(1)
		if js.fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(js.set.Load())
	}))
	t.Cleanup(js.Close)
	return js
}

// TestTrustedJWKSURL follows Airflow's JWKS class: fetched on first use,
// kept for the refresh interval, not refetched for an unknown kid, and
// refetched once the interval has passed.
func TestTrustedJWKSURL(t *testing.T) {
	rsaK, ecK, _, _ := testKeys(t)
	js := newJWKSServer(t, keySet(rsaK))
	f := newFixture(t, func(o *Options) {
		o.KeySet = nil
		o.JWKSURL = js.URL + "/jwks.json"
		o.HTTPClient = js.Client()
	})
	get := func(k signingKey) int {
		_, resp, _ := f.do("GET", "/api/v2/dags", "", bearer(sign(t, k, k.kid, claims("alice", "admin", f.clock.Now()))))
		return resp.StatusCode
	}
	if got := js.fetches.Load(); got != 0 {
		t.Fatalf("fetches before any request = %d, want 0", got)
	}
	if got := get(rsaK); got != 200 {
		t.Fatalf("status = %d, want 200", got)
	}
	if got := get(rsaK); got != 200 || js.fetches.Load() != 1 {
		t.Fatalf("second request: status %d, fetches %d; want 200 and 1", got, js.fetches.Load())
	}
	// A new key published now is not seen until the refresh interval ends:
	// an unknown kid does not trigger a fetch.
	js.set.Store(keySet(rsaK, ecK))
	if got := get(ecK); got != 403 || js.fetches.Load() != 1 {
		t.Fatalf("new key before refresh: status %d, fetches %d; want 403 and 1", got, js.fetches.Load())
	}
	f.clock.Advance(DefaultJWKSRefreshInterval + time.Second)
	if got := get(ecK); got != 200 || js.fetches.Load() != 2 {
		t.Fatalf("new key after refresh: status %d, fetches %d; want 200 and 2", got, js.fetches.Load())
	}
	// A failed refresh keeps the old keys and is retried only after 10 s.
	js.fail.Store(true)
	f.clock.Advance(DefaultJWKSRefreshInterval + time.Second)
	if got := get(ecK); got != 200 || js.fetches.Load() != 3 {
		t.Fatalf("failed refresh: status %d, fetches %d; want 200 and 3", got, js.fetches.Load())
	}
	if get(ecK); js.fetches.Load() != 3 {
		t.Fatalf("retry within 10 s: fetches %d, want 3", js.fetches.Load())
	}
	f.clock.Advance(11 * time.Second)
	if get(ecK); js.fetches.Load() != 4 {
		t.Fatalf("retry after 10 s: fetches %d, want 4", js.fetches.Load())
	}
}

func TestTrustedJWKSUnreachable(t *testing.T) {
	rsaK, _, _, _ := testKeys(t)
	js := newJWKSServer(t, keySet(rsaK))
	js.fail.Store(true)
	f := newFixture(t, func(o *Options) { o.KeySet, o.JWKSURL, o.HTTPClient = nil, js.URL, js.Client() })
	_, resp, body := f.v2("GET", "/dags", "")
	if resp.StatusCode != 403 {
		t.Fatalf("status = %d %s, want 403", resp.StatusCode, body)
	}
	js.fail.Store(false)
	if _, resp, _ := f.v2("GET", "/dags", ""); resp.StatusCode != 403 {
		t.Errorf("retry within 10 s: status = %d, want 403 (no new attempt yet)", resp.StatusCode)
	}
	f.clock.Advance(11 * time.Second)
	if _, resp, _ := f.v2("GET", "/dags", ""); resp.StatusCode != 200 {
		t.Errorf("after 10 s: status = %d, want 200", resp.StatusCode)
	}
}

func TestTrustedJWKSFile(t *testing.T) {
	rsaK, _, _, _ := testKeys(t)
	raw, err := json.Marshal(keySet(rsaK))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(o *Options) { o.KeySet, o.JWKSURL = nil, path })
	if _, resp, body := f.v2("GET", "/dags", ""); resp.StatusCode != 200 {
		t.Fatalf("status = %d %s, want 200", resp.StatusCode, body)
	}
}
