package session

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/sqlstore"
)

// stateDBs returns the state databases to test against: SQLite always,
// PostgreSQL when AIRGATE_TEST_POSTGRES names one (required in CI).
func stateDBs(t *testing.T) map[string]string {
	t.Helper()
	dsns := map[string]string{"sqlite": filepath.Join(t.TempDir(), "state.db")}
	if pg := os.Getenv("AIRGATE_TEST_POSTGRES"); pg != "" {
		dsns["postgres"] = pg
	} else if os.Getenv("CI") == "true" {
		t.Fatal("AIRGATE_TEST_POSTGRES is not set in CI")
	}
	return dsns
}

func openDB(t *testing.T, dsn string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestRevocation(t *testing.T) {
	for name, dsn := range stateDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := newClock()
			// Two replicas on one database.
			a, err := OpenStore(ctx, openDB(t, dsn), StoreOptions{CacheTTL: 5 * time.Second, Now: c.now})
			if err != nil {
				t.Fatal(err)
			}
			b, err := OpenStore(ctx, openDB(t, dsn), StoreOptions{CacheTTL: 5 * time.Second, Now: c.now})
			if err != nil {
				t.Fatal(err)
			}
			// Unique users: the PostgreSQL database is shared between runs.
			sess := testSession(c, 0)
			sess.Principal.ObjectID = NewID()
			sess.Principal.UPN = "Alice." + NewID() + "@Airgate.example"
			other := testSession(c, 0)
			other.Principal.ObjectID = NewID()
			for _, st := range []*Store{a, b} {
				if err := st.Check(ctx, sess); err != nil {
					t.Fatalf("fresh session: Check() = %v", err)
				}
			}

			// Sign-out ends one session, at once here, within the cache
			// interval on the other replica.
			c.advance(time.Second)
			if err := a.RevokeSession(ctx, sess.Fingerprint(), sess.Expiry, "sign-out"); err != nil {
				t.Fatal(err)
			}
			if err := a.Check(ctx, sess); !errors.Is(err, ErrRevoked) {
				t.Errorf("writer replica: Check() = %v, want ErrRevoked at once", err)
			}
			if err := b.Check(ctx, sess); err != nil {
				t.Errorf("other replica within its cache interval: Check() = %v (the copy is cached)", err)
			}
			c.advance(5 * time.Second)
			if err := b.Check(ctx, sess); !errors.Is(err, ErrRevoked) {
				t.Errorf("other replica after the cache interval: Check() = %v, want ErrRevoked", err)
			}
			if err := b.Check(ctx, other); err != nil {
				t.Errorf("another session: Check() = %v", err)
			}

			// An administrator revokes a user by UPN, in another case.
			older := testSession(c, 0)
			older.Principal = sess.Principal
			c.advance(time.Minute)
			if err := b.RevokeUser(ctx, strings.ToUpper(sess.Principal.UPN), c.now().Add(8*time.Hour), "dave@airgate.example"); err != nil {
				t.Fatal(err)
			}
			if err := b.Check(ctx, older); !errors.Is(err, ErrRevoked) {
				t.Errorf("user's session issued before the revocation: Check() = %v, want ErrRevoked", err)
			}
			c.advance(time.Second)
			newer := testSession(c, 0)
			newer.Principal = sess.Principal
			if err := b.Check(ctx, newer); err != nil {
				t.Errorf("user's session issued after the revocation: Check() = %v, want it to stand", err)
			}
			// By object id.
			if err := a.RevokeUser(ctx, other.Principal.ObjectID, c.now().Add(8*time.Hour), "admin"); err != nil {
				t.Fatal(err)
			}
			if err := a.Check(ctx, other); !errors.Is(err, ErrRevoked) {
				t.Errorf("revoked by object id: Check() = %v, want ErrRevoked", err)
			}

			// Entries are forgotten once nothing they match can be alive.
			c.advance(9 * time.Hour)
			if err := a.RevokeSession(ctx, "session:prune-trigger-"+NewID(), c.now().Add(time.Hour), "test"); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := a.db.QueryRowContext(ctx, a.db.Rebind(`SELECT COUNT(*) FROM session_revocations WHERE entry = ?`), sessionKey(sess.Fingerprint())).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("an expired revocation is still stored")
			}
		})
	}
}

func TestRevocationFailsClosed(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	db := openDB(t, filepath.Join(t.TempDir(), "state.db"))
	st, err := OpenStore(ctx, db, StoreOptions{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	sess := testSession(c, 0)
	if err := st.Check(ctx, sess); err != nil {
		t.Fatal(err)
	}
	db.Close()
	c.advance(time.Minute)
	err = st.Check(ctx, sess)
	if err == nil || errors.Is(err, ErrRevoked) {
		t.Errorf("Check() with the database gone = %v, want a technical error (the caller refuses)", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := st.Check(cctx, sess); err == nil {
		t.Error("Check() with a cancelled context succeeded without a fresh list")
	}
}

func TestRevokeRejectsEmpty(t *testing.T) {
	st, err := OpenStore(context.Background(), openDB(t, filepath.Join(t.TempDir(), "s.db")), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RevokeUser(context.Background(), "", time.Now(), ""); err == nil {
		t.Error("RevokeUser(\"\") succeeded")
	}
	if err := st.RevokeSession(context.Background(), "", time.Now(), ""); err == nil {
		t.Error("RevokeSession(\"\") succeeded")
	}
}
