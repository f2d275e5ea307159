package tokens

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/authz"
	"github.com/airgate/airgate/internal/authz/policy"
	"github.com/airgate/airgate/internal/catalog"
	"github.com/airgate/airgate/internal/identity"
)

// testKey is an ES256 key serving as both KeySource and KeyLookup.
type testKey struct {
	kid string
	key *ecdsa.PrivateKey
}

func newTestKey(t testing.TB, kid string) *testKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{kid: kid, key: k}
}

func (k *testKey) SigningKey() (string, string, crypto.Signer, error) {
	return k.kid, "ES256", k.key, nil
}

func (k *testKey) VerificationKey(kid string) (crypto.PublicKey, string, bool) {
	if kid != k.kid {
		return nil, "", false
	}
	return k.key.Public(), "ES256", true
}

// fakePolicy allows, per principal object id, operations on DAGs matching
// a glob. It records what it was asked.
type fakePolicy struct {
	allow map[string][]string // object id -> "opID dagGlob"
	err   error

	mu    sync.Mutex
	asked []string // "kind oid opID dag"
}

func (f *fakePolicy) Decide(_ context.Context, p *identity.Principal, req *catalog.Classification) (authz.Decision, error) {
	f.mu.Lock()
	f.asked = append(f.asked, string(p.Kind)+" "+p.ObjectID+" "+req.Op.ID+" "+req.DAGID)
	f.mu.Unlock()
	if f.err != nil {
		return authz.Decision{}, f.err
	}
	for _, a := range f.allow[p.ObjectID] {
		op, glob, _ := strings.Cut(a, " ")
		if op == req.Op.ID && policy.MatchDAGPattern(glob, req.DAGID) {
			return authz.Decision{Allow: true, Reasons: []authz.Reason{"allowed"}}, nil
		}
	}
	return authz.Decision{Reasons: []authz.Reason{"dag-not-in-scope"}}, nil
}

type fakeDAGs map[string]string // id -> schedule JSON

func (f fakeDAGs) DAGs(context.Context) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for id, s := range f {
		out[id] = json.RawMessage(s)
	}
	return out, nil
}

func (f fakeDAGs) DAG(_ context.Context, id string) (json.RawMessage, bool, error) {
	s, ok := f[id]
	return json.RawMessage(s), ok, nil
}

type memUsed struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (m *memUsed) MarkUsed(_ context.Context, hash string, _ time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]bool{}
	}
	if m.seen[hash] {
		return false, nil
	}
	m.seen[hash] = true
	return true, nil
}

const (
	tenant   = "6a1f3c9e-2b7d-4e58-9f0a-3c5d7e9b1a24"
	agentOID = "e71a9e00-0000-4000-8000-0000000000c2"
	agentApp = "e71a9e00-0000-4000-8000-000000000002"
	bobOID   = "b0b5b0b1-6d2c-4a3e-9f10-1b2c3d4e5f02"
)

var testNow = time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)

func agentPrincipal() *identity.Principal {
	return &identity.Principal{Kind: identity.App, TenantID: tenant, ObjectID: agentOID, Subject: agentOID, AppID: agentApp,
		AppRoles: []string{"Airflow.Operator"}, Expiry: testNow.Add(time.Hour)}
}

func bobPrincipal() *identity.Principal {
	return &identity.Principal{Kind: identity.User, TenantID: tenant, ObjectID: bobOID, Subject: "bob-sub", UPN: "bob@airgate.example",
		AppID: "a19a7e00-0000-4000-8000-000000000001", Groups: []string{"1a0c0003-0000-4000-8000-0000000000a3"}, AMR: []string{"pwd"},
		Expiry: testNow.Add(80 * time.Minute)}
}

type exchangeFixture struct {
	x      *Exchanger
	key    *testKey
	policy *fakePolicy
	used   *memUsed
	now    time.Time
}

