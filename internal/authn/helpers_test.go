package authn

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	tenantA  = "22222222-2222-2222-2222-222222222222"
	tenantB  = "88888888-8888-8888-8888-888888888888"
	clientID = "11111111-1111-1111-1111-111111111111"
	appIDURI = "api://airgate"
	userOID  = "44444444-4444-4444-4444-444444444444"
	appOID   = "77777777-7777-7777-7777-777777777777"
	clientA  = "33333333-3333-3333-3333-333333333333"
	daemon   = "66666666-6666-6666-6666-666666666666"
	groupX   = "55555555-5555-5555-5555-555555555555"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_900_000_000, 0).UTC()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// signingKey is a private key the fake IdP publishes under kid.
type signingKey struct {
	kid  string
	priv crypto.Signer
}

var (
	keyOnce sync.Once
	keyPool []*rsa.PrivateKey
)

// rsaKey returns one of a few RSA keys generated once per test binary:
// RSA generation is slow under -race.
func rsaKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		for range 4 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keyPool = append(keyPool, k)
		}
	})
	return keyPool[i]
}

func newRSAKey(t testing.TB, kid string, i int) *signingKey {
	return &signingKey{kid: kid, priv: rsaKey(t, i)}
}

func newECKey(t testing.TB, kid string) *signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &signingKey{kid: kid, priv: k}
}

func (k *signingKey) jwk() jose.JSONWebKey {
	alg := "RS256"
	if _, ok := k.priv.(*ecdsa.PrivateKey); ok {
		alg = "ES256"
	}
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Use: "sig", Algorithm: alg}
}

// fakeIdP serves per-tenant v2 discovery documents and key sets in the
// shape Entra uses, and counts requests.
type fakeIdP struct {
	srv       *httptest.Server
	jwksHits  atomic.Int64
	discoHits atomic.Int64

	mu           sync.Mutex // guards the fields below
	keys         []*signingKey
	keyIssuer    bool // publish Entra's issuer member on keys
	down         bool
	block        chan struct{}
	cacheControl string
	paths        []string // JWKS paths requested
	discoIssuer  string   // overrides the discovery issuer when set
}

func newFakeIdP(t testing.TB, tls bool, keys ...*signingKey) *fakeIdP {
	t.Helper()
	f := &fakeIdP{keys: keys}
	h := http.HandlerFunc(f.serve)
	if tls {
		f.srv = httptest.NewTLSServer(h)
	} else {
		f.srv = httptest.NewServer(h)
	}
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIdP) base() string { return f.srv.URL }

func (f *fakeIdP) issuerV2(tid string) string { return f.base() + "/" + tid + "/v2.0" }
func (f *fakeIdP) issuerV1(tid string) string { return f.base() + "/" + tid + "/" }

func (f *fakeIdP) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	down, block, cc, keys, withIss, discoIss := f.down, f.block, f.cacheControl, f.keys, f.keyIssuer, f.discoIssuer
	f.mu.Unlock()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	tid, rest := parts[0], strings.Join(parts[1:], "/")
	switch rest {
	case "discovery/v2.0/keys":
		f.jwksHits.Add(1)
		f.mu.Lock()
		f.paths = append(f.paths, r.URL.Path)
		f.mu.Unlock()
	case "v2.0/.well-known/openid-configuration":
		f.discoHits.Add(1)
	default:
		http.NotFound(w, r)
		return
	}
	if block != nil {
		select {
		case <-block:
		case <-r.Context().Done():
			return
		}
	}
	if down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if rest == "v2.0/.well-known/openid-configuration" {
		iss := f.issuerV2(tid)
		if discoIss != "" {
			iss = discoIss
		}
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":   iss,
			"jwks_uri": f.base() + "/" + tid + "/discovery/v2.0/keys",
		})
		return
	}
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	var set []map[string]any
	for _, k := range keys {
		b, _ := k.jwk().MarshalJSON()
		var m map[string]any
		json.Unmarshal(b, &m)
		if withIss {
			m["issuer"] = f.issuerV2(tid)
		}
		set = append(set, m)
	}
	json.NewEncoder(w).Encode(map[string]any{"keys": set})
}

func (f *fakeIdP) setKeys(keys ...*signingKey) {
	f.mu.Lock()
	f.keys = keys
	f.mu.Unlock()
}

func (f *fakeIdP) setKeyIssuer() {
	f.mu.Lock()
	f.keyIssuer = true
	f.mu.Unlock()
}

func (f *fakeIdP) setDiscoIssuer(iss string) {
	f.mu.Lock()
	f.discoIssuer = iss
	f.mu.Unlock()
}

func (f *fakeIdP) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func (f *fakeIdP) setBlock(ch chan struct{}) {
	f.mu.Lock()
	f.block = ch
	f.mu.Unlock()
}

func (f *fakeIdP) setCacheControl(cc string) {
	f.mu.Lock()
	f.cacheControl = cc
	f.mu.Unlock()
}

func (f *fakeIdP) jwksPaths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.paths...)
}

