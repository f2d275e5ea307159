package rotation

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/idp"
	"github.com/airgate/airgate/internal/secrets"
)

func TestEntraSecretRotationOverlap(t *testing.T) {
	ctx := context.Background()
	e := newEntraEnv(t, nil, nil)
	before := e.app()
	if len(before.PasswordCredentials) != 1 {
		t.Fatalf("demo app has %d secrets, want 1", len(before.PasswordCredentials))
	}
	oldKeyID := before.PasswordCredentials[0].KeyID

	res := e.mgr.Rotate(ctx, NameEntra, RotateOptions{Force: true})
	if res.Outcome != "switched" || res.Err != nil || res.Version != 2 {
		t.Fatalf("Rotate = %+v, want switched to version 2", res)
	}
	cur := e.current()
	if cur.Version != 2 || cur.Meta["key_id"] == "" || cur.Meta["hint"] != string(cur.Value[:3]) || cur.Meta["kind"] != KindClientSecret {
		t.Fatalf("current after rotate = version %d meta %v", cur.Version, cur.Meta)
	}
	if err := e.works(string(cur.Value)); err != nil {
		t.Fatalf("new secret refused: %v", err)
	}
	// During the overlap both secrets work.
	if err := e.works(e.initial); err != nil {
		t.Fatalf("old secret refused during the overlap: %v", err)
	}
	if ids := keyIDs(e.app()); len(ids) != 2 {
		t.Fatalf("secrets during the overlap = %v, want old and new", ids)
	}
	// Before the overlap passes, nothing more happens.
	e.clock.advance(59 * time.Minute)
	if res := e.mgr.Rotate(ctx, NameEntra, RotateOptions{}); res.Outcome != "waiting" {
		t.Fatalf("Rotate during the overlap = %+v, want waiting", res)
	}
	if err := e.works(e.initial); err != nil {
		t.Fatalf("old secret refused before the overlap passed: %v", err)
	}
	// After it, the scheduler's pass removes the old secret.
	e.clock.advance(time.Minute)
	results := e.mgr.Tick(ctx)
	if len(results) != 1 || results[0].Outcome != "retired" {
		t.Fatalf("Tick after the overlap = %+v, want retired", results)
	}
	err := e.works(e.initial)
	var te *TokenError
	if !errors.As(err, &te) || te.Code != "invalid_client" || !strings.Contains(te.Description, "AADSTS7000215") {
		t.Fatalf("old secret after removePassword: %v, want invalid_client AADSTS7000215", err)
	}
	if err := e.works(string(cur.Value)); err != nil {
		t.Fatalf("new secret refused after the overlap: %v", err)
	}
	ids := keyIDs(e.app())
	if len(ids) != 1 || ids[0] != cur.Meta["key_id"] || ids[0] == oldKeyID {
		t.Fatalf("secrets after the overlap = %v, want only %s", ids, cur.Meta["key_id"])
	}
	old, _ := e.store.Get(ctx, NameEntra, 1)
	if old.State != secrets.StateRetired || old.Value != nil {
		t.Fatalf("old version = %+v, want retired and erased", old)
	}
	got := e.audit.results(NameEntra)
	want := []string{"started", "switched", "retired"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("audited %v, want %v", got, want)
	}
	for _, ev := range e.audit.events {
		if strings.Contains(ev.Hint, string(cur.Value)) || strings.Contains(ev.Hint, e.initial) {
			t.Fatalf("audit event carries a secret: %+v", ev)
		}
	}
}

