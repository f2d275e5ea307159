package jwks

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

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

// keyServer serves a JWKS and counts requests. Fields set after start are
// read under mu.
type keyServer struct {
	*httptest.Server
	hits atomic.Int64

	mu           sync.Mutex
	body         []byte
	status       int
	cacheControl string
	block        chan struct{} // when non-nil, requests wait for it to close
}

func newKeyServer(t *testing.T, keys ...jose.JSONWebKey) *keyServer {
	t.Helper()
	ks := &keyServer{status: http.StatusOK}
	ks.setKeys(t, keys...)
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.hits.Add(1)
		ks.mu.Lock()
		body, status, cc, block := ks.body, ks.status, ks.cacheControl, ks.block
		ks.mu.Unlock()
		if block != nil {
			select {
			case <-block:
			case <-r.Context().Done():
				return
			}
		}
		if cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) setKeys(t *testing.T, keys ...jose.JSONWebKey) {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	ks.setBody(b)
}

func (ks *keyServer) setBody(b []byte) {
	ks.mu.Lock()
	ks.body = b
	ks.mu.Unlock()
}

func (ks *keyServer) setStatus(s int) {
	ks.mu.Lock()
	ks.status = s
	ks.mu.Unlock()
}

func (ks *keyServer) setCacheControl(cc string) {
	ks.mu.Lock()
	ks.cacheControl = cc
	ks.mu.Unlock()
}

func (ks *keyServer) setBlock(ch chan struct{}) {
	ks.mu.Lock()
	ks.block = ch
	ks.mu.Unlock()
}

func rsaJWK(t testing.TB, kid string) jose.JSONWebKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Use: "sig", Algorithm: "RS256"}
}

func ecJWK(t testing.TB, kid string) jose.JSONWebKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Use: "sig", Algorithm: "ES256"}
}

func newCache(t *testing.T, clk *clock) *Cache {
	t.Helper()
	c := New(Options{Now: clk.Now})
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor polls cond until it holds or a second passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestKeyFetchesOnceAndCaches(t *testing.T) {
	clk := newClock()
	ks := newKeyServer(t, rsaJWK(t, "r1"), ecJWK(t, "e1"))
	c := newCache(t, clk)
	ctx := context.Background()

	if c.Loaded() {
		t.Fatal("Loaded() = true before any fetch")
	}
	for _, kid := range []string{"r1", "e1", "r1", "e1"} {
		k, err := c.Key(ctx, ks.URL, kid)
		if err != nil {
			t.Fatalf("Key(%q) error = %v", kid, err)
		}
		if k.KeyID != kid {
			t.Errorf("Key(%q).KeyID = %q", kid, k.KeyID)
		}
	}
	if got := ks.hits.Load(); got != 1 {
		t.Errorf("server hits = %d, want 1", got)
	}
	if !c.Loaded() {
		t.Error("Loaded() = false after a fetch")
	}
	if st := c.Stats(); st.Refreshes != 1 || st.RefreshFailures != 0 || st.KeySets != 1 {
		t.Errorf("Stats() = %+v, want 1 refresh, 0 failures, 1 set", st)
	}
}

func TestUnknownKidSingleFlightAndRateLimit(t *testing.T) {
	clk := newClock()
	ks := newKeyServer(t, rsaJWK(t, "r1"))
	c := newCache(t, clk)
	ctx := context.Background()

	// 100 concurrent lookups of a kid the IdP does not have, on an empty
	// cache, while the server holds the response: one fetch in all.
	lookupAll := func(kid string) []error {
		release := make(chan struct{})
		ks.setBlock(release)
		errs := make([]error, 100)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = c.Key(ctx, ks.URL, kid)
			}()
		}
		// Let them all queue up behind the one fetch.
		waitFor(t, "the fetch to reach the server", func() bool { return ks.hits.Load() > 0 })
		time.Sleep(20 * time.Millisecond)
		close(release)
		wg.Wait()
		ks.setBlock(nil)
		return errs
	}

	for i, err := range lookupAll("bogus") {
		if !errors.Is(err, ErrKeyNotFound) {
			t.Fatalf("lookup %d: error = %v, want ErrKeyNotFound", i, err)
		}
	}
	if got := ks.hits.Load(); got != 1 {
		t.Fatalf("server hits after 100 concurrent unknown-kid lookups = %d, want 1", got)
	}

	// Within the minimum interval: no fetch at all.
	for range 50 {
		if _, err := c.Key(ctx, ks.URL, "bogus2"); !errors.Is(err, ErrKeyNotFound) {
			t.Fatalf("rate-limited lookup error = %v, want ErrKeyNotFound", err)
		}
	}
	if got := ks.hits.Load(); got != 1 {
		t.Fatalf("server hits within the minimum interval = %d, want 1", got)
	}
	if st := c.Stats(); st.RateLimited != 50 {
		t.Errorf("Stats().RateLimited = %d, want 50", st.RateLimited)
	}
	// Known keys are still served.
	if _, err := c.Key(ctx, ks.URL, "r1"); err != nil {
		t.Fatalf("Key(r1) = %v", err)
	}

	// After the interval, a new kid (rollover) is fetched, once for 100
	// concurrent callers, and found.
	ks.setKeys(t, rsaJWK(t, "r1"), rsaJWK(t, "r2"))
	clk.Advance(DefaultMinRefreshInterval)
	for i, err := range lookupAll("r2") {
		if err != nil {
			t.Fatalf("lookup %d of rolled-over kid: %v", i, err)
		}
	}
	if got := ks.hits.Load(); got != 2 {
		t.Fatalf("server hits after rollover = %d, want 2", got)
	}
}

