package session

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/identity"
)

// fakeKeys is a keyring of session keys: one seals, the published ones
// open. It mimics secrets.Keyring's rotation: a new key seals, older keys
// open until unpublished.
type fakeKeys struct {
	mu        sync.Mutex
	current   string
	published map[string][]byte
}

func newFakeKeys(t *testing.T) *fakeKeys {
	t.Helper()
	k := &fakeKeys{published: map[string][]byte{}}
	k.rotate(t)
	return k
}

// rotate adds a new key that seals from now on; the old one stays
// published.
func (k *fakeKeys) rotate(t *testing.T) string {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("session-%d-%x", len(k.published)+1, secret[:4])
	k.published[id] = secret
	k.current = id
	return id
}

func (k *fakeKeys) unpublish(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.published, id)
}

func (k *fakeKeys) SealingKey() (string, []byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.current, k.published[k.current], nil
}

func (k *fakeKeys) OpeningKey(id string) ([]byte, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, ok := k.published[id]
	return s, ok
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newManager(t *testing.T, keys Keys, c *clock, secure bool) *Manager {
	t.Helper()
	m, err := New(Options{Keys: keys, Secure: secure, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func testSession(c *clock, groups int) *Session {
	now := c.now()
	p := &identity.Principal{
		Kind: identity.User, TenantID: "6a1f3c9e-2b7d-4e58-9f0a-3c5d7e9b1a24", ObjectID: "a11ce5a1-7c3e-4d2b-8e1f-0a9b8c7d6e01",
		UPN: "alice@airgate.example", DisplayName: "Alice Anders", Scopes: []string{"access_as_user"}, AMR: []string{"pwd", "mfa"},
		AppRoles: []string{"Airflow.Operator"}, Issuer: "https://login.example/t/v2.0", Audience: "api://airgate", TokenVersion: "2.0",
		IssuedAt: now, Expiry: now.Add(time.Hour),
	}
	for i := range groups {
		p.Groups = append(p.Groups, fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i*7919))
	}
	return &Session{ID: NewID(), IssuedAt: now, Expiry: now.Add(8 * time.Hour), RefreshToken: "1.AR-refresh-token", Principal: p}
}

// roundTrip returns a request carrying the cookies w set (deleted cookies
// left out), as a browser would send them next.
func roundTrip(w *httptest.ResponseRecorder, prev *http.Request) *http.Request {
	jar := map[string]string{}
	if prev != nil {
		for _, c := range prev.Cookies() {
			jar[c.Name] = c.Value
		}
	}
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(jar, c.Name)
			continue
		}
		jar[c.Name] = c.Value
	}
	r := httptest.NewRequest("GET", "/", nil)
	for k, v := range jar {
		r.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	return r
}