func TestEntraRotatesNearExpiry(t *testing.T) {
	ctx := context.Background()
	tenant := idp.Demo()
	for i := range tenant.Applications {
		if tenant.Applications[i].Name == "airgate" {
			tenant.Applications[i].Secrets = []idp.SecretSpec{{DisplayName: "demo", End: time.Now().Add(10 * 24 * time.Hour)}}
		}
	}
	e := newEntraEnv(t, tenant, func(o *EntraOptions) { o.Overlap = 0 })
	st, err := e.rot.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Expires.IsZero() || time.Until(st.Expires) > 11*24*time.Hour || st.DueBy != "expiry" {
		t.Fatalf("Status = %+v, want the endDateTime read from Graph and due by expiry", st)
	}
	if !e.rot.Due(st, e.clock.now()) {
		t.Fatal("a secret 10 days from expiry (renew_before 30d) is not due")
	}
	res := e.mgr.Tick(ctx)
	if len(res) != 1 || res[0].Outcome != "rotated" || res[0].Reason != "expiry" {
		t.Fatalf("Tick = %+v, want rotated for expiry", res)
	}
	st, _ = e.rot.Status(ctx)
	if time.Until(st.Expires) < 170*24*time.Hour || e.rot.Due(st, e.clock.now()) {
		t.Fatalf("Status after rotation = %+v, want a fresh 180-day secret, not due", st)
	}
	if err := e.works(e.initial); err == nil {
		t.Fatal("old secret still works with no overlap")
	}
	// Not due: another pass does nothing.
	if res := e.mgr.Tick(ctx); res[0].Outcome != "not-due" {
		t.Fatalf("second Tick = %+v", res)
	}
}

// A crash after addPassword and before the secret is stored: Recover
// removes the orphan, so the application ends with only the old secret.
func TestEntraCrashAfterAddLeavesNoOrphan(t *testing.T) {
	ctx := context.Background()
	for _, crash := range []struct {
		name  string
		fault func(string) error
	}{
		{"error", func(step string) error {
			if step == "after-add" {
				return errors.New("injected crash")
			}
			return nil
		}},
		{"panic", func(step string) error {
			if step == "after-add" {
				panic("injected crash")
			}
			return nil
		}},
	} {
		t.Run(crash.name, func(t *testing.T) {
			var armed = &flag{}
			armed.set(true)
			e := newEntraEnv(t, nil, func(o *EntraOptions) {
				o.Fault = func(step string) error {
					if armed.get() {
						return crash.fault(step)
					}
					return nil
				}
			})
			origKeyID := e.app().PasswordCredentials[0].KeyID
			res := e.mgr.Rotate(ctx, NameEntra, RotateOptions{Force: true})
			if res.Outcome != "failed" || res.Err == nil {
				t.Fatalf("Rotate with a crash = %+v, want failed", res)
			}
			if ids := keyIDs(e.app()); len(ids) != 2 {
				t.Fatalf("after the crash the app has %v; want the orphan present before recovery", ids)
			}
			if st, _ := e.mgr.Status(ctx); st[0].Pending != "adding" || st[0].LastResult != "failed" {
				t.Fatalf("Status after the crash = %+v", st[0])
			}
			// Restart: a new manager recovers the open intent.
			armed.set(false)
			res = e.newManager(e.rot).Rotate(ctx, NameEntra, RotateOptions{})
			if res.Outcome != "rolled-back" {
				t.Fatalf("recovery = %+v, want rolled-back", res)
			}
			ids := keyIDs(e.app())
			if len(ids) != 1 || ids[0] != origKeyID {
				t.Fatalf("after recovery the app has %v, want only %s (no orphan)", ids, origKeyID)
			}
			if cur := e.current(); cur.Version != 1 || string(cur.Value) != e.initial {
				t.Fatalf("current after recovery = version %d", cur.Version)
			}
			if err := e.works(e.initial); err != nil {
				t.Fatalf("current secret broken by the recovery: %v", err)
			}
		})
	}
}

// A crash after the new secret is stored but before the switch: Recover
// adopts it, and after the overlap the old one is removed; still no orphan.
func TestEntraCrashBeforeSwitchAdopts(t *testing.T) {
	ctx := context.Background()
	armed := &flag{}
	armed.set(true)
	e := newEntraEnv(t, nil, func(o *EntraOptions) {
		o.Overlap = 0
		o.Fault = func(step string) error {
			if armed.get() && step == "before-switch" {
				panic("injected crash")
			}
			return nil
		}
	})
	if res := e.mgr.Rotate(ctx, NameEntra, RotateOptions{Force: true}); res.Outcome != "failed" {
		t.Fatalf("Rotate = %+v, want failed", res)
	}
	armed.set(false)
	res := e.mgr.Rotate(ctx, NameEntra, RotateOptions{})
	if res.Outcome != "recovered" || res.Version != 2 {
		t.Fatalf("recovery = %+v, want the new secret adopted", res)
	}
	cur := e.current()
	ids := keyIDs(e.app())
	if len(ids) != 1 || ids[0] != cur.Meta["key_id"] {
		t.Fatalf("after recovery the app has %v, want only the adopted %s", ids, cur.Meta["key_id"])
	}
	if err := e.works(string(cur.Value)); err != nil {
		t.Fatal(err)
	}
}