func TestTTLFromCacheControl(t *testing.T) {
	tests := []struct {
		name         string
		cacheControl string
		wantMin      time.Duration
		wantMax      time.Duration
	}{
		{"absent", "", DefaultTTL * 9 / 10, DefaultTTL},
		{"max-age honoured", "public, max-age=3600", 54 * time.Minute, time.Hour},
		{"below the minimum", "max-age=10", DefaultMinTTL * 9 / 10, DefaultMinTTL},
		{"above the maximum", "max-age=31536000", DefaultMaxTTL * 9 / 10, DefaultMaxTTL},
		{"no-cache", "no-cache", DefaultMinTTL * 9 / 10, DefaultMinTTL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			ks := newKeyServer(t, rsaJWK(t, "r1"))
			ks.setCacheControl(tc.cacheControl)
			c := newCache(t, clk)
			if _, err := c.Key(context.Background(), ks.URL, "r1"); err != nil {
				t.Fatal(err)
			}
			s := c.set(ks.URL)
			s.mu.RLock()
			ttl := s.expiry.Sub(clk.Now())
			s.mu.RUnlock()
			if ttl < tc.wantMin || ttl > tc.wantMax {
				t.Errorf("TTL = %v, want in [%v, %v]", ttl, tc.wantMin, tc.wantMax)
			}
		})
	}
}

func TestExpiredSetRefreshesInBackground(t *testing.T) {
	clk := newClock()
	ks := newKeyServer(t, rsaJWK(t, "r1"))
	ks.setCacheControl("max-age=600")
	c := newCache(t, clk)
	ctx := context.Background()
	if _, err := c.Key(ctx, ks.URL, "r1"); err != nil {
		t.Fatal(err)
	}

	// Before expiry: no fetch.
	clk.Advance(500 * time.Second)
	if _, err := c.Key(ctx, ks.URL, "r1"); err != nil {
		t.Fatal(err)
	}
	if got := ks.hits.Load(); got != 1 {
		t.Fatalf("hits before expiry = %d, want 1", got)
	}

	// After expiry: answered at once from the cache even though the
	// server is stuck, and one refresh runs in the background.
	release := make(chan struct{})
	ks.setBlock(release)
	clk.Advance(200 * time.Second)
	for range 10 {
		if _, err := c.Key(ctx, ks.URL, "r1"); err != nil {
			t.Fatalf("Key after expiry = %v", err)
		}
	}
	close(release)
	waitFor(t, "the background refresh", func() bool { return c.Stats().Refreshes == 2 })
	if got := ks.hits.Load(); got != 2 {
		t.Errorf("hits after expiry = %d, want 2", got)
	}
}