func newExchangeFixture(t *testing.T, api catalog.API, edit func(*ExchangeOptions)) *exchangeFixture {
	t.Helper()
	f := &exchangeFixture{key: newTestKey(t, "token-1"), used: &memUsed{}, now: testNow}
	f.policy = &fakePolicy{allow: map[string][]string{
		agentOID: {"post_dag_run team_a_*", "trigger_dag_run team_a_*", "get_dag team_a_*", "get_dag_runs team_a_*"},
		bobOID:   {"get_dag *", "get_dag_runs *"},
	}}
	o := ExchangeOptions{
		Issuer:        "https://airgate.example",
		Audiences:     []string{"airgate", "prod-airflow"},
		MaxTTL:        12 * time.Hour,
		ScheduleGrace: 5 * time.Minute,
		API:           api,
		Keys:          f.key,
		Authorizer:    f.policy,
		DAGs: fakeDAGs{
			"team_a_daily":   `"0 * * * *"`,
			"team_a_hourly":  `"1:00:00"`,
			"team_a_weekly":  `"@weekly"`,
			"team_a_adhoc":   `null`,
			"team_b_daily":   `"0 6 * * *"`,
			"finance_report": `null`,
		},
		Used: f.used,
		Now:  func() time.Time { return f.now },
	}
	if edit != nil {
		edit(&o)
	}
	x, err := NewExchanger(o)
	if err != nil {
		t.Fatal(err)
	}
	f.x = x
	return f
}

