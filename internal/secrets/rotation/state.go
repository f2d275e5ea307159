package rotation

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/airgate/airgate/internal/sqlstore"
)

// State is the rotation state shared by every replica in the state
// database: open intents, the last result of each secret, and (on SQLite)
// the lock leases. It is safe for concurrent use.
type State struct {
	db  *sqlstore.DB
	now func() time.Time
	// holder names this process in lease rows.
	holder string
}

// OpenState creates the rotation tables if needed. The caller keeps
// ownership of db.
func OpenState(ctx context.Context, db *sqlstore.DB, now func() time.Time) (*State, error) {
	if now == nil {
		now = time.Now
	}
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS airgate_rotation_intents (
			secret TEXT PRIMARY KEY,
			id TEXT NOT NULL,
			reason TEXT NOT NULL,
			step TEXT NOT NULL,
			data TEXT NOT NULL,
			started_ns BIGINT NOT NULL,
			updated_ns BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS airgate_rotation_results (
			secret TEXT PRIMARY KEY,
			attempt_ns BIGINT NOT NULL,
			result TEXT NOT NULL,
			error TEXT NOT NULL,
			version INTEGER NOT NULL,
			failures INTEGER NOT NULL,
			next_try_ns BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS airgate_rotation_leases (
			secret TEXT PRIMARY KEY,
			holder TEXT NOT NULL,
			expires_ns BIGINT NOT NULL)`,
	} {
		if err := execRetry(ctx, db, q); err != nil {
			return nil, fmt.Errorf("rotation: creating tables: %w", err)
		}
	}
	return &State{db: db, now: now, holder: randomID()}, nil
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newIntent persists a fresh intent with step "begin".
func (s *State) newIntent(ctx context.Context, secret, reason string) (*Intent, error) {
	in := &Intent{Secret: secret, ID: randomID(), Reason: reason, Started: s.now().UTC(), state: s}
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO airgate_rotation_intents (secret, id, reason, step, data, started_ns, updated_ns) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		secret, in.ID, reason, "begin", "{}", in.Started.UnixNano(), in.Started.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("rotation: recording the intent: %w", err)
	}
	in.step, in.data = "begin", map[string]string{}
	return in, nil
}

// loadIntent returns the open intent of secret, or nil.
func (s *State) loadIntent(ctx context.Context, secret string) (*Intent, error) {
	var (
		in            = &Intent{Secret: secret, state: s}
		data          string
		started, _upd int64
	)
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT id, reason, step, data, started_ns, updated_ns FROM airgate_rotation_intents WHERE secret = ?`), secret).
		Scan(&in.ID, &in.Reason, &in.step, &data, &started, &_upd)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rotation: reading the intent: %w", err)
	}
	if err := json.Unmarshal([]byte(data), &in.data); err != nil {
		return nil, fmt.Errorf("rotation: decoding the intent of %s: %w", secret, err)
	}
	in.Started = time.Unix(0, started).UTC()
	return in, nil
}

func (s *State) saveIntent(ctx context.Context, in *Intent, step string, data map[string]string) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE airgate_rotation_intents SET step = ?, data = ?, updated_ns = ? WHERE secret = ? AND id = ?`),
		step, string(b), s.now().UnixNano(), in.Secret, in.ID)
	if err != nil {
		return fmt.Errorf("rotation: recording step %s: %w", step, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("rotation: recording step %s: the intent of %s is gone", step, in.Secret)
	}
	return nil
}

func (s *State) deleteIntent(ctx context.Context, in *Intent) error {
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM airgate_rotation_intents WHERE secret = ? AND id = ?`), in.Secret, in.ID); err != nil {
		return fmt.Errorf("rotation: closing the intent: %w", err)
	}
	return nil
}

// result is the last attempt at rotating one secret.
type result struct {
	attempt  time.Time
	result   string
	err      string
	version  int
	failures int
	nextTry  time.Time
}

