package tokens

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/airgate/airgate/internal/sqlstore"
)

// Store is the exchange's shared state in the state database (SQLite, or
// PostgreSQL shared by every replica): revocations of exchanged tokens, by
// jti or by subject, and the subject tokens already exchanged. It is safe
// for concurrent use. Close it to stop its background work.
//
// Revocation checks read an in-memory copy of the active revocations,
// refreshed whenever the database's revocation generation (a counter every
// revocation increments in the same transaction) changes. A Check never
// answers from a copy older than MaxStale: it re-reads the generation
// first, and fails (the caller denies) if it cannot. A background poller
// keeps the copy fresh so that checks rarely wait. A revocation made
// through this Store is visible to its own checks at once; one made
// elsewhere (another replica, `airgate tokens revoke`) within MaxStale plus
// one database round trip.
type Store struct {
	db       *sqlstore.DB
	now      func() time.Time
	maxStale time.Duration
	sf       singleflight.Group
	stop     chan struct{}
	done     chan struct{}
	closeMu  sync.Once

	mu sync.RWMutex // guards the fields below
	// gen is the revocation generation the maps reflect.
	gen    int64
	synced time.Time
	// jtis maps a revoked jti to when its revocation may be forgotten.
	jtis map[string]time.Time
	// subjects maps a revoked subject (lower case) to the latest time
	// tokens issued up to were revoked.
	subjects map[string]time.Time
}

// StoreOptions configure a [Store].
type StoreOptions struct {
	// MaxStale bounds how old the revocation copy may be when a token is
	// checked. Zero reads the generation from the database on every
	// check (no caching).
	MaxStale time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// NoPoller disables the background refresh and pruning (commands
	// that only revoke).
	NoPoller bool
}

// OpenStore opens the state database at dsn (see sqlstore.Open), creates
// the exchange's tables if needed and loads the revocations.
func OpenStore(ctx context.Context, dsn string, o StoreOptions) (*Store, error) {
	db, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Store{db: db, now: o.Now, maxStale: o.MaxStale, jtis: map[string]time.Time{}, subjects: map[string]time.Time{},
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.sync(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if o.NoPoller {
		close(s.done)
	} else {
		go s.poll()
	}
	return s, nil
}

// migrateLock is the PostgreSQL advisory lock key serializing migrations
// of these tables between replicas starting together.
const migrateLock = 0x61697267_746f6b31 // "airgtok1"

var schema = []string{
	`CREATE TABLE IF NOT EXISTS token_revocations (
		kind       TEXT   NOT NULL,
		value      TEXT   NOT NULL,
		revoked_at BIGINT NOT NULL,
		expires_at BIGINT NOT NULL,
		reason     TEXT   NOT NULL DEFAULT '',
		PRIMARY KEY (kind, value, revoked_at)
	)`,
	`CREATE TABLE IF NOT EXISTS token_state (
		id         INTEGER PRIMARY KEY,
		generation BIGINT  NOT NULL
	)`,
	`INSERT INTO token_state (id, generation) VALUES (1, 0) ON CONFLICT (id) DO NOTHING`,
	`CREATE TABLE IF NOT EXISTS token_exchange_used (
		token_hash TEXT   PRIMARY KEY,
		expires_at BIGINT NOT NULL
	)`,
}

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("tokens: migrating state: %w", err)
	}
	defer tx.Rollback()
	if s.db.Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
			return fmt.Errorf("tokens: migrating state: %w", err)
		}
	}
	for _, q := range schema {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("tokens: migrating state: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("tokens: migrating state: %w", err)
	}
	return nil
}

// Close stops the poller and closes the database.
func (s *Store) Close() error {
	s.closeMu.Do(func() {
		select {
		case <-s.done:
		default:
			close(s.stop)
			<-s.done
		}
	})
	return s.db.Close()
}

// poll refreshes the copy every MaxStale/2 (at least every 100 ms, at most
// every second) and prunes expired rows every minute.
func (s *Store) poll() {
	defer close(s.done)
	every := s.maxStale / 2
	if every < 100*time.Millisecond {
		every = 100 * time.Millisecond
	}
	if every > time.Second {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.refresh(ctx) // a failed refresh makes checks re-read, and fail closed
		if now := s.now(); now.Sub(lastPrune) >= time.Minute {
			_ = s.prune(ctx, now)
			lastPrune = now
		}
		cancel()
	}
}

// prune deletes revocations and used-token records past their expiry.
func (s *Store) prune(ctx context.Context, now time.Time) error {
	ms := now.UnixMilli()
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM token_exchange_used WHERE expires_at < ?`), ms); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM token_revocations WHERE expires_at < ?`), ms)
	return err
}