func (f *exchangeFixture) verifier(t *testing.T, rev RevocationChecker) *Verifier {
	t.Helper()
	if rev == nil {
		rev = noRevocations{}
	}
	v, err := NewVerifier(VerifyOptions{Issuer: "https://airgate.example", Audiences: []string{"airgate", "prod-airflow"},
		Keys: f.key, Revocations: rev, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type noRevocations struct{}

func (noRevocations) Revoked(context.Context, string, []string, time.Time) (bool, error) {
	return false, nil
}

func TestExchangeNarrowing(t *testing.T) {
	tests := []struct {
		name      string
		subject   *identity.Principal
		actor     *identity.Principal
		scope     string
		wantCode  ErrorCode
		wantDesc  string
		wantScope string
	}{
		{name: "agent triggers its DAG", subject: agentPrincipal(), scope: "dag:team_a_daily:trigger", wantScope: "dag:team_a_daily:trigger"},
		{name: "agent reads and triggers by glob", subject: agentPrincipal(), scope: "dag:team_a_*:read dag:team_a_daily:trigger", wantScope: "dag:team_a_*:read dag:team_a_daily:trigger"},
		{name: "agent asks for another team's DAG", subject: agentPrincipal(), scope: "dag:team_a_daily:trigger dag:team_b_daily:trigger",
			wantCode: ErrInvalidScope, wantDesc: "scope dag:team_b_daily:trigger is not held: the subject may not trigger DAG team_b_daily (dag-not-in-scope)"},
		{name: "glob wider than held", subject: agentPrincipal(), scope: "dag:team_*:read",
			wantCode: ErrInvalidScope, wantDesc: "scope dag:team_*:read is not held: the subject may not read DAG team_b_daily"},
		{name: "action not held", subject: agentPrincipal(), scope: "dag:team_a_daily:edit",
			wantCode: ErrInvalidScope, wantDesc: "scope dag:team_a_daily:edit is not held"},
		{name: "unknown DAG", subject: agentPrincipal(), scope: "dag:nope:read", wantCode: ErrInvalidScope, wantDesc: "names a DAG Airflow does not have"},
		{name: "glob matching nothing", subject: agentPrincipal(), scope: "dag:zzz*:read", wantCode: ErrInvalidScope, wantDesc: "matches no DAG"},
		{name: "malformed", subject: agentPrincipal(), scope: "dag:team_a_daily:run", wantCode: ErrInvalidScope, wantDesc: "unknown action"},
		{name: "empty", subject: agentPrincipal(), scope: "", wantCode: ErrInvalidScope, wantDesc: "empty"},
		{name: "agent for bob may read what both read", subject: bobPrincipal(), actor: agentPrincipal(), scope: "dag:team_a_daily:read", wantScope: "dag:team_a_daily:read"},
		{name: "agent for bob cannot trigger", subject: bobPrincipal(), actor: agentPrincipal(), scope: "dag:team_a_daily:trigger",
			wantCode: ErrInvalidScope, wantDesc: "scope dag:team_a_daily:trigger is not held: the subject may not trigger DAG team_a_daily"},
		{name: "agent for bob cannot read what only bob reads", subject: bobPrincipal(), actor: agentPrincipal(), scope: "dag:team_b_daily:read",
			wantCode: ErrInvalidScope, wantDesc: "the actor may not read DAG team_b_daily"},
		{name: "user actor refused", subject: agentPrincipal(), actor: bobPrincipal(), scope: "dag:team_a_daily:read", wantCode: ErrInvalidGrant, wantDesc: "app-only"},
	}
	for _, api := range []catalog.API{catalog.V1, catalog.V2} {
		for _, tc := range tests {
			t.Run(string(api)+"/"+tc.name, func(t *testing.T) {
				f := newExchangeFixture(t, api, nil)
				g, err := f.x.Exchange(context.Background(), ExchangeRequest{Subject: tc.subject, Actor: tc.actor, SubjectTokenHash: "h-" + tc.name, Scope: tc.scope})
				if tc.wantCode != "" {
					var e *Error
					if !errors.As(err, &e) || e.Code != tc.wantCode || !strings.Contains(e.Description, tc.wantDesc) {
						t.Fatalf("Exchange = %v, %v; want %s containing %q", g, err, tc.wantCode, tc.wantDesc)
					}
					if len(e.Reasons) == 0 {
						t.Error("refusal without reasons")
					}
					if len(f.used.seen) != 0 {
						t.Error("a refused exchange used up the subject token")
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if g.Scope.String() != tc.wantScope {
					t.Errorf("granted scope %q, want %q", g.Scope, tc.wantScope)
				}
				// The token proves what was granted.
				p, err := f.verifier(t, nil).Verify(context.Background(), g.Token)
				if err != nil {
					t.Fatal(err)
				}
				if p.Kind != identity.Agent || p.ObjectID != tc.subject.ObjectID || p.Exchange == nil || p.Exchange.ID != g.ID ||
					!slices.Equal(p.Exchange.Scope, g.Scope.Strings()) {
					t.Errorf("principal = %+v exchange %+v", p, p.Exchange)
				}
				if (p.Exchange.Actor != nil) != (tc.actor != nil) {
					t.Fatalf("actor = %+v, want %v", p.Exchange.Actor, tc.actor)
				}
				if tc.actor != nil && (p.Exchange.Actor.AppID != tc.actor.AppID || p.Exchange.Actor.Kind != identity.App) {
					t.Errorf("actor = %+v", p.Exchange.Actor)
				}
			})
		}
	}
}

// TestExchangeDecidesAsAgent checks that representative operations are
// decided for the subject as an agent and for the actor as itself, in the
// API the gateway serves, on every DAG a glob names.
func TestExchangeDecidesAsAgent(t *testing.T) {
	f := newExchangeFixture(t, catalog.V2, nil)
	if _, err := f.x.Exchange(context.Background(), ExchangeRequest{Subject: bobPrincipal(), Actor: agentPrincipal(), SubjectTokenHash: "h", Scope: "dag:team_a_d*:read"}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"agent " + bobOID + " get_dag team_a_daily",
		"app " + agentOID + " get_dag team_a_daily",
		"agent " + bobOID + " get_dag_runs team_a_daily",
		"app " + agentOID + " get_dag_runs team_a_daily",
	}
	if !slices.Equal(f.policy.asked, want) {
		t.Errorf("decisions asked:\n%s\nwant:\n%s", strings.Join(f.policy.asked, "\n"), strings.Join(want, "\n"))
	}
}

func TestExchangeLifetime(t *testing.T) {
	tests := []struct {
		name     string
		scope    string
		ttl      time.Duration
		maxTTL   time.Duration
		subjExp  time.Duration
		want     time.Duration
		wantWhy  string
		wantCode ErrorCode
	}{
		{name: "hourly cron DAG", scope: "dag:team_a_daily:trigger", want: time.Hour + 5*time.Minute, wantWhy: "schedule:team_a_daily"},
		{name: "hourly timedelta DAG", scope: "dag:team_a_hourly:read", want: time.Hour + 5*time.Minute, wantWhy: "schedule:team_a_hourly"},
		{name: "shortest of several", scope: "dag:team_a_weekly:read dag:team_a_daily:read", want: time.Hour + 5*time.Minute, wantWhy: "schedule:team_a_daily"},
		{name: "glob takes every DAG's schedule", scope: "dag:team_a_*:read", want: time.Hour + 5*time.Minute, wantWhy: "schedule:team_a_daily"},
		{name: "weekly capped by max", scope: "dag:team_a_weekly:read", want: 12 * time.Hour, wantWhy: "max"},
		{name: "unscheduled gets the max", scope: "dag:team_a_adhoc:read", want: 12 * time.Hour, wantWhy: "max"},
		{name: "requested shorter", scope: "dag:team_a_daily:read", ttl: 10 * time.Minute, want: 10 * time.Minute, wantWhy: "requested"},
		{name: "requested longer is cut", scope: "dag:team_a_adhoc:read", ttl: 48 * time.Hour, want: 12 * time.Hour, wantWhy: "max"},
		{name: "subject token expires first", scope: "dag:team_a_adhoc:read", subjExp: 20 * time.Minute, want: 20 * time.Minute, wantWhy: "subject-token"},
		{name: "subject token about to expire", scope: "dag:team_a_adhoc:read", subjExp: 500 * time.Millisecond, wantCode: ErrInvalidGrant},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newExchangeFixture(t, catalog.V1, func(o *ExchangeOptions) {
				if tc.maxTTL != 0 {
					o.MaxTTL = tc.maxTTL
				}
			})
			f.policy.allow[agentOID] = append(f.policy.allow[agentOID], "get_dag team_a_*", "get_dag_runs team_a_*")
			sub := agentPrincipal()
			sub.Expiry = testNow.Add(24 * time.Hour)
			if tc.subjExp != 0 {
				sub.Expiry = testNow.Add(tc.subjExp)
			}
			g, err := f.x.Exchange(context.Background(), ExchangeRequest{Subject: sub, SubjectTokenHash: "h", Scope: tc.scope, RequestedTTL: tc.ttl})
			if tc.wantCode != "" {
				var e *Error
				if !errors.As(err, &e) || e.Code != tc.wantCode {
					t.Fatalf("Exchange = %v; want %s", err, tc.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := g.Expiry.Sub(g.IssuedAt); got != tc.want || g.Lifetime != tc.wantWhy {
				t.Errorf("lifetime %s (%s), want %s (%s)", got, g.Lifetime, tc.want, tc.wantWhy)
			}
			if g.ExpiresIn() != int64(tc.want/time.Second) {
				t.Errorf("expires_in %d", g.ExpiresIn())
			}
		})
	}
}

func TestExchangeRefusals(t *testing.T) {
	f := newExchangeFixture(t, catalog.V1, func(o *ExchangeOptions) {
		o.Limiter = NewLimiter(60, 3)
		o.AllowedActors = []string{agentApp}
	})
	ctx := context.Background()
	req := func(mod func(*ExchangeRequest)) error {
		r := ExchangeRequest{Subject: agentPrincipal(), SubjectTokenHash: newJTI(), Scope: "dag:team_a_daily:trigger"}
		if mod != nil {
			mod(&r)
		}
		_, err := f.x.Exchange(ctx, r)
		return err
	}
	code := func(err error) ErrorCode {
		var e *Error
		if errors.As(err, &e) {
			return e.Code
		}
		return ""
	}
	if c := code(req(func(r *ExchangeRequest) { r.Audience = "somewhere-else" })); c != ErrInvalidTarget {
		t.Errorf("unknown audience: %s", c)
	}
	if err := req(func(r *ExchangeRequest) { r.Audience = "prod-airflow" }); err != nil {
		t.Errorf("second audience: %v", err)
	}
	if c := code(req(func(r *ExchangeRequest) { r.RequestedTokenType = "urn:ietf:params:oauth:token-type:saml2" })); c != ErrInvalidRequest {
		t.Errorf("saml token type: %s", c)
	}
	// The bucket of 3 is spent (each request took a token); the next waits.
	err := req(nil)
	var e *Error
	if !errors.As(err, &e) || e.Code != ErrTemporarilyUnavailable || e.RetryAfter < time.Second {
		t.Fatalf("rate limit: %v", err)
	}
	// Another subject has its own bucket.
	other := agentPrincipal()
	other.ObjectID = "0ther000-0000-4000-8000-000000000000"
	f.policy.allow[other.ObjectID] = f.policy.allow[agentOID]
	if err := req(func(r *ExchangeRequest) { r.Subject = other }); err != nil {
		t.Errorf("other subject limited: %v", err)
	}
	f.now = f.now.Add(time.Minute)

	// Single use.
	if err := req(func(r *ExchangeRequest) { r.SubjectTokenHash = "same" }); err != nil {
		t.Fatal(err)
	}
	if c := code(req(func(r *ExchangeRequest) { r.SubjectTokenHash = "same" })); c != ErrInvalidGrant {
		t.Errorf("replayed subject token: %s", c)
	}
	// Actors outside the allowed list.
	stranger := agentPrincipal()
	stranger.AppID = "5a5a5a5a-0000-4000-8000-000000000000"
	if c := code(req(func(r *ExchangeRequest) { r.Actor = stranger })); c != ErrUnauthorizedClient {
		t.Errorf("stranger actor: %s", c)
	}
	// An agent principal is not an Entra subject.
	ag := agentPrincipal()
	ag.Kind = identity.Agent
	if c := code(req(func(r *ExchangeRequest) { r.Subject = ag })); c != ErrInvalidGrant {
		t.Errorf("agent subject: %s", c)
	}
	// A decision that cannot be made is not a refusal.
	f.policy.err = errors.New("graph down")
	if err := req(nil); err == nil || code(err) != "" {
		t.Errorf("decision error = %v, want a non-refusal error", err)
	}
}

func TestExchangedTokenClaims(t *testing.T) {
	f := newExchangeFixture(t, catalog.V2, nil)
	g, err := f.x.Exchange(context.Background(), ExchangeRequest{Subject: bobPrincipal(), Actor: agentPrincipal(), ClientID: "ci", SubjectTokenHash: "h", Scope: "dag:team_a_daily:read"})
	if err != nil {
		t.Fatal(err)
	}
	c, kid, alg, typ, err := Decode(g.Token)
	if err != nil {
		t.Fatal(err)
	}
	if kid != "token-1" || alg != "ES256" || typ != "at+jwt" {
		t.Errorf("header kid %q alg %q typ %q", kid, alg, typ)
	}
	if c.Issuer != "https://airgate.example" || c.Audience != "airgate" || c.Subject != bobOID || c.Scope != "dag:team_a_daily:read" ||
		c.ID != g.ID || c.ClientID != "ci" || c.Type != "user" || c.UPN != "bob@airgate.example" || c.TenantID != tenant ||
		c.IssuedAt != testNow.Unix() || c.NotBefore != c.IssuedAt || c.Expiry != g.Expiry.Unix() || !slices.Equal(c.AMR, []string{"pwd"}) {
		t.Errorf("claims = %+v", c)
	}
	if c.Actor == nil || c.Actor.Subject != agentOID || c.Actor.AppID != agentApp || c.Actor.Type != "app" || !slices.Equal(c.Actor.Roles, []string{"Airflow.Operator"}) {
		t.Errorf("act = %+v", c.Actor)
	}
	if len(g.ID) != 32 {
		t.Errorf("jti %q", g.ID)
	}
}