func (s *State) loadResult(ctx context.Context, secret string) (result, error) {
	var r result
	var attempt, next int64
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT attempt_ns, result, error, version, failures, next_try_ns FROM airgate_rotation_results WHERE secret = ?`), secret).
		Scan(&attempt, &r.result, &r.err, &r.version, &r.failures, &next)
	if errors.Is(err, sql.ErrNoRows) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("rotation: reading the last result: %w", err)
	}
	r.attempt = time.Unix(0, attempt).UTC()
	if next != 0 {
		r.nextTry = time.Unix(0, next).UTC()
	}
	return r, nil
}

func (s *State) saveResult(ctx context.Context, secret string, r result) error {
	var next int64
	if !r.nextTry.IsZero() {
		next = r.nextTry.UnixNano()
	}
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO airgate_rotation_results (secret, attempt_ns, result, error, version, failures, next_try_ns) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (secret) DO UPDATE SET attempt_ns = excluded.attempt_ns, result = excluded.result, error = excluded.error,
		version = excluded.version, failures = excluded.failures, next_try_ns = excluded.next_try_ns`),
		secret, r.attempt.UnixNano(), r.result, r.err, r.version, r.failures, next)
	if err != nil {
		return fmt.Errorf("rotation: recording the result: %w", err)
	}
	return nil
}

// lockTTL is how long a SQLite lease lasts without renewal; the holder
// renews it every lockTTL/3 while it works.
const lockTTL = 30 * time.Second

// lock takes secret's rotation lock: a session-level advisory lock on
// PostgreSQL (released by the server if this process dies), a lease row
// with an expiry on SQLite (renewed while held). With wait it waits until
// ctx ends; without, it returns ErrBusy when another holder has it.
func (s *State) lock(ctx context.Context, secret string, wait bool) (release func(), err error) {
	if s.db.Postgres {
		return s.lockPostgres(ctx, secret, wait)
	}
	for {
		ok, err := s.tryLease(ctx, secret)
		if err != nil {
			return nil, err
		}
		if ok {
			break
		}
		if !wait {
			return nil, ErrBusy
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(jitter(100 * time.Millisecond)):
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(lockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_, _ = s.db.ExecContext(context.Background(), s.db.Rebind(`UPDATE airgate_rotation_leases SET expires_ns = ? WHERE secret = ? AND holder = ?`),
					time.Now().Add(lockTTL).UnixNano(), secret, s.holder)
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		_, _ = s.db.ExecContext(context.Background(), s.db.Rebind(`DELETE FROM airgate_rotation_leases WHERE secret = ? AND holder = ?`), secret, s.holder)
	}, nil
}

// tryLease takes the lease row when it is free or expired. Leases use the
// wall clock (not the injectable one): they protect real processes.
func (s *State) tryLease(ctx context.Context, secret string) (bool, error) {
	now := time.Now()
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO airgate_rotation_leases (secret, holder, expires_ns) VALUES (?, ?, ?)
		ON CONFLICT (secret) DO UPDATE SET holder = excluded.holder, expires_ns = excluded.expires_ns
		WHERE airgate_rotation_leases.expires_ns < ?`),
		secret, s.holder, now.Add(lockTTL).UnixNano(), now.UnixNano())
	if err != nil {
		return false, fmt.Errorf("rotation: taking the lock: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

func lockKey(secret string) int64 {
	h := fnv.New64a()
	h.Write([]byte("airgate rotation\x00" + secret))
	return int64(h.Sum64())
}

func (s *State) lockPostgres(ctx context.Context, secret string, wait bool) (func(), error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("rotation: taking the lock: %w", err)
	}
	key := lockKey(secret)
	if wait {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
			discard(conn)
			return nil, fmt.Errorf("rotation: taking the lock: %w", err)
		}
	} else {
		var ok bool
		if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
			conn.Close()
			return nil, fmt.Errorf("rotation: taking the lock: %w", err)
		}
		if !ok {
			conn.Close()
			return nil, ErrBusy
		}
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			discard(conn)
			return
		}
		conn.Close()
	}, nil
}

// discard closes conn and drops its session, so that PostgreSQL releases
// any lock the session may hold (a wait cancelled just as it succeeded).
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}

// execRetry runs a CREATE ... IF NOT EXISTS, retrying briefly: on
// PostgreSQL two replicas creating the same table at once may see a
// unique violation in the catalogue instead of "already exists".
func execRetry(ctx context.Context, db *sqlstore.DB, q string) error {
	var err error
	for range 3 {
		if _, err = db.ExecContext(ctx, q); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(jitter(50 * time.Millisecond)):
		}
	}
	return err
}