func TestIdPDownServesCachedKeys(t *testing.T) {
	clk := newClock()
	ks := newKeyServer(t, rsaJWK(t, "r1"))
	c := newCache(t, clk)
	ctx := context.Background()
	if _, err := c.Key(ctx, ks.URL, "r1"); err != nil {
		t.Fatal(err)
	}

	ks.setStatus(http.StatusServiceUnavailable)
	clk.Advance(DefaultTTL + time.Hour)
	if _, err := c.Key(ctx, ks.URL, "r1"); err != nil {
		t.Fatalf("Key with IdP down and expired set = %v", err)
	}
	waitFor(t, "the failed refresh", func() bool { return c.Stats().RefreshFailures == 1 })
	// An unknown kid with cached keys is a plain miss, not unavailability.
	clk.Advance(DefaultMinRefreshInterval)
	if _, err := c.Key(ctx, ks.URL, "other"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("unknown kid with IdP down = %v, want ErrKeyNotFound", err)
	}
	// The failed fetches replaced nothing.
	if _, err := c.Key(ctx, ks.URL, "r1"); err != nil {
		t.Fatalf("Key after failed refreshes = %v", err)
	}
	if err := c.Ready(ctx, ks.URL); err != nil {
		t.Errorf("Ready() = %v with cached keys", err)
	}
}

func TestIdPDownNoKeys(t *testing.T) {
	clk := newClock()
	ks := newKeyServer(t, rsaJWK(t, "r1"))
	ks.setStatus(http.StatusInternalServerError)
	c := newCache(t, clk)
	ctx := context.Background()

	if _, err := c.Key(ctx, ks.URL, "r1"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Key() = %v, want ErrUnavailable", err)
	}
	if err := c.Ready(ctx, ks.URL); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Ready() = %v, want ErrUnavailable", err)
	}
	if c.Loaded() {
		t.Error("Loaded() = true")
	}
	// Retries are spaced by RetryInterval.
	if got := ks.hits.Load(); got != 1 {
		t.Errorf("hits = %d, want 1 (second attempt within the retry interval)", got)
	}
	ks.setStatus(http.StatusOK)
	clk.Advance(DefaultRetryInterval)
	if err := c.Ready(ctx, ks.URL); err != nil {
		t.Fatalf("Ready() after recovery = %v", err)
	}
	if !c.Loaded() {
		t.Error("Loaded() = false after recovery")
	}
}

func TestFetchFailures(t *testing.T) {
	big := `{"keys":[],"pad":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	tests := []struct {
		name string
		body string
	}{
		{"not json", "<html>"},
		{"too large", big},
		{"no usable key", `{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}`},
		{"empty", `{"keys":[]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			ks := newKeyServer(t, rsaJWK(t, "r1"))
			c := newCache(t, clk)
			ctx := context.Background()
			if _, err := c.Key(ctx, ks.URL, "r1"); err != nil {
				t.Fatal(err)
			}
			ks.setBody([]byte(tc.body))
			clk.Advance(DefaultMinRefreshInterval)
			if _, err := c.Key(ctx, ks.URL, "r2"); !errors.Is(err, ErrKeyNotFound) {
				t.Fatalf("Key(r2) = %v, want ErrKeyNotFound", err)
			}
			if st := c.Stats(); st.RefreshFailures != 1 {
				t.Errorf("RefreshFailures = %d, want 1", st.RefreshFailures)
			}
			if _, err := c.Key(ctx, ks.URL, "r1"); err != nil {
				t.Errorf("Key(r1) after a failed fetch = %v; the old keys must stay", err)
			}
		})
	}
}

