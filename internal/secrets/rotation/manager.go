package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/airgate/airgate/internal/sqlstore"
)

// Event is one audited step of a rotation. It holds identifiers only:
// never a secret.
type Event struct {
	Secret  string
	Version int
	// Result is "started", "rotated" (complete), "switched" (new version
	// in use, the old one retires after the overlap), "retired" (the old
	// one is gone), "rolled-back", "recovered" or "failed".
	Result string
	// Hint is Graph's hint, a fingerprint or a key id of the version.
	Hint string
	// Reason is why the rotation ran ("forced", "age", "expiry",
	// "recovery"), or for a failure a short error code.
	Reason string
}

// Auditor records rotation events in the audit chain. AuditRotation
// returns once the record is durable; an error before a rotation starts
// stops it (fail closed).
type Auditor interface {
	AuditRotation(ctx context.Context, e Event) error
}

// Options configure a Manager.
type Options struct {
	// DB is the state database for intents, results and locks. Required.
	DB *sqlstore.DB
	// Rotators are the secrets to manage.
	Rotators []Rotator
	// Auditor records every rotation; nil records nothing.
	Auditor Auditor
	// Logger receives one structured line per attempt; nil discards.
	Logger *slog.Logger
	// BackoffBase and BackoffMax bound the wait after consecutive
	// failures (doubling, with jitter). Defaults 1m and 1h.
	BackoffBase, BackoffMax time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Manager runs rotations: on demand, and for the Scheduler when due. It is
// safe for concurrent use.
type Manager struct {
	state    *State
	rotators map[string]Rotator
	names    []string
	audit    Auditor
	log      *slog.Logger
	now      func() time.Time
	base     time.Duration
	maxWait  time.Duration

	mu    sync.Mutex // guards stats
	stats map[string]*Stats
}

// Stats are this process's counters for one secret, for metrics:
// airgate_rotation_attempts_total, airgate_rotation_failures_total and
// airgate_rotation_last_success_timestamp_seconds.
type Stats struct {
	Attempts, Successes, Failures uint64
	LastSuccess                   time.Time
	LastResult                    string
}

// New opens the rotation state and returns a Manager.
func New(ctx context.Context, o Options) (*Manager, error) {
	if o.DB == nil {
		return nil, errors.New("rotation: a state database is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = time.Minute
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = time.Hour
	}
	st, err := OpenState(ctx, o.DB, o.Now)
	if err != nil {
		return nil, err
	}
	m := &Manager{state: st, rotators: map[string]Rotator{}, audit: o.Auditor, log: o.Logger, now: o.Now,
		base: o.BackoffBase, maxWait: o.BackoffMax, stats: map[string]*Stats{}}
	for _, r := range o.Rotators {
		if _, dup := m.rotators[r.Name()]; dup {
			return nil, fmt.Errorf("rotation: %s registered twice", r.Name())
		}
		m.rotators[r.Name()] = r
		m.names = append(m.names, r.Name())
		m.stats[r.Name()] = &Stats{}
	}
	return m, nil
}

// Names returns the managed secrets in registration order.
func (m *Manager) Names() []string { return append([]string(nil), m.names...) }

// Stats returns a copy of this process's counters, by secret.
func (m *Manager) Stats() map[string]Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]Stats, len(m.stats))
	for k, v := range m.stats {
		out[k] = *v
	}
	return out
}

// ErrUnknown is returned for a secret name the Manager does not manage.
var ErrUnknown = errors.New("rotation: unknown secret")