// refresh re-reads the generation (once for all concurrent callers) and
// reloads the revocations when it changed.
func (s *Store) refresh(ctx context.Context) error {
	ch := s.sf.DoChan("sync", func() (any, error) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return nil, s.sync(sctx)
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) sync(ctx context.Context) error {
	start := s.now()
	var gen int64
	if err := s.db.QueryRowContext(ctx, `SELECT generation FROM token_state WHERE id = 1`).Scan(&gen); err != nil {
		return fmt.Errorf("tokens: reading the revocation generation: %w", err)
	}
	s.mu.RLock()
	same := gen == s.gen && !s.synced.IsZero()
	s.mu.RUnlock()
	if same {
		s.mu.Lock()
		if start.After(s.synced) {
			s.synced = start
		}
		s.mu.Unlock()
		return nil
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT kind, value, revoked_at, expires_at FROM token_revocations WHERE expires_at >= ?`), start.UnixMilli())
	if err != nil {
		return fmt.Errorf("tokens: reading revocations: %w", err)
	}
	defer rows.Close()
	jtis, subjects := map[string]time.Time{}, map[string]time.Time{}
	for rows.Next() {
		var kind, value string
		var revoked, expires int64
		if err := rows.Scan(&kind, &value, &revoked, &expires); err != nil {
			return fmt.Errorf("tokens: reading revocations: %w", err)
		}
		switch kind {
		case revokeJTI:
			jtis[value] = time.UnixMilli(expires)
		case revokeSubject:
			if at := time.UnixMilli(revoked); at.After(subjects[value]) {
				subjects[value] = at
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("tokens: reading revocations: %w", err)
	}
	s.mu.Lock()
	if gen >= s.gen {
		s.gen, s.jtis, s.subjects, s.synced = gen, jtis, subjects, start
	}
	s.mu.Unlock()
	return nil
}

// Revocation kinds as stored.
const (
	revokeJTI     = "jti"
	revokeSubject = "subject"
)

// ErrRevocationUnavailable means the revocation state could not be read
// fresh enough: the caller MUST deny the token (fail closed).
var ErrRevocationUnavailable = errors.New("tokens: revocation state unavailable")

// Revoked reports whether a token is revoked: its jti is, or one of ids
// (the subject's and actor's object ids, app ids, UPNs) was revoked at or
// after issuedAt. It returns an error wrapping ErrRevocationUnavailable
// when the copy is older than MaxStale and cannot be refreshed.
func (s *Store) Revoked(ctx context.Context, jti string, ids []string, issuedAt time.Time) (bool, error) {
	s.mu.RLock()
	synced := s.synced
	s.mu.RUnlock()
	if s.maxStale <= 0 || s.now().Sub(synced) >= s.maxStale {
		if err := s.refresh(ctx); err != nil {
			return false, fmt.Errorf("%w: %w", ErrRevocationUnavailable, err)
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.jtis[jti]; ok {
		return true, nil
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		if at, ok := s.subjects[strings.ToLower(id)]; ok && !at.Before(issuedAt) {
			return true, nil
		}
	}
	return false, nil
}

// RevokeJTI revokes the token with this jti; the record is kept until
// forget (at least the longest lifetime a token may have had).
func (s *Store) RevokeJTI(ctx context.Context, jti, reason string, forget time.Duration) error {
	if jti == "" {
		return errors.New("tokens: empty jti")
	}
	return s.revoke(ctx, revokeJTI, jti, reason, forget)
}

// RevokeSubject revokes every token issued up to now whose subject or actor
// is id (an object id, app id or UPN, compared without case); tokens
// exchanged later are not affected. The record is kept until forget.
func (s *Store) RevokeSubject(ctx context.Context, id, reason string, forget time.Duration) error {
	if id == "" {
		return errors.New("tokens: empty subject")
	}
	return s.revoke(ctx, revokeSubject, strings.ToLower(id), reason, forget)
}

func (s *Store) revoke(ctx context.Context, kind, value, reason string, forget time.Duration) error {
	now := s.now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("tokens: revoking: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO token_revocations (kind, value, revoked_at, expires_at, reason) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		kind, value, now.UnixMilli(), now.Add(forget).UnixMilli(), truncate(reason, 500)); err != nil {
		return fmt.Errorf("tokens: revoking: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE token_state SET generation = generation + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("tokens: revoking: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("tokens: revoking: %w", err)
	}
	// Visible to this process's checks at once.
	return s.sync(ctx)
}

// MarkUsed records a subject token's hash until expires and reports
// whether it was not recorded before. It implements [UsedTokens].
func (s *Store) MarkUsed(ctx context.Context, hash string, expires time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO token_exchange_used (token_hash, expires_at) VALUES (?, ?) ON CONFLICT (token_hash) DO NOTHING`),
		hash, expires.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("tokens: recording a used subject token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("tokens: recording a used subject token: %w", err)
	}
	return n == 1, nil
}

// Generation returns the revocation generation the copy reflects, for
// tests and metrics.
func (s *Store) Generation() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.gen
}

var _ UsedTokens = (*Store)(nil)
