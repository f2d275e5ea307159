// Package rotation rotates airgate's secrets automatically and safely: the
// Entra client credential (a client secret through Microsoft Graph's
// addPassword/removePassword, or a certificate through keyCredentials), the
// keyring's signing keys, and the Airflow 2 service-account password.
//
// Every rotation follows the same sequence: persist a write-ahead intent,
// store the new value as a pending version, change the other side, verify
// that the new value works, switch the active version, and retire the old
// one after an overlap. A crash at any step leaves an intent that Recover
// rolls forward or back on the next run. One rotation per secret runs at a
// time across replicas (a PostgreSQL advisory lock, or a lease row with an
// expiry on SQLite). Secrets are never logged: only fingerprints and
// Graph's hint.
//
// A [Manager] runs rotations on demand (`airgate secrets rotate`) and a
// [Scheduler] runs them when due, with back-off and jitter after failures.
package rotation

import (
	"context"
	"errors"
	"maps"
	"time"

	"github.com/airgate/airgate/internal/secrets"
)

// The names of the secrets airgate rotates.
const (
	NameEntra   = "entra-client-secret"
	NameSigning = "signing-key"
	NameAirflow = "airflow-credential"
)

// Rotator rotates one secret. Implementations are used by one rotation at a
// time (the Manager holds the secret's lock around every call but Status
// listings).
type Rotator interface {
	// Name is the secret's name, e.g. "entra-client-secret".
	Name() string
	// Status describes the current version. On error it returns as much
	// as it knows.
	Status(ctx context.Context) (Status, error)
	// Due reports whether st calls for a rotation at now.
	Due(st Status, now time.Time) bool
	// Rotate replaces the secret. It records each step in plan.Intent
	// BEFORE acting on it, and calls plan.Intent.Done once nothing is
	// left to do. It may return with the intent still open (waiting for
	// an overlap to pass); Recover then finishes the work later. On error
	// it rolls back what it can; an intent left open is recovered later.
	Rotate(ctx context.Context, plan Plan) error
	// Recover resumes an open intent left by a crash, a failure or an
	// overlap: it rolls forward or back and calls in.Done when finished.
	Recover(ctx context.Context, in *Intent) error
}

// Tidier is an optional interface for rotators with periodic upkeep (the
// keyring's Prune). The scheduler calls it under the secret's lock.
type Tidier interface {
	Tidy(ctx context.Context) error
}

// Plan is one rotation to carry out.
type Plan struct {
	// Reason is why it runs: "forced", "age" or "expiry".
	Reason string
	// Intent is the write-ahead record of this rotation, already
	// persisted with step "begin".
	Intent *Intent
}

// Status describes a secret's current version and its rotation state.
// Fields the rotator does not know are zero.
type Status struct {
	Name string `json:"name"`
	// Kind is the kind of credential: client-secret, certificate,
	// keyring or password.
	Kind    string    `json:"kind"`
	Version int       `json:"version"`
	Created time.Time `json:"created,omitzero"`
	// Expires is when the credential stops working (Entra's endDateTime);
	// zero for none.
	Expires time.Time `json:"expires,omitzero"`
	// NextRotation is when the secret becomes due.
	NextRotation time.Time `json:"next_rotation,omitzero"`
	// DueBy says what sets NextRotation: "age" or "expiry".
	DueBy string `json:"due_by,omitempty"`
	// Hint identifies the version without revealing it: Graph's hint, a
	// fingerprint or a key id.
	Hint string `json:"hint,omitempty"`
	// ReadOnly says why the secret cannot be rotated (an environment
	// store); empty when it can.
	ReadOnly string `json:"read_only,omitempty"`
	// Pending is the step of an unfinished rotation.
	Pending string `json:"pending,omitempty"`
	// LastResult, LastAttempt and LastError describe the last attempt;
	// Failures counts consecutive failures.
	LastResult  string    `json:"last_result,omitempty"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Failures    int       `json:"failures,omitempty"`
}

// dueByTime is the usual Due: now is at or past st.NextRotation.
func dueByTime(st Status, now time.Time) bool {
	return st.Version > 0 && !st.NextRotation.IsZero() && !now.Before(st.NextRotation)
}

// nextRotation sets st.NextRotation and st.DueBy: the earlier of
// created+maxAge and expires-renewBefore.
func (st *Status) nextRotation(maxAge, renewBefore time.Duration) {
	st.NextRotation, st.DueBy = time.Time{}, ""
	if !st.Created.IsZero() && maxAge > 0 {
		st.NextRotation, st.DueBy = st.Created.Add(maxAge), "age"
	}
	if !st.Expires.IsZero() {
		e := st.Expires.Add(-renewBefore)
		if st.NextRotation.IsZero() || e.Before(st.NextRotation) {
			st.NextRotation, st.DueBy = e, "expiry"
		}
	}
}

// Intent is the write-ahead record of one rotation, persisted in the state
// database before each external change. Its methods are not safe for
// concurrent use; the lock on the secret keeps one user at a time.
type Intent struct {
	Secret  string
	ID      string
	Reason  string
	Started time.Time

	step  string
	data  map[string]string
	done  bool
	state *State
}

// Step is the last step recorded.
func (in *Intent) Step() string { return in.step }

// Get returns a recorded value ("" when absent).
func (in *Intent) Get(key string) string { return in.data[key] }

// Data returns a copy of the recorded values.
func (in *Intent) Data() map[string]string { return maps.Clone(in.data) }

// Save records step and merges kv into the intent, durably, before the
// caller acts on it. Values MUST NOT be secrets.
func (in *Intent) Save(ctx context.Context, step string, kv map[string]string) error {
	next := maps.Clone(in.data)
	if next == nil {
		next = map[string]string{}
	}
	maps.Copy(next, kv)
	if err := in.state.saveIntent(ctx, in, step, next); err != nil {
		return err
	}
	in.step, in.data = step, next
	return nil
}

// Done removes the intent: the rotation is complete (or fully rolled back).
func (in *Intent) Done(ctx context.Context) error {
	if err := in.state.deleteIntent(ctx, in); err != nil {
		return err
	}
	in.done = true
	return nil
}

// Finished reports whether Done was called.
func (in *Intent) Finished() bool { return in.done }

// Fault is a fault-injection hook for tests: called at named steps of a
// rotation, an error (or a panic) there simulates a crash at that point.
// Production code leaves it nil.
type Fault func(step string) error

func (f Fault) at(step string) error {
	if f == nil {
		return nil
	}
	return f(step)
}

// errReadOnly wraps secrets.ErrReadOnly for rotators over a read-only store.
var errReadOnly = secrets.ErrReadOnly

// ErrBusy means another process holds the secret's rotation lock.
var ErrBusy = errors.New("rotation: another rotation of this secret is running")

// readOnlyReason says why store cannot be rotated, or "".
func readOnlyReason(store secrets.SecretStore) string {
	if _, ok := store.(secrets.EnvSecrets); ok {
		return "the secret comes from the environment: set rotation.store to file or db to rotate it"
	}
	return ""
}
