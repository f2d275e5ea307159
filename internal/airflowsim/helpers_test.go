package airflowsim

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// testNow is the fixed clock of most tests: 10:30 UTC, so the hourly DAGs
// last ran for 09:00-10:00 and team_b_daily for the day before.
var testNow = time.Date(2025, 6, 15, 10, 30, 0, 0, time.UTC)

const (
	testUser     = "svc-airgate"
	testPassword = "correct horse battery staple"
)

// clock is a settable time source, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

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

// signingKey is a private key with the kid and algorithm it signs under.
type signingKey struct {
	kid string
	alg jose.SignatureAlgorithm
	key crypto.Signer
}

func (k signingKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.key.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

var (
	keysOnce sync.Once
	rsaKey   signingKey
	ecKey    signingKey
	edKey    signingKey
	rogueKey signingKey // an RSA key nobody trusts, published under rsaKey's kid
)

func testKeys(t testing.TB) (rsaK, ecK, edK, rogue signingKey) {
	t.Helper()
	keysOnce.Do(func() {
		r1, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		r2, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		_, ed, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		rsaKey = signingKey{kid: "rsa-1", alg: jose.RS256, key: r1}
		ecKey = signingKey{kid: "ec-1", alg: jose.ES256, key: ec}
		edKey = signingKey{kid: "ed-1", alg: jose.EdDSA, key: ed}
		rogueKey = signingKey{kid: "rsa-1", alg: jose.RS256, key: r2}
	})
	return rsaKey, ecKey, edKey, rogueKey
}

func keySet(keys ...signingKey) *jose.JSONWebKeySet {
	set := &jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.public())
	}
	return set
}

// claims returns Airflow-3-style claims for sub, valid for an hour from now.
func claims(sub, role string, now time.Time) map[string]any {
	return map[string]any{
		"sub": sub, "role": role, "aud": DefaultAudience, "jti": "j-" + sub,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// sign makes a compact JWS of claims with k; an empty kid leaves the
// header without one.
func sign(t testing.TB, k signingKey, kid string, c map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.key}, opts)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// unsigned returns a JWT with alg "none".
func unsigned(c map[string]any) string {
	enc := base64.RawURLEncoding
	payload, _ := json.Marshal(c)
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"rsa-1"}`)) + "." + enc.EncodeToString(payload) + "."
}

// fixture is a running double with a fixed clock and trusted keys.
type fixture struct {
	t     *testing.T
	srv   *Server
	http  *httptest.Server
	clock *clock
	token string // a valid RS256 token for "alice" with role "admin"
}

func newFixture(t *testing.T, mutate func(*Options)) *fixture {
	t.Helper()
	rsaK, ecK, edK, _ := testKeys(t)
	clk := newClock(testNow)
	opts := Options{
		Username: testUser,
		Password: testPassword,
		KeySet:   keySet(rsaK, ecK, edK),
		Now:      clk.Now,
	}
	if mutate != nil {
		mutate(&opts)
	}
	srv := New(opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &fixture{t: t, srv: srv, http: ts, clock: clk,
		token: sign(t, rsaK, rsaK.kid, claims("alice", "admin", testNow))}
}

// auth says how a request authenticates.
type auth func(*http.Request)

func basic(user, pass string) auth {
	return func(r *http.Request) { r.SetBasicAuth(user, pass) }
}

func bearer(tok string) auth {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func cookie(tok string) auth {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: tokenCookie, Value: tok}) }
}

func header(k, v string) auth {
	return func(r *http.Request) { r.Header.Set(k, v) }
}

// do sends a request; path may carry a query and escapes, and is sent as is.
func (f *fixture) do(method, path, body string, auths ...auth) (*http.Request, *http.Response, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.http.URL+path, rd)
	if err != nil {
		f.t.Fatalf("NewRequest: %v", err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, a := range auths {
		a(req)
	}
	resp, err := f.http.Client().Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		f.t.Fatalf("reading body: %v", err)
	}
	return req, resp, out
}

// v1 and v2 send an authenticated request to the API.
func (f *fixture) v1(method, path, body string, extra ...auth) (*http.Request, *http.Response, []byte) {
	f.t.Helper()
	return f.do(method, "/api/v1"+path, body, append([]auth{basic(testUser, testPassword)}, extra...)...)
}

func (f *fixture) v2(method, path, body string, extra ...auth) (*http.Request, *http.Response, []byte) {
	f.t.Helper()
	return f.do(method, "/api/v2"+path, body, append([]auth{bearer(f.token)}, extra...)...)
}

// decode unmarshals a JSON body or fails the test.
func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
	return m
}
