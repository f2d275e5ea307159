package tokens

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/sqlstore"
)

// stateDSNs returns a fresh SQLite database and, when AIRGATE_TEST_POSTGRES
// is set, a fresh schema in the PostgreSQL test database.
func stateDSNs(t *testing.T) map[string]string {
	t.Helper()
	dsns := map[string]string{"sqlite": filepath.Join(t.TempDir(), "state.db")}
	pg := os.Getenv("AIRGATE_TEST_POSTGRES")
	if pg == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("AIRGATE_TEST_POSTGRES is not set in CI")
		}
		return dsns
	}
	db, err := sqlstore.Open(context.Background(), pg)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "tokens_test_" + hex.EncodeToString(b[:])
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		db.Close()
	})
	sep := "?"
	if strings.Contains(pg, "?") {
		sep = "&"
	}
	dsns["postgres"] = pg + sep + "search_path=" + schema
	return dsns
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openStore(t *testing.T, dsn string, maxStale time.Duration, c *clock) *Store {
	t.Helper()
	s, err := OpenStore(context.Background(), dsn, StoreOptions{MaxStale: maxStale, Now: c.now, NoPoller: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStoreRevocations(t *testing.T) {
	ctx := context.Background()
	for name, dsn := range stateDSNs(t) {
		t.Run(name, func(t *testing.T) {
			ca, cb := &clock{t: testNow}, &clock{t: testNow}
			a := openStore(t, dsn, time.Second, ca)
			b := openStore(t, dsn, time.Second, cb) // another replica
			strict := openStore(t, dsn, 0, &clock{t: testNow})
			issued := testNow.Add(-time.Minute)
			ids := []string{"sub-oid", "app-id", "bob@airgate.example", "actor-oid", "actor-app"}

			for _, s := range []*Store{a, b, strict} {
				if r, err := s.Revoked(ctx, "j1", ids, issued); err != nil || r {
					t.Fatalf("fresh store: Revoked = %v, %v", r, err)
				}
			}
			gen := a.Generation()
			if err := a.RevokeJTI(ctx, "j1", "test", time.Hour); err != nil {
				t.Fatal(err)
			}
			if a.Generation() != gen+1 {
				t.Errorf("generation %d after one revocation from %d", a.Generation(), gen)
			}
			// The revoking replica sees it at once; so does a strict one.
			if r, _ := a.Revoked(ctx, "j1", ids, issued); !r {
				t.Error("revoking replica still accepts the token")
			}
			if r, _ := strict.Revoked(ctx, "j1", ids, issued); !r {
				t.Error("strict replica still accepts the token")
			}
			// Another replica may answer from a copy younger than MaxStale
			// (the documented bound), and not a moment longer.
			if r, _ := b.Revoked(ctx, "j1", ids, issued); r {
				t.Log("replica b saw the revocation within its staleness bound")
			}
			cb.add(time.Second)
			if r, err := b.Revoked(ctx, "j1", ids, issued); err != nil || !r {
				t.Errorf("replica b after MaxStale: Revoked = %v, %v", r, err)
			}

			// Subject revocations cover tokens issued up to the revocation,
			// by any of the subject's or actor's ids, without case.
			if err := b.RevokeSubject(ctx, "BOB@airgate.example", "left the company", time.Hour); err != nil {
				t.Fatal(err)
			}
			if r, _ := b.Revoked(ctx, "j2", ids, issued); !r {
				t.Error("token of the revoked subject accepted")
			}
			if r, _ := b.Revoked(ctx, "j3", ids, testNow.Add(time.Minute)); r {
				t.Error("token issued after the subject revocation refused")
			}
			if err := b.RevokeSubject(ctx, "actor-app", "agent compromised", time.Hour); err != nil {
				t.Fatal(err)
			}
			if r, _ := b.Revoked(ctx, "j4", []string{"someone", "actor-app"}, issued); !r {
				t.Error("token acted by the revoked agent accepted")
			}
			if r, _ := b.Revoked(ctx, "j4", []string{"someone", "else"}, issued); r {
				t.Error("unrelated token refused")
			}
			ca.add(time.Second)
			if r, _ := a.Revoked(ctx, "j5", []string{"actor-app"}, issued); !r {
				t.Error("replica a missed b's revocation after MaxStale")
			}

			// Expired revocations are pruned and forgotten.
			if err := a.prune(ctx, testNow.Add(2*time.Hour)); err != nil {
				t.Fatal(err)
			}
			ca.add(2 * time.Hour)
			if err := a.RevokeJTI(ctx, "j9", "", time.Hour); err != nil {
				t.Fatal(err)
			}
			if r, _ := a.Revoked(ctx, "j1", ids, issued); r {
				t.Error("pruned revocation still applies")
			}
		})
	}
}

func TestStoreMarkUsed(t *testing.T) {
	ctx := context.Background()
	for name, dsn := range stateDSNs(t) {
		t.Run(name, func(t *testing.T) {
			c := &clock{t: testNow}
			a, b := openStore(t, dsn, time.Second, c), openStore(t, dsn, time.Second, c)
			if fresh, err := a.MarkUsed(ctx, "hash-1", testNow.Add(time.Hour)); err != nil || !fresh {
				t.Fatalf("first use = %v, %v", fresh, err)
			}
			if fresh, err := b.MarkUsed(ctx, "hash-1", testNow.Add(time.Hour)); err != nil || fresh {
				t.Errorf("second use on another replica = %v, %v", fresh, err)
			}
			// Many concurrent first uses of one token: exactly one wins.
			var wins int
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func(s *Store) {
					defer wg.Done()
					fresh, err := s.MarkUsed(ctx, "hash-2", testNow.Add(time.Hour))
					if err != nil {
						t.Error(err)
					}
					if fresh {
						mu.Lock()
						wins++
						mu.Unlock()
					}
				}([]*Store{a, b}[i%2])
			}
			wg.Wait()
			if wins != 1 {
				t.Errorf("%d concurrent first uses won, want 1", wins)
			}
		})
	}
}

func TestStoreFailsClosed(t *testing.T) {
	c := &clock{t: testNow}
	s, err := OpenStore(context.Background(), filepath.Join(t.TempDir(), "state.db"), StoreOptions{MaxStale: time.Second, Now: c.now, NoPoller: true})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.Revoked(context.Background(), "j", nil, testNow); err != nil || r {
		t.Fatalf("Revoked = %v, %v", r, err)
	}
	s.db.Close() // the database goes away
	c.add(2 * time.Second)
	if _, err := s.Revoked(context.Background(), "j", nil, testNow); !errors.Is(err, ErrRevocationUnavailable) {
		t.Errorf("stale copy without a database: %v, want ErrRevocationUnavailable", err)
	}
}

func TestStorePollerAndClose(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "state.db")
	s, err := OpenStore(context.Background(), dsn, StoreOptions{MaxStale: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	other, err := OpenStore(context.Background(), dsn, StoreOptions{NoPoller: true})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.RevokeJTI(context.Background(), "j", "", time.Hour); err != nil {
		t.Fatal(err)
	}
	// The poller picks the revocation up without any check asking.
	deadline := time.Now().Add(5 * time.Second)
	for s.Generation() != other.Generation() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if s.Generation() != other.Generation() {
		t.Errorf("poller did not refresh: generation %d, want %d", s.Generation(), other.Generation())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	default:
		t.Error("poller still running after Close")
	}
}
