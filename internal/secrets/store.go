package secrets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"time"
)

// SecretStore keeps versioned secrets: airgate's Entra client credential
// and the Airflow 2 service-account password. A rotation stores the new
// value as a pending version before it changes anything outside airgate,
// activates it once it works, and retires the old one when nothing may use
// it any more. Every gateway reads the active version from the same store,
// so a rotation done by one process (or by `airgate secrets rotate`)
// reaches all of them.
//
// Implementations are safe for concurrent use by several processes; the
// interface is kept small so that Azure Key Vault or HashiCorp Vault can
// implement it later. Values MUST NOT be logged.
type SecretStore interface {
	// Get returns version (a number, [Current] or [Latest]) of secret
	// name; ErrNotFound when it does not exist. A retired version has a
	// nil Value.
	Get(ctx context.Context, name string, version int) (*Version, error)
	// Put stores v as a new pending version of name and returns its
	// number. v.Name, v.Version and v.State are ignored.
	Put(ctx context.Context, name string, v Version) (int, error)
	// Activate makes version the active one. The version that was active
	// becomes StatePrevious (still valid, not yet retired) and is recorded
	// in the new version's Previous.
	Activate(ctx context.Context, name string, version int) error
	// Retire marks version retired and erases its value. The active
	// version cannot be retired.
	Retire(ctx context.Context, name string, version int) error
}

// Special version numbers for [SecretStore.Get].
const (
	// Current is the active version.
	Current = 0
	// Latest is the newest version that is not retired (a pending one
	// during a rotation).
	Latest = -1
)

// State is where a version is in its life.
type State string

// Version states.
const (
	StatePending  State = "pending"  // stored, not yet used
	StateActive   State = "active"   // the one to use
	StatePrevious State = "previous" // superseded, still valid until retired
	StateRetired  State = "retired"  // must no longer work; value erased
)

// Version is one version of a secret.
type Version struct {
	Name    string
	Version int
	State   State
	// Value is the secret itself. Callers MUST NOT log it; log
	// Fingerprint() or the Meta hint instead.
	Value []byte
	// Created is when the version was stored; Expires, when set, is when
	// it stops working on the other side (Entra's endDateTime).
	Created     time.Time
	Expires     time.Time
	ActivatedAt time.Time
	RetiredAt   time.Time
	// Previous is the version that was active when this one was activated.
	Previous int
	// Meta holds non-secret facts (Graph keyId and hint, the credential
	// kind, the rotation that made it). Never a secret.
	Meta map[string]string
}

// Fingerprint returns a short label of the value that is safe to log: the
// first 6 bytes of a labelled SHA-256, in hex. Empty for a retired version.
func (v *Version) Fingerprint() string {
	if v == nil || v.Value == nil {
		return ""
	}
	return Fingerprint(v.Value)
}

// Fingerprint labels a secret value without revealing it.
func Fingerprint(value []byte) string {
	sum := sha256.Sum256(append([]byte("airgate secret fingerprint\x00"), value...))
	return hex.EncodeToString(sum[:6])
}

// Clone returns a deep copy of v.
func (v *Version) Clone() *Version {
	if v == nil {
		return nil
	}
	c := *v
	if v.Value != nil {
		c.Value = append([]byte(nil), v.Value...)
	}
	c.Meta = maps.Clone(v.Meta)
	return &c
}

// ErrReadOnly is returned by stores that cannot change a secret (the
// environment): rotation needs a file or database store.
var ErrReadOnly = errors.New("secrets: the store is read-only")

// errActiveRetire refuses to retire the version in use.
var errActiveRetire = errors.New("secrets: the active version cannot be retired: activate another one first")

// versionSet is the version logic shared by the file and database stores:
// one secret's versions, oldest first.
type versionSet []*Version

func (s versionSet) find(version int) *Version {
	switch version {
	case Current:
		for i := len(s) - 1; i >= 0; i-- {
			if s[i].State == StateActive {
				return s[i]
			}
		}
		return nil
	case Latest:
		for i := len(s) - 1; i >= 0; i-- {
			if s[i].State != StateRetired {
				return s[i]
			}
		}
		return nil
	}
	for _, v := range s {
		if v.Version == version {
			return v
		}
	}
	return nil
}

func (s versionSet) next() int {
	n := 0
	for _, v := range s {
		n = max(n, v.Version)
	}
	return n + 1
}

// activate applies Activate to the set in place.
func (s versionSet) activate(name string, version int, now time.Time) error {
	nv := s.find(version)
	if version <= 0 || nv == nil {
		return fmt.Errorf("secrets: %s version %d: %w", name, version, ErrNotFound)
	}
	switch nv.State {
	case StateActive:
		return nil
	case StateRetired:
		return fmt.Errorf("secrets: %s version %d is retired", name, version)
	}
	prev := 0
	for _, v := range s {
		if v.State == StateActive {
			v.State = StatePrevious
			prev = v.Version
		}
	}
	nv.State = StateActive
	nv.ActivatedAt = now.UTC()
	nv.Previous = prev
	return nil
}

// retire applies Retire to the set in place.
func (s versionSet) retire(name string, version int, now time.Time) error {
	v := s.find(version)
	if version <= 0 || v == nil {
		return fmt.Errorf("secrets: %s version %d: %w", name, version, ErrNotFound)
	}
	switch v.State {
	case StateRetired:
		return nil
	case StateActive:
		return errActiveRetire
	}
	clear(v.Value)
	v.Value = nil
	v.State = StateRetired
	v.RetiredAt = now.UTC()
	return nil
}

// Seed stores value as the first active version of name when the store has
// no active version yet (bootstrapping from the configuration), and returns
// the active version either way.
func Seed(ctx context.Context, s SecretStore, name string, value []byte, meta map[string]string) (*Version, error) {
	cur, err := s.Get(ctx, name, Current)
	if err == nil {
		return cur, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	n, err := s.Put(ctx, name, Version{Value: value, Meta: meta})
	if err != nil {
		return nil, err
	}
	if err := s.Activate(ctx, name, n); err != nil {
		return nil, err
	}
	return s.Get(ctx, name, Current)
}