// Status returns every secret's status with its last result. A rotator's
// error is reported in that secret's LastError rather than failing the
// whole listing.
func (m *Manager) Status(ctx context.Context) ([]Status, error) {
	var out []Status
	for _, name := range m.names {
		st, err := m.status(ctx, name)
		if err != nil && st.Name == "" {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (m *Manager) status(ctx context.Context, name string) (Status, error) {
	r := m.rotators[name]
	st, serr := r.Status(ctx)
	st.Name = name
	res, err := m.state.loadResult(ctx, name)
	if err != nil {
		return Status{}, err
	}
	in, err := m.state.loadIntent(ctx, name)
	if err != nil {
		return Status{}, err
	}
	if in != nil {
		st.Pending = in.step
	}
	st.LastResult, st.LastAttempt, st.LastError, st.Failures = res.result, res.attempt, res.err, res.failures
	if serr != nil {
		st.LastError = "status: " + serr.Error()
	}
	return st, serr
}

// RotateOptions modify one call to Rotate.
type RotateOptions struct {
	// Force rotates even when the secret is not due.
	Force bool
	// DryRun reports what would happen and changes nothing.
	DryRun bool
	// Wait waits for another holder of the secret's lock instead of
	// returning ErrBusy.
	Wait bool
}

// Result is the outcome of one call to Rotate.
type Result struct {
	Name string `json:"name"`
	// Outcome is rotated, switched (the old version retires after the
	// overlap), retired (an earlier rotation's old version is gone),
	// waiting (its overlap has not passed), recovered, rolled-back,
	// not-due, would-rotate, busy or failed.
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	Version int    `json:"version,omitempty"`
	Hint    string `json:"hint,omitempty"`
	Err     error  `json:"-"`
}

// Rotate rotates name when it is due (or with o.Force), after finishing any
// rotation a crash or an overlap left open.
func (m *Manager) Rotate(ctx context.Context, name string, o RotateOptions) Result {
	r, ok := m.rotators[name]
	if !ok {
		return Result{Name: name, Outcome: "failed", Err: fmt.Errorf("%w %q", ErrUnknown, name)}
	}
	if o.DryRun {
		return m.dryRun(ctx, r, o)
	}
	release, err := m.state.lock(ctx, name, o.Wait)
	if errors.Is(err, ErrBusy) {
		return Result{Name: name, Outcome: "busy", Err: err}
	}
	if err != nil {
		return m.failed(ctx, name, 0, "", "lock", err)
	}
	defer release()
	return m.rotateLocked(ctx, r, o)
}

func (m *Manager) dryRun(ctx context.Context, r Rotator, o RotateOptions) Result {
	name := r.Name()
	if in, err := m.state.loadIntent(ctx, name); err != nil {
		return Result{Name: name, Outcome: "failed", Err: err}
	} else if in != nil {
		return Result{Name: name, Outcome: "waiting", Reason: "open rotation at step " + in.step}
	}
	st, err := r.Status(ctx)
	if err != nil && st.Version == 0 {
		return Result{Name: name, Outcome: "failed", Err: err}
	}
	reason := m.reason(r, st, o.Force)
	if reason == "" {
		return Result{Name: name, Outcome: "not-due", Version: st.Version, Hint: st.Hint}
	}
	if st.ReadOnly != "" {
		return Result{Name: name, Outcome: "failed", Err: fmt.Errorf("%w: %s", errReadOnly, st.ReadOnly)}
	}
	return Result{Name: name, Outcome: "would-rotate", Reason: reason, Version: st.Version, Hint: st.Hint}
}

// reason is why r should rotate now, or "".
func (m *Manager) reason(r Rotator, st Status, force bool) string {
	switch {
	case force:
		return "forced"
	case !r.Due(st, m.now()):
		return ""
	case st.DueBy != "":
		return st.DueBy
	}
	return "age"
}

func (m *Manager) rotateLocked(ctx context.Context, r Rotator, o RotateOptions) Result {
	name := r.Name()
	in, err := m.state.loadIntent(ctx, name)
	if err != nil {
		return m.failed(ctx, name, 0, "", "state", err)
	}
	if in != nil {
		return m.recoverLocked(ctx, r, in)
	}
	st, err := r.Status(ctx)
	if err != nil && st.Version == 0 {
		return m.failed(ctx, name, st.Version, st.Hint, "status", err)
	}
	if err != nil {
		// Partly known (e.g. Graph could not tell the expiry): decide on
		// what the store knows.
		m.log.Warn("rotation: status incomplete", "secret", name, "err", err.Error())
	}
	reason := m.reason(r, st, o.Force)
	if reason == "" {
		return Result{Name: name, Outcome: "not-due", Version: st.Version, Hint: st.Hint}
	}
	if st.ReadOnly != "" {
		return m.failed(ctx, name, st.Version, st.Hint, "read-only", fmt.Errorf("%w: %s", errReadOnly, st.ReadOnly))
	}
	m.count(name, func(s *Stats) { s.Attempts++ })
	if err := m.auditEvent(ctx, Event{Secret: name, Version: st.Version, Result: "started", Hint: st.Hint, Reason: reason}); err != nil {
		return m.failed(ctx, name, st.Version, st.Hint, "audit", err)
	}
	m.log.Info("rotation started", "secret", name, "version", st.Version, "hint", st.Hint, "reason", reason)
	in, err = m.state.newIntent(ctx, name, reason)
	if err != nil {
		return m.failed(ctx, name, st.Version, st.Hint, "state", err)
	}
	if err := safely(func() error { return r.Rotate(ctx, Plan{Reason: reason, Intent: in}) }); err != nil {
		return m.failed(ctx, name, st.Version, st.Hint, "rotate", err)
	}
	return m.succeeded(ctx, r, in, reason, "rotated")
}

// recoverLocked resumes an open intent.
func (m *Manager) recoverLocked(ctx context.Context, r Rotator, in *Intent) Result {
	name := r.Name()
	step := in.step
	m.log.Info("rotation resuming", "secret", name, "rotation", in.ID, "step", step)
	if err := safely(func() error { return r.Recover(ctx, in) }); err != nil {
		return m.failed(ctx, name, 0, "", "recover", err)
	}
	if !in.Finished() && in.step == step {
		return Result{Name: name, Outcome: "waiting", Reason: "step " + in.step}
	}
	outcome := "recovered"
	if step == "switched" {
		outcome = "retired"
	}
	return m.succeeded(ctx, r, in, "recovery", outcome)
}

func (m *Manager) succeeded(ctx context.Context, r Rotator, in *Intent, reason, outcome string) Result {
	name := r.Name()
	st, _ := r.Status(ctx)
	switch {
	case in.Get("rolled_back") != "":
		outcome = "rolled-back"
	case !in.Finished():
		outcome = "switched"
	}
	if err := m.auditEvent(ctx, Event{Secret: name, Version: st.Version, Result: outcome, Hint: st.Hint, Reason: reason}); err != nil {
		m.log.Error("audit: recording a rotation", "secret", name, "err", err.Error())
	}
	now := m.now()
	if err := m.state.saveResult(ctx, name, result{attempt: now, result: outcome, version: st.Version}); err != nil {
		m.log.Error("rotation: recording the result", "secret", name, "err", err.Error())
	}
	m.count(name, func(s *Stats) {
		s.Successes++
		s.LastSuccess = now
		s.LastResult = outcome
	})
	m.log.Info("rotation "+outcome, "secret", name, "version", st.Version, "hint", st.Hint, "reason", reason, "rotation", in.ID, "step", in.step)
	return Result{Name: name, Outcome: outcome, Reason: reason, Version: st.Version, Hint: st.Hint}
}

// failed records a failure: the metric, an error log, the audit record,
// and the back-off before the next scheduled attempt.
func (m *Manager) failed(ctx context.Context, name string, version int, hint, code string, err error) Result {
	prev, _ := m.state.loadResult(ctx, name)
	failures := prev.failures + 1
	wait := backoff(m.base, m.maxWait, failures)
	now := m.now()
	if serr := m.state.saveResult(ctx, name, result{attempt: now, result: "failed", err: code + ": " + err.Error(), version: version, failures: failures, nextTry: now.Add(wait)}); serr != nil {
		m.log.Error("rotation: recording the result", "secret", name, "err", serr.Error())
	}
	m.count(name, func(s *Stats) {
		s.Failures++
		s.LastResult = "failed"
	})
	if code != "audit" {
		if aerr := m.auditEvent(ctx, Event{Secret: name, Version: version, Result: "failed", Hint: hint, Reason: code}); aerr != nil {
			m.log.Error("audit: recording a rotation failure", "secret", name, "err", aerr.Error())
		}
	}
	m.log.Error("rotation failed", "secret", name, "version", version, "hint", hint, "step", code, "err", err.Error(), "failures", failures, "retry_in", wait.String())
	return Result{Name: name, Outcome: "failed", Reason: code, Version: version, Hint: hint, Err: err}
}

func (m *Manager) count(name string, f func(*Stats)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats[name]
	if s == nil {
		s = &Stats{}
		m.stats[name] = s
	}
	f(s)
}

func (m *Manager) auditEvent(ctx context.Context, e Event) error {
	if m.audit == nil {
		return nil
	}
	return m.audit.AuditRotation(ctx, e)
}

// Tick runs one scheduler pass: for each secret whose back-off has passed,
// it takes the lock without waiting, finishes open intents, rotates what is
// due and tidies. It returns what happened to each secret it tried.
func (m *Manager) Tick(ctx context.Context) []Result {
	var out []Result
	for _, name := range m.names {
		res, err := m.state.loadResult(ctx, name)
		if err != nil {
			m.log.Error("rotation: reading state", "secret", name, "err", err.Error())
			continue
		}
		if !res.nextTry.IsZero() && m.now().Before(res.nextTry) {
			continue
		}
		r := m.rotators[name]
		release, err := m.state.lock(ctx, name, false)
		if errors.Is(err, ErrBusy) {
			continue
		}
		if err != nil {
			out = append(out, m.failed(ctx, name, 0, "", "lock", err))
			continue
		}
		result := m.rotateLocked(ctx, r, RotateOptions{})
		if t, ok := r.(Tidier); ok && result.Outcome != "failed" {
			if err := t.Tidy(ctx); err != nil {
				m.log.Warn("rotation: tidying", "secret", name, "err", err.Error())
			}
		}
		release()
		out = append(out, result)
	}
	return out
}

// backoff is base doubled per consecutive failure, capped at maxWait, with
// up to 20% jitter either way.
func backoff(base, maxWait time.Duration, failures int) time.Duration {
	d := base
	for i := 1; i < failures && d < maxWait; i++ {
		d *= 2
	}
	return jitter(min(d, maxWait))
}

// jitter spreads d by ±20%.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d - d/5 + rand.N(2*d/5+1)
}

// safely runs f, turning a panic into an error (a fault-injected crash in
// tests; a bug in production must not kill the gateway's scheduler).
func safely(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("rotation: panic: %v", v)
		}
	}()
	return f()
}