func TestParseKeySet(t *testing.T) {
	rsaKey := rsaJWK(t, "r1")
	ecKey := ecJWK(t, "e1")
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	marshal := func(k jose.JSONWebKey) string {
		b, err := k.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	withIssuer := strings.Replace(marshal(rsaKey), `{`, `{"issuer":"https://login.microsoftonline.com/{tenantid}/v2.0",`, 1)
	encKey := rsaJWK(t, "enc")
	encKey.Use = "enc"
	noUse := ecJWK(t, "nouse")
	noUse.Use = ""
	body := `{"keys":[` + strings.Join([]string{
		withIssuer,
		marshal(ecKey),
		marshal(encKey),
		marshal(noUse),
		marshal(jose.JSONWebKey{Key: &small.PublicKey, KeyID: "small", Use: "sig"}),
		marshal(jose.JSONWebKey{Key: priv, KeyID: "private", Use: "sig"}),
		marshal(jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct", Use: "sig"}),
		marshal(jose.JSONWebKey{Key: &priv.PublicKey, Use: "sig"}), // no kid
		`{"kty":"RSA","kid":"broken","n":"!!","e":"AQAB"}`,
		`{"kty":"WHAT","kid":"unknown"}`,
		marshal(rsaJWK(t, "e1")), // duplicate kid: the first wins
	}, ",") + `]}`

	keys, err := parseKeySet([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for kid := range keys {
		got = append(got, kid)
	}
	if len(keys) != 3 || keys["r1"] == nil || keys["e1"] == nil || keys["nouse"] == nil {
		t.Fatalf("parseKeySet kept %v, want [r1 e1 nouse]", got)
	}
	if got := keys["r1"].Issuer; got != "https://login.microsoftonline.com/{tenantid}/v2.0" {
		t.Errorf("r1 issuer = %q", got)
	}
	if got := keys["r1"].Algorithm; got != "RS256" {
		t.Errorf("r1 alg = %q", got)
	}
	if _, ok := keys["e1"].Public.(*ecdsa.PublicKey); !ok {
		t.Errorf("e1 is %T, want the first (EC) key", keys["e1"].Public)
	}
}

func TestFreshness(t *testing.T) {
	tests := []struct {
		header http.Header
		want   time.Duration
	}{
		{http.Header{}, -1},
		{http.Header{"Cache-Control": {"max-age=86400, private"}}, 24 * time.Hour},
		{http.Header{"Cache-Control": {"private", "MAX-AGE=60"}}, time.Minute},
		{http.Header{"Cache-Control": {"max-age=600"}, "Age": {"100"}}, 500 * time.Second},
		{http.Header{"Cache-Control": {"max-age=600"}, "Age": {"9999"}}, 0},
		{http.Header{"Cache-Control": {"max-age=-5"}}, -1},
		{http.Header{"Cache-Control": {"max-age=abc"}}, -1},
		{http.Header{"Cache-Control": {"no-store, max-age=600"}}, 0},
	}
	for _, tc := range tests {
		if got := freshness(tc.header); got != tc.want {
			t.Errorf("freshness(%v) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestContextCancelled(t *testing.T) {
	clk := newClock()
	ks := newKeyServer(t, rsaJWK(t, "r1"))
	release := make(chan struct{})
	ks.setBlock(release)
	c := newCache(t, clk)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Key(ctx, ks.URL, "r1")
		done <- err
	}()
	waitFor(t, "the fetch", func() bool { return ks.hits.Load() == 1 })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Key() = %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Key did not return after its context was cancelled")
	}
	// The fetch went on for others.
	close(release)
	if _, err := c.Key(context.Background(), ks.URL, "r1"); err != nil {
		t.Fatalf("Key() after the cancelled caller = %v", err)
	}
	if got := ks.hits.Load(); got != 1 {
		t.Errorf("hits = %d, want 1", got)
	}
}

func TestCloseStopsFetches(t *testing.T) {
	ks := newKeyServer(t, rsaJWK(t, "r1"))
	ks.setBlock(make(chan struct{})) // never released
	c := New(Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Key(ctx, ks.URL, "r1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Key() = %v, want deadline exceeded", err)
	}
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not stop the fetch in flight")
	}
	if _, err := c.Key(context.Background(), ks.URL, "r1"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Key() after Close = %v, want ErrUnavailable", err)
	}
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	clk := newClock()
	ks := newKeyServer(t, rsaJWK(t, "r1"))
	c := New(Options{Now: clk.Now, MaxKeySets: 2})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	for _, q := range []string{"?a", "?b", "?a", "?c"} {
		clk.Advance(time.Second)
		if _, err := c.Key(ctx, ks.URL+q, "r1"); err != nil {
			t.Fatal(err)
		}
	}
	c.mu.RLock()
	_, a := c.sets[ks.URL+"?a"]
	_, b := c.sets[ks.URL+"?b"]
	n := len(c.sets)
	c.mu.RUnlock()
	if n != 2 || !a || b {
		t.Errorf("sets after eviction: %d, a=%v b=%v; want 2 with a kept and b dropped", n, a, b)
	}
}