// A Graph outage: the rotation fails, the current secret keeps working,
// and the failure shows in the status, the stats and the back-off.
func TestEntraGraphFailureKeepsCurrent(t *testing.T) {
	ctx := context.Background()
	e := newEntraEnv(t, nil, nil)
	e.graphState.set(true)
	res := e.mgr.Rotate(ctx, NameEntra, RotateOptions{Force: true})
	var ge *GraphError
	if res.Outcome != "failed" || !errors.As(res.Err, &ge) || ge.Status != 503 {
		t.Fatalf("Rotate during a Graph outage = %+v (%v), want failed with Graph's 503", res, res.Err)
	}
	if cur := e.current(); cur.Version != 1 {
		t.Fatalf("current = version %d, want 1", cur.Version)
	}
	if err := e.works(e.initial); err != nil {
		t.Fatalf("current secret broken by a failed rotation: %v", err)
	}
	st, _ := e.mgr.Status(ctx)
	if st[0].LastResult != "failed" || !strings.Contains(st[0].LastError, "503") || st[0].Failures != 1 || st[0].Pending != "" {
		t.Fatalf("Status = %+v, want the failure reported and no open intent", st[0])
	}
	if s := e.mgr.Stats()[NameEntra]; s.Failures != 1 || s.LastResult != "failed" {
		t.Fatalf("Stats = %+v", s)
	}
	if got := e.audit.results(NameEntra); strings.Join(got, ",") != "started,failed" {
		t.Fatalf("audited %v", got)
	}
	// Back-off: the scheduler does not retry at once.
	if res := e.mgr.Tick(ctx); len(res) != 0 {
		t.Fatalf("Tick during back-off = %+v, want nothing tried", res)
	}
	e.graphState.set(false)
	e.clock.advance(2 * time.Minute)
	if res := e.mgr.Tick(ctx); len(res) != 1 || res[0].Outcome != "not-due" {
		t.Fatalf("Tick after back-off = %+v", res)
	}
	if ids := keyIDs(e.app()); len(ids) != 1 {
		t.Fatalf("app has %v after a failed rotation, want 1 secret", ids)
	}
}

// Entra takes a while to accept the new secret: the rotator polls.
func TestEntraWaitsForPropagation(t *testing.T) {
	ctx := context.Background()
	e := newEntraEnv(t, nil, func(o *EntraOptions) { o.Overlap = 0 })
	refusals := 0
	e.rot.o.HTTPClient = (&httpClientWrapper{base: e.hc, refuse: func(form string) bool {
		if !strings.Contains(form, e.initial) && strings.Contains(form, "client_secret") && refusals < 3 {
			refusals++
			return true
		}
		return false
	}}).client()
	if res := e.mgr.Rotate(ctx, NameEntra, RotateOptions{Force: true}); res.Outcome != "rotated" {
		t.Fatalf("Rotate = %+v", res)
	}
	if refusals != 3 {
		t.Fatalf("refusals = %d, want 3 polls refused first", refusals)
	}
}

// Entra never accepts the new secret: it is removed again.
func TestEntraPropagationTimeoutRollsBack(t *testing.T) {
	ctx := context.Background()
	e := newEntraEnv(t, nil, func(o *EntraOptions) { o.PropagationTimeout = 200 * time.Millisecond })
	e.rot.o.HTTPClient = (&httpClientWrapper{base: e.hc, refuse: func(form string) bool {
		return strings.Contains(form, "client_secret") && !strings.Contains(form, e.initial)
	}}).client()
	if res := e.mgr.Rotate(ctx, NameEntra, RotateOptions{Force: true}); res.Outcome != "failed" {
		t.Fatalf("Rotate = %+v, want failed", res)
	}
	if ids := keyIDs(e.app()); len(ids) != 1 {
		t.Fatalf("app has %v, want the unaccepted secret removed", ids)
	}
	if cur := e.current(); cur.Version != 1 {
		t.Fatalf("current = %d", cur.Version)
	}
	if lat, _ := e.store.Get(ctx, NameEntra, secrets.Latest); lat.Version != 1 {
		t.Fatalf("latest = %d, want the new version retired", lat.Version)
	}
}

