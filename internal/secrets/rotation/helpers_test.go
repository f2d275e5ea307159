package rotation

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/idp"
	"github.com/airgate/airgate/internal/secrets"
	"github.com/airgate/airgate/internal/sqlstore"
)

// clock is a settable clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

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

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// recordingAuditor keeps audited events.
type recordingAuditor struct {
	mu     sync.Mutex
	events []Event
	fail   error
}

func (a *recordingAuditor) AuditRotation(ctx context.Context, e Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return a.fail
	}
	a.events = append(a.events, e)
	return nil
}

func (a *recordingAuditor) results(secret string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, e := range a.events {
		if e.Secret == secret {
			out = append(out, e.Result)
		}
	}
	return out
}

// entraEnv is the emulator, a secret store seeded with airgate's demo
// secret, and a Manager with the Entra rotator.
type entraEnv struct {
	t          *testing.T
	idp        *idp.Server
	info       idp.ReadyInfo
	store      secrets.SecretStore
	db         *sqlstore.DB
	clock      *clock
	audit      *recordingAuditor
	rot        *Entra
	mgr        *Manager
	hc         *http.Client
	initial    string
	graphState *flag
}

type flag struct {
	mu sync.Mutex
	on bool
}

func (f *flag) set(v bool) { f.mu.Lock(); f.on = v; f.mu.Unlock() }
func (f *flag) get() bool  { f.mu.Lock(); defer f.mu.Unlock(); return f.on }

// failingTransport answers 503 to Graph calls while down is set.
type failingTransport struct {
	base http.RoundTripper
	down *flag
}

func (f failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.down.get() && strings.Contains(r.URL.Path, "/graph/") {
		rec := httptest.NewRecorder()
		rec.WriteHeader(http.StatusServiceUnavailable)
		_, _ = rec.WriteString(`{"error":{"code":"serviceUnavailable","message":"try later"}}`)
		return rec.Result(), nil
	}
	return f.base.RoundTrip(r)
}

func startIDP(t *testing.T, tenant *idp.Tenant) (*idp.Server, idp.ReadyInfo) {
	t.Helper()
	srv, err := idp.New(idp.Options{Tenant: tenant})
	if err != nil {
		t.Fatal(err)
	}
	info, err := srv.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, info
}

func openDB(t *testing.T) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newEntraEnv(t *testing.T, tenant *idp.Tenant, edit func(*EntraOptions)) *entraEnv {
	t.Helper()
	e := &entraEnv{t: t, clock: newClock(), audit: &recordingAuditor{}, graphState: &flag{}}
	e.idp, e.info = startIDP(t, tenant)
	base := e.idp.HTTPClient()
	e.hc = &http.Client{Transport: failingTransport{base: base.Transport, down: e.graphState}, Timeout: 10 * time.Second}
	e.db = openDB(t)
	e.store = secrets.NewFileSecrets(filepath.Join(t.TempDir(), "secrets.json"), secrets.FileSecretsOptions{Now: e.clock.now})
	e.initial = e.info.Apps["airgate"].ClientSecret
	if _, err := secrets.Seed(context.Background(), e.store, NameEntra, []byte(e.initial), map[string]string{"kind": KindClientSecret}); err != nil {
		t.Fatal(err)
	}
	o := EntraOptions{
		Store: e.store, ClientID: e.info.Apps["airgate"].ClientID, TokenURL: e.info.TokenEndpoint, GraphURL: e.info.Graph,
		HTTPClient: e.hc, Overlap: time.Hour, PropagationTimeout: 5 * time.Second, PollInterval: 10 * time.Millisecond,
		Logger: testLogger(), Now: e.clock.now,
	}
	if edit != nil {
		edit(&o)
	}
	var err error
	if e.rot, err = NewEntra(o); err != nil {
		t.Fatal(err)
	}
	e.mgr = e.newManager(e.rot)
	return e
}

func (e *entraEnv) newManager(rs ...Rotator) *Manager {
	m, err := New(context.Background(), Options{DB: e.db, Rotators: rs, Auditor: e.audit, Logger: testLogger(), Now: e.clock.now})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// works reports whether Entra gives a token for the client secret text.
func (e *entraEnv) works(secret string) error {
	auth, err := ClientAuth(&secrets.Version{Value: []byte(secret)}, e.info.Apps["airgate"].ClientID, e.info.TokenEndpoint, time.Now())
	if err != nil {
		return err
	}
	_, _, err = RequestToken(context.Background(), e.idp.HTTPClient(), e.info.TokenEndpoint, GraphScope, auth)
	return err
}

func (e *entraEnv) current() *secrets.Version {
	e.t.Helper()
	v, err := e.store.Get(context.Background(), NameEntra, secrets.Current)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// app reads airgate's application from Graph as the rotator does (with the
// current credential).
func (e *entraEnv) app() *application {
	e.t.Helper()
	a, err := e.rot.graph.application(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func keyIDs(a *application) []string {
	var out []string
	for _, p := range a.PasswordCredentials {
		out = append(out, p.KeyID)
	}
	return out
}