// options returns verifier options for tenant A against f, with a JWKS URL
// template.
func (f *fakeIdP) options(clk *clock) Options {
	return Options{
		Tenants:    []string{tenantA},
		IssuerV2:   f.base() + "/{tenantid}/v2.0",
		IssuerV1:   f.base() + "/{tenantid}/",
		JWKSURL:    f.base() + "/{tenantid}/discovery/v2.0/keys",
		Audiences:  []string{clientID, appIDURI},
		HTTPClient: f.srv.Client(),
		Now:        clk.Now,
	}
}

func newVerifier(t testing.TB, opts Options) *Verifier {
	t.Helper()
	v, err := New(opts)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// Token claims in the shapes of ENTRA.md §2.3, for the fake IdP f at time
// now.

func v2UserClaims(f *fakeIdP, tid string, now time.Time) map[string]any {
	return map[string]any{
		"aud": clientID, "iss": f.issuerV2(tid),
		"iat": now.Unix() - 60, "nbf": now.Unix() - 60, "exp": now.Unix() + 3600,
		"aio": "opaque", "azp": clientA, "azpacr": "1",
		"name": "Ada Example", "oid": userOID,
		"preferred_username": "ada@contoso.example", "rh": "opaque",
		"roles": []string{"Airflow.Op"}, "groups": []string{groupX},
		"scp": "access_as_user openid", "sub": "pairwise-sub-ada",
		"tid": tid, "uti": "uti1", "ver": "2.0",
	}
}

func v1UserClaims(f *fakeIdP, tid string, now time.Time) map[string]any {
	return map[string]any{
		"aud": appIDURI, "iss": f.issuerV1(tid),
		"iat": now.Unix() - 60, "nbf": now.Unix() - 60, "exp": now.Unix() + 3600,
		"acr": "1", "aio": "opaque", "amr": []string{"pwd", "mfa"},
		"appid": clientA, "appidacr": "1",
		"family_name": "Example", "given_name": "Ada", "ipaddr": "203.0.113.7",
		"name": "Ada Example", "oid": userOID, "rh": "opaque",
		"scp": "user_impersonation", "sub": "pairwise-sub-ada-v1",
		"tid": tid, "unique_name": "ada@contoso.example", "upn": "ada@contoso.example",
		"uti": "uti2", "ver": "1.0",
	}
}

func v2AppClaims(f *fakeIdP, tid string, now time.Time) map[string]any {
	return map[string]any{
		"aud": clientID, "iss": f.issuerV2(tid),
		"iat": now.Unix() - 60, "nbf": now.Unix() - 60, "exp": now.Unix() + 3600,
		"aio": "opaque", "azp": daemon, "azpacr": "1", "idtyp": "app",
		"oid": appOID, "rh": "opaque", "roles": []string{"Airflow.Trigger"},
		"sub": appOID, "tid": tid, "uti": "uti3", "ver": "2.0",
	}
}

func v1AppClaims(f *fakeIdP, tid string, now time.Time) map[string]any {
	return map[string]any{
		"aud": "api://airgate/", "iss": f.issuerV1(tid),
		"iat": now.Unix() - 60, "nbf": now.Unix() - 60, "exp": now.Unix() + 3600,
		"aio": "opaque", "appid": daemon, "appidacr": "2",
		"oid": appOID, "rh": "opaque", "roles": []string{"Airflow.Trigger"},
		"sub": appOID, "tid": tid, "uti": "uti4", "ver": "1.0",
	}
}

var enc = base64.RawURLEncoding

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign returns a compact JWS of claims signed by k with the header's alg
// (RS256 or ES256 by key type unless hdr sets one).
func sign(t testing.TB, k *signingKey, hdr map[string]any, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"typ": "JWT", "kid": k.kid}
	switch k.priv.(type) {
	case *rsa.PrivateKey:
		h["alg"] = "RS256"
	case *ecdsa.PrivateKey:
		h["alg"] = "ES256"
	}
	for name, v := range hdr {
		if v == nil {
			delete(h, name)
		} else {
			h[name] = v
		}
	}
	input := enc.EncodeToString(mustJSON(t, h)) + "." + enc.EncodeToString(mustJSON(t, claims))
	return input + "." + enc.EncodeToString(signature(t, k, input))
}

func signature(t testing.TB, k *signingKey, input string) []byte {
	t.Helper()
	sum := sha256.Sum256([]byte(input))
	switch p := k.priv.(type) {
	case *rsa.PrivateKey:
		sig, err := rsa.SignPKCS1v15(rand.Reader, p, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, p, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
	t.Fatalf("unsupported key %T", k.priv)
	return nil
}

// hs256 signs header and claims with HMAC-SHA256 under secret.
func hs256(t testing.TB, hdr, claims map[string]any, secret []byte) string {
	t.Helper()
	input := enc.EncodeToString(mustJSON(t, hdr)) + "." + enc.EncodeToString(mustJSON(t, claims))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + enc.EncodeToString(m.Sum(nil))
}

// with returns a copy of m with the given members set (nil deletes).
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}