func TestEntraCertificateRotation(t *testing.T) {
	ctx := context.Background()
	e := newEntraEnv(t, nil, func(o *EntraOptions) { o.Certificate = true; o.Overlap = 0 })
	if res := e.mgr.Rotate(ctx, NameEntra, RotateOptions{Force: true}); res.Outcome != "rotated" {
		t.Fatalf("Rotate to a certificate = %+v (%v)", res, res.Err)
	}
	cur := e.current()
	if cur.Meta["kind"] != KindCertificate || cur.Meta["thumbprint"] == "" {
		t.Fatalf("current = %v", cur.Meta)
	}
	auth, err := ClientAuth(cur, e.info.Apps["airgate"].ClientID, e.info.TokenEndpoint, time.Now())
	if err != nil || auth.Get("client_assertion") == "" || auth.Has("client_secret") {
		t.Fatalf("ClientAuth = %v, %v", auth, err)
	}
	if _, _, err := RequestToken(ctx, e.idp.HTTPClient(), e.info.TokenEndpoint, GraphScope, auth); err != nil {
		t.Fatalf("certificate assertion refused: %v", err)
	}
	// The old client secret is gone; one certificate is registered.
	app := e.app()
	if len(app.PasswordCredentials) != 0 || len(app.KeyCredentials) != 1 || app.KeyCredentials[0].KeyID != cur.Meta["key_id"] {
		t.Fatalf("app credentials = %d secrets, %+v", len(app.PasswordCredentials), app.KeyCredentials)
	}
	// Certificate to certificate: the old certificate goes too.
	if res := e.mgr.Rotate(ctx, NameEntra, RotateOptions{Force: true}); res.Outcome != "rotated" {
		t.Fatalf("second Rotate = %+v (%v)", res, res.Err)
	}
	next := e.current()
	app = e.app()
	if len(app.KeyCredentials) != 1 || app.KeyCredentials[0].KeyID != next.Meta["key_id"] {
		t.Fatalf("key credentials after the second rotation = %+v, want only %s", app.KeyCredentials, next.Meta["key_id"])
	}
	oldAuth, _ := ClientAuth(cur, e.info.Apps["airgate"].ClientID, e.info.TokenEndpoint, time.Now())
	if _, _, err := RequestToken(ctx, e.idp.HTTPClient(), e.info.TokenEndpoint, GraphScope, oldAuth); err == nil {
		t.Fatal("removed certificate still accepted")
	}
}

func TestEnvStoreRefusesRotation(t *testing.T) {
	ctx := context.Background()
	e := newEntraEnv(t, nil, nil)
	e.rot.o.Store = secrets.EnvSecrets{Vars: map[string]string{NameEntra: "X"}, Lookup: func(string) (string, bool) { return e.initial, true }}
	res := e.mgr.Rotate(ctx, NameEntra, RotateOptions{Force: true})
	if res.Outcome != "failed" || !errors.Is(res.Err, secrets.ErrReadOnly) || !strings.Contains(res.Err.Error(), "rotation.store") {
		t.Fatalf("Rotate over the environment = %+v (%v), want a read-only refusal", res, res.Err)
	}
	if ids := keyIDs(e.app()); len(ids) != 1 {
		t.Fatalf("app changed: %v", ids)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	e := newEntraEnv(t, nil, nil)
	res := e.mgr.Rotate(ctx, NameEntra, RotateOptions{Force: true, DryRun: true})
	if res.Outcome != "would-rotate" || res.Reason != "forced" {
		t.Fatalf("dry run = %+v", res)
	}
	if res := e.mgr.Rotate(ctx, NameEntra, RotateOptions{DryRun: true}); res.Outcome != "not-due" {
		t.Fatalf("dry run, not forced = %+v", res)
	}
	if ids := keyIDs(e.app()); len(ids) != 1 || e.current().Version != 1 || len(e.audit.results(NameEntra)) != 0 {
		t.Fatal("dry run changed something")
	}
}
