package rotation

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/airflowsim"
	"github.com/airgate/airgate/internal/secrets"
)

const svcUser, svcPassword = "airgate-svc", "svc-password-1"

type airflowEnv struct {
	t     *testing.T
	url   string
	store secrets.SecretStore
	rot   *Airflow
	mgr   *Manager
	clock *clock
	audit *recordingAuditor
}

func newAirflowEnv(t *testing.T, fault Fault) *airflowEnv {
	t.Helper()
	sim := airflowsim.New(airflowsim.Options{Username: svcUser, Password: svcPassword})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: sim}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	e := &airflowEnv{t: t, url: "http://" + ln.Addr().String(), clock: newClock(), audit: &recordingAuditor{}}
	e.store = secrets.NewFileSecrets(filepath.Join(t.TempDir(), "secrets.json"), secrets.FileSecretsOptions{})
	if _, err := secrets.Seed(context.Background(), e.store, NameAirflow, []byte(svcPassword), nil); err != nil {
		t.Fatal(err)
	}
	e.rot, err = NewAirflow(AirflowOptions{Store: e.store, URL: e.url, Username: svcUser, HTTPClient: &http.Client{Timeout: 5 * time.Second},
		VerifyTimeout: time.Second, Logger: testLogger(), Now: e.clock.now, Fault: fault})
	if err != nil {
		t.Fatal(err)
	}
	e.mgr, err = New(context.Background(), Options{DB: openDB(t), Rotators: []Rotator{e.rot}, Auditor: e.audit, Logger: testLogger(), Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *airflowEnv) status(pw string) int {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.url+"/api/v1/dags?limit=1", nil)
	req.SetBasicAuth(svcUser, pw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (e *airflowEnv) current() *secrets.Version {
	v, err := e.store.Get(context.Background(), NameAirflow, secrets.Current)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func TestAirflowPasswordRotation(t *testing.T) {
	ctx := context.Background()
	e := newAirflowEnv(t, nil)
	st, err := e.rot.Status(ctx)
	if err != nil || st.Version != 1 || st.Kind != "password" {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	if e.rot.Due(st, e.clock.now()) {
		t.Fatal("a fresh password is due")
	}
	e.clock.advance(31 * 24 * time.Hour)
	st, _ = e.rot.Status(ctx)
	if !e.rot.Due(st, e.clock.now()) {
		t.Fatal("a 31-day-old password is not due (max age 30d)")
	}
	res := e.mgr.Rotate(ctx, NameAirflow, RotateOptions{})
	if res.Outcome != "rotated" || res.Reason != "age" || res.Version != 2 {
		t.Fatalf("Rotate = %+v (%v)", res, res.Err)
	}
	cur := e.current()
	if len(cur.Value) < 40 || string(cur.Value) == svcPassword {
		t.Fatalf("new password is weak or unchanged (%d chars)", len(cur.Value))
	}
	if got := e.status(svcPassword); got != http.StatusUnauthorized {
		t.Fatalf("old password answered %d, want 401", got)
	}
	if got := e.status(string(cur.Value)); got != http.StatusOK {
		t.Fatalf("new password answered %d", got)
	}
	if old, _ := e.store.Get(ctx, NameAirflow, 1); old.State != secrets.StateRetired || old.Value != nil {
		t.Fatalf("old version = %+v", old)
	}
}

func TestAirflowCrashRecovery(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		step        string
		wantVersion int // the active version after recovery
	}{
		{"before-change", 1}, // Airflow never heard of it: rolled back
		{"after-change", 2},  // Airflow has it: rolled forward
		{"before-switch", 2},
	} {
		t.Run(tc.step, func(t *testing.T) {
			armed := &flag{}
			armed.set(true)
			e := newAirflowEnv(t, func(step string) error {
				if armed.get() && step == tc.step {
					panic("injected crash")
				}
				return nil
			})
			if res := e.mgr.Rotate(ctx, NameAirflow, RotateOptions{Force: true}); res.Outcome != "failed" {
				t.Fatalf("Rotate = %+v", res)
			}
			armed.set(false)
			res := e.mgr.Rotate(ctx, NameAirflow, RotateOptions{})
			if res.Err != nil || res.Version != tc.wantVersion {
				t.Fatalf("recovery = %+v (%v), want version %d", res, res.Err, tc.wantVersion)
			}
			if got := e.status(string(e.current().Value)); got != http.StatusOK {
				t.Fatalf("current password answered %d after recovery", got)
			}
			if lat, _ := e.store.Get(ctx, NameAirflow, secrets.Latest); lat.Version != tc.wantVersion {
				t.Fatalf("a version is left pending: latest %d", lat.Version)
			}
		})
	}
}

func TestAirflowRefusalKeepsOldPassword(t *testing.T) {
	ctx := context.Background()
	e := newAirflowEnv(t, nil)
	e.rot.o.Username = "nobody" // PATCH answers 401: nothing changes
	res := e.mgr.Rotate(ctx, NameAirflow, RotateOptions{Force: true})
	var he *httpError
	if res.Outcome != "failed" || !errors.As(res.Err, &he) {
		t.Fatalf("Rotate = %+v (%v)", res, res.Err)
	}
	if e.current().Version != 1 || e.status(svcPassword) != http.StatusOK {
		t.Fatal("the old password no longer works after a refused rotation")
	}
	if st, _ := e.mgr.Status(ctx); st[0].Pending != "" {
		t.Fatalf("an intent is left open: %+v", st[0])
	}
}
