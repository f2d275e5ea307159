package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/airgate/airgate/internal/sqlstore"
)

// Store is the revocation list in the state database: session
// fingerprints ended by sign-out, and users (UPN or object id) whose
// sessions an administrator revoked. Every replica reads the whole list
// again once its copy is older than the cache interval, so a revocation
// takes effect everywhere within that interval (and at once on the replica
// that wrote it). Entries are forgotten once every session they could
// match has expired. It is safe for concurrent use.
type Store struct {
	db  *sqlstore.DB
	ttl time.Duration
	now func() time.Time

	snap atomic.Pointer[snapshot]
	sf   singleflight.Group

	mu sync.Mutex // guards gen and the replacement of snap
	// gen counts local revocations; a load that started before one does
	// not become the cached copy.
	gen int64
}

// StoreOptions configure a Store.
type StoreOptions struct {
	// CacheTTL is how long a copy of the list is used; default 5s.
	CacheTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

type snapshot struct {
	at      time.Time
	revoked map[string]int64 // key -> revoked_at (unix nanoseconds)
}

const schema = `CREATE TABLE IF NOT EXISTS session_revocations (
	entry TEXT PRIMARY KEY,
	revoked_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	revoked_by TEXT NOT NULL DEFAULT ''
)`

// OpenStore prepares the revocation table in db (created when missing).
// The caller keeps ownership of db.
func OpenStore(ctx context.Context, db *sqlstore.DB, o StoreOptions) (*Store, error) {
	if o.CacheTTL <= 0 {
		o.CacheTTL = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var err error
	// Two replicas creating the table at once can collide in PostgreSQL's
	// catalog; the second attempt sees the table.
	for range 2 {
		if _, err = db.ExecContext(ctx, schema); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("session: creating the revocation table: %w", err)
	}
	return &Store{db: db, ttl: o.CacheTTL, now: o.Now}, nil
}

func sessionKey(fingerprint string) string { return "s:" + fingerprint }
func userKey(user string) string           { return "u:" + strings.ToLower(user) }

// RevokeSession ends one session everywhere. until is the session's Expiry
// (the entry is kept that long); by names who revoked it, for operators.
func (s *Store) RevokeSession(ctx context.Context, fingerprint string, until time.Time, by string) error {
	if fingerprint == "" {
		return errors.New("session: empty session fingerprint")
	}
	return s.put(ctx, sessionKey(fingerprint), until, by)
}

// RevokeUser ends every session of a user issued up to now, on every
// replica; the user may sign in again afterwards. user is a UPN or an
// object id, matched case-insensitively. until must be at least now plus
// the longest session lifetime.
func (s *Store) RevokeUser(ctx context.Context, user string, until time.Time, by string) error {
	if user == "" || len(user) > 256 {
		return errors.New("session: user must be a UPN or object id")
	}
	return s.put(ctx, userKey(user), until, by)
}

func (s *Store) put(ctx context.Context, key string, until time.Time, by string) error {
	now := s.now()
	q := s.db.Rebind(`INSERT INTO session_revocations (entry, revoked_at, expires_at, revoked_by) VALUES (?, ?, ?, ?)
ON CONFLICT (entry) DO UPDATE SET revoked_at = excluded.revoked_at, revoked_by = excluded.revoked_by,
expires_at = CASE WHEN excluded.expires_at > session_revocations.expires_at THEN excluded.expires_at ELSE session_revocations.expires_at END`)
	if _, err := s.db.ExecContext(ctx, q, key, now.UnixNano(), until.UnixNano(), by); err != nil {
		return fmt.Errorf("session: recording a revocation: %w", err)
	}
	// Forget what can no longer match; a failure here changes nothing.
	_, _ = s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM session_revocations WHERE expires_at < ?`), now.UnixNano())
	// This replica honours the revocation at once.
	s.mu.Lock()
	s.gen++
	s.snap.Store(nil)
	s.mu.Unlock()
	return nil
}

// Check returns ErrRevoked when sess was signed out or its user's sessions
// were revoked after it was issued, nil when it stands, and any other
// error when the list could not be read (the caller MUST refuse the
// session).
func (s *Store) Check(ctx context.Context, sess *Session) error {
	snap, err := s.current(ctx)
	if err != nil {
		return err
	}
	if _, ok := snap.revoked[sessionKey(sess.Fingerprint())]; ok {
		return ErrRevoked
	}
	issued := sess.IssuedAt.UnixNano()
	if p := sess.Principal; p != nil {
		for _, u := range []string{p.ObjectID, p.UPN} {
			if u == "" {
				continue
			}
			if at, ok := snap.revoked[userKey(u)]; ok && at >= issued {
				return ErrRevoked
			}
		}
	}
	return nil
}

// current returns a copy of the list no older than the cache interval,
// reading it once for all concurrent callers.
func (s *Store) current(ctx context.Context) (*snapshot, error) {
	if snap := s.snap.Load(); snap != nil && s.now().Sub(snap.at) < s.ttl {
		return snap, nil
	}
	ch := s.sf.DoChan("load", func() (any, error) {
		// Detached from the first caller's cancellation: others wait too.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return s.load(lctx)
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*snapshot), nil
	}
}

func (s *Store) load(ctx context.Context) (*snapshot, error) {
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()
	now := s.now()
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT entry, revoked_at FROM session_revocations WHERE expires_at >= ?`), now.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("session: reading revocations: %w", err)
	}
	defer rows.Close()
	snap := &snapshot{at: now, revoked: map[string]int64{}}
	for rows.Next() {
		var k string
		var at int64
		if err := rows.Scan(&k, &at); err != nil {
			return nil, fmt.Errorf("session: reading revocations: %w", err)
		}
		snap.revoked[k] = at
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("session: reading revocations: %w", err)
	}
	s.mu.Lock()
	if s.gen == gen {
		s.snap.Store(snap)
	}
	s.mu.Unlock()
	return snap, nil
}
