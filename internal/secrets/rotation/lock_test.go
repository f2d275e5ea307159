package rotation

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/sqlstore"
)

// slowRotator counts rotations running at once.
type slowRotator struct {
	running, peak, total atomic.Int32
	hold                 time.Duration
}

func (s *slowRotator) Name() string { return "slow" }
func (s *slowRotator) Status(ctx context.Context) (Status, error) {
	return Status{Name: "slow", Kind: "test", Version: int(s.total.Load()) + 1}, nil
}
func (s *slowRotator) Due(Status, time.Time) bool { return false }
func (s *slowRotator) Rotate(ctx context.Context, plan Plan) error {
	n := s.running.Add(1)
	defer s.running.Add(-1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(s.hold)
	s.total.Add(1)
	return plan.Intent.Done(ctx)
}
func (s *slowRotator) Recover(ctx context.Context, in *Intent) error { return in.Done(ctx) }

func lockBackends(t *testing.T) map[string]func(t *testing.T) (*sqlstore.DB, *sqlstore.DB) {
	out := map[string]func(t *testing.T) (*sqlstore.DB, *sqlstore.DB){
		"sqlite": func(t *testing.T) (*sqlstore.DB, *sqlstore.DB) {
			path := filepath.Join(t.TempDir(), "state.db")
			return openPath(t, path), openPath(t, path)
		},
	}
	if dsn := os.Getenv("AIRGATE_TEST_POSTGRES"); dsn != "" {
		out["postgres"] = func(t *testing.T) (*sqlstore.DB, *sqlstore.DB) { return openPath(t, dsn), openPath(t, dsn) }
	} else if os.Getenv("CI") == "true" {
		t.Error("AIRGATE_TEST_POSTGRES is not set in CI")
	}
	return out
}

func openPath(t *testing.T, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Two replicas (two connections pools, as two processes have) rotating one
// secret at once run one after the other.
func TestLockSerializesReplicas(t *testing.T) {
	ctx := context.Background()
	for name, open := range lockBackends(t) {
		t.Run(name, func(t *testing.T) {
			dbA, dbB := open(t)
			rot := &slowRotator{hold: 150 * time.Millisecond}
			var managers []*Manager
			for _, db := range []*sqlstore.DB{dbA, dbB} {
				m, err := New(ctx, Options{DB: db, Rotators: []Rotator{rot}, Logger: testLogger()})
				if err != nil {
					t.Fatal(err)
				}
				managers = append(managers, m)
			}
			// Clear state left by an earlier PostgreSQL run.
			_, _ = dbA.Exec(`DELETE FROM airgate_rotation_intents WHERE secret = 'slow'`)
			var wg sync.WaitGroup
			results := make([]Result, 4)
			for i := range results {
				wg.Go(func() {
					results[i] = managers[i%2].Rotate(ctx, "slow", RotateOptions{Force: true, Wait: true})
				})
			}
			// While they run, a scheduler pass finds the lock busy.
			time.Sleep(50 * time.Millisecond)
			if busy := managers[0].Rotate(ctx, "slow", RotateOptions{Force: true}); busy.Outcome != "busy" {
				t.Errorf("non-waiting Rotate while another runs = %+v, want busy", busy)
			}
			wg.Wait()
			for _, r := range results {
				if r.Outcome != "rotated" {
					t.Fatalf("result %+v (%v)", r, r.Err)
				}
			}
			if rot.peak.Load() != 1 || rot.total.Load() != 4 {
				t.Fatalf("peak concurrency %d over %d rotations, want 1 over 4", rot.peak.Load(), rot.total.Load())
			}
		})
	}
}

// A lease left by a dead process expires.
func TestSQLiteLeaseExpires(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	st, err := OpenState(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO airgate_rotation_leases (secret, holder, expires_ns) VALUES ('x', 'dead', ?)`, time.Now().Add(-time.Second).UnixNano()); err != nil {
		t.Fatal(err)
	}
	release, err := st.lock(ctx, "x", false)
	if err != nil {
		t.Fatalf("lock over an expired lease: %v", err)
	}
	other, _ := OpenState(ctx, db, nil)
	if _, err := other.lock(ctx, "x", false); err != ErrBusy {
		t.Fatalf("second holder: %v, want ErrBusy", err)
	}
	release()
	r2, err := other.lock(ctx, "x", false)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	r2()
}
