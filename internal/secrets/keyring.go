// Package secrets holds airgate's own key material: a versioned keyring of
// signing keys (Airflow JWTs and exchanged tokens, audit checkpoints) kept in
// a small store. A new key is published before it signs, and an old key stays
// published until every token it signed has expired.
package secrets

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Use is what a key is for. Each use has its own key series.
type Use string

// Key uses.
const (
	// UseToken signs JWTs airgate issues: Airflow 3 JWTs and exchanged
	// tokens (ES256).
	UseToken Use = "token"
	// UseAudit signs audit checkpoints (Ed25519).
	UseAudit Use = "audit"
	// UseSession seals browser session cookies (AES-256-GCM, symmetric:
	// never published).
	UseSession Use = "session"
)

// algFor is the algorithm of each use's keys.
var algFor = map[Use]string{UseToken: "ES256", UseAudit: "EdDSA", UseSession: "A256GCM"}

// uses are the key series every keyring holds.
var uses = []Use{UseToken, UseAudit, UseSession}

// Key is one version of a key. Keys are immutable once created.
type Key struct {
	ID  string // kid: use, version and a fingerprint of the public key
	Use Use
	Alg string // JWS algorithm: ES256 or EdDSA
	// Version increases by one per rotation within a use.
	Version int
	// Created is when the key was made and published; it signs only from
	// ActiveAt on, so verifiers that cache key sets have seen it first.
	Created  time.Time
	ActiveAt time.Time
	// RetiredAt, when set, is when the key stopped signing; it stays
	// published until UnpublishAt, after every token it signed expired.
	RetiredAt   time.Time
	UnpublishAt time.Time

	signer crypto.Signer // asymmetric uses
	secret []byte        // symmetric uses
}

// Signer returns the private key of an asymmetric key, nil for a symmetric
// one. Callers MUST NOT log or copy it out.
func (k *Key) Signer() crypto.Signer { return k.signer }

// Secret returns a symmetric key's bytes, nil for an asymmetric one.
// Callers MUST NOT log, modify or copy it out.
func (k *Key) Secret() []byte { return k.secret }

// Public returns the public key, nil for a symmetric key.
func (k *Key) Public() crypto.PublicKey {
	if k.signer == nil {
		return nil
	}
	return k.signer.Public()
}

// Store persists a keyring's encoded state. Implementations write
// atomically; Load returns ErrNotFound when nothing was stored yet.
type Store interface {
	Load() ([]byte, error)
	Save([]byte) error
}

// ErrNotFound is returned by Store.Load when the store is empty.
var ErrNotFound = errors.New("secrets: not found")

// Keyring is the set of airgate's keys. It is safe for concurrent use.
type Keyring struct {
	store Store
	now   func() time.Time

	mu   sync.RWMutex // guards keys
	keys []*Key
}

// Options configure a Keyring.
type Options struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Open loads the keyring from store, creating a first key for every use
// when the store is empty (active at once: nothing can have cached an older
// key set yet).
func Open(store Store, o Options) (*Keyring, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	k := &Keyring{store: store, now: o.Now}
	if err := k.Reload(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	changed := false
	for _, use := range uses {
		if k.latestLocked(use) == nil {
			nk, err := newKey(use, 1, k.now(), 0)
			if err != nil {
				return nil, err
			}
			k.keys = append(k.keys, nk)
			changed = true
		}
	}
	if changed {
		if err := k.saveLocked(); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// Reload re-reads the store, picking up keys another process added.
func (k *Keyring) Reload() error {
	data, err := k.store.Load()
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("secrets: loading keyring: %w", err)
	}
	keys, err := decodeKeys(data)
	if err != nil {
		return fmt.Errorf("secrets: decoding keyring: %w", err)
	}
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	return nil
}

func newKey(use Use, version int, now time.Time, lead time.Duration) (*Key, error) {
	key := &Key{Use: use, Alg: algFor[use], Version: version, Created: now.UTC(), ActiveAt: now.Add(lead).UTC()}
	var material []byte
	switch use {
	case UseToken:
		s, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("secrets: generating key: %w", err)
		}
		key.signer = s
	case UseAudit:
		_, s, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("secrets: generating key: %w", err)
		}
		key.signer = s
	case UseSession:
		key.secret = make([]byte, 32)
		if _, err := rand.Read(key.secret); err != nil {
			return nil, fmt.Errorf("secrets: generating key: %w", err)
		}
		// The id must not reveal the secret: fingerprint a hash of it
		// under a label.
		sum := sha256.Sum256(append([]byte("airgate session key id\x00"), key.secret...))
		material = sum[:]
	default:
		return nil, fmt.Errorf("secrets: unknown key use %q", use)
	}
	if key.signer != nil {
		pub, err := x509.MarshalPKIXPublicKey(key.signer.Public())
		if err != nil {
			return nil, err
		}
		material = pub
	}
	sum := sha256.Sum256(material)
	key.ID = fmt.Sprintf("%s-%d-%s", use, version, hex.EncodeToString(sum[:4]))
	return key, nil
}

func (k *Keyring) latestLocked(use Use) *Key {
	var best *Key
	for _, key := range k.keys {
		if key.Use == use && (best == nil || key.Version > best.Version) {
			best = key
		}
	}
	return best
}

// Current returns the key that signs for use now: the newest key that is
// active and not retired.
func (k *Keyring) Current(use Use) (*Key, error) {
	now := k.now()
	k.mu.RLock()
	defer k.mu.RUnlock()
	var best *Key
	for _, key := range k.keys {
		if key.Use != use || now.Before(key.ActiveAt) || (!key.RetiredAt.IsZero() && !now.Before(key.RetiredAt)) {
			continue
		}
		if best == nil || key.Version > best.Version {
			best = key
		}
	}
	if best == nil {
		return nil, fmt.Errorf("secrets: no active %s key", use)
	}
	return best, nil
}

// Published returns the keys of use that verifiers must know now: every key
// from its creation until its UnpublishAt. Sorted newest first.
func (k *Keyring) Published(use Use) []*Key {
	now := k.now()
	k.mu.RLock()
	defer k.mu.RUnlock()
	var out []*Key
	for _, key := range k.keys {
		if key.Use == use && (key.UnpublishAt.IsZero() || now.Before(key.UnpublishAt)) {
			out = append(out, key)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version > out[j].Version })
	return out
}

// Lookup returns the published key with the given id.
func (k *Keyring) Lookup(id string) (*Key, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, key := range k.keys {
		if key.ID == id {
			return key, true
		}
	}
	return nil, false
}

// Rotate adds a new key for use that starts signing after lead (publish it
// first: Airflow refetches its JWKS only hourly), and schedules the current
// key to retire when the new one activates and to be unpublished maxTokenTTL
// after that. It returns the new key.
func (k *Keyring) Rotate(use Use, lead, maxTokenTTL time.Duration) (*Key, error) {
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	latest := k.latestLocked(use)
	version := 1
	if latest != nil {
		version = latest.Version + 1
	}
	nk, err := newKey(use, version, now, lead)
	if err != nil {
		return nil, err
	}
	next := make([]*Key, 0, len(k.keys)+1)
	for _, key := range k.keys {
		if key.Use == use && key.RetiredAt.IsZero() {
			c := *key
			c.RetiredAt = nk.ActiveAt
			// Audit checkpoints are verified for as long as the log is
			// kept: an audit key is retired but never unpublished.
			if use != UseAudit {
				c.UnpublishAt = nk.ActiveAt.Add(maxTokenTTL)
			}
			key = &c
		}
		next = append(next, key)
	}
	old := k.keys
	k.keys = append(next, nk)
	if err := k.saveLocked(); err != nil {
		k.keys = old
		return nil, err
	}
	return nk, nil
}

// Prune forgets keys past their UnpublishAt.
func (k *Keyring) Prune() error {
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	var keep []*Key
	for _, key := range k.keys {
		if key.UnpublishAt.IsZero() || now.Before(key.UnpublishAt) {
			keep = append(keep, key)
		}
	}
	if len(keep) == len(k.keys) {
		return nil
	}
	old := k.keys
	k.keys = keep
	if err := k.saveLocked(); err != nil {
		k.keys = old
		return err
	}
	return nil
}

type storedKey struct {
	ID          string    `json:"id"`
	Use         Use       `json:"use"`
	Alg         string    `json:"alg"`
	Version     int       `json:"version"`
	Created     time.Time `json:"created"`
	ActiveAt    time.Time `json:"active_at"`
	RetiredAt   time.Time `json:"retired_at,omitzero"`
	UnpublishAt time.Time `json:"unpublish_at,omitzero"`
	PKCS8       string    `json:"pkcs8,omitempty"`
	Secret      string    `json:"secret,omitempty"`
}

type storedRing struct {
	Version int         `json:"version"`
	Keys    []storedKey `json:"keys"`
}

func (k *Keyring) saveLocked() error {
	ring := storedRing{Version: 1}
	for _, key := range k.keys {
		sk := storedKey{
			ID: key.ID, Use: key.Use, Alg: key.Alg, Version: key.Version, Created: key.Created,
			ActiveAt: key.ActiveAt, RetiredAt: key.RetiredAt, UnpublishAt: key.UnpublishAt,
		}
		if key.secret != nil {
			sk.Secret = base64.StdEncoding.EncodeToString(key.secret)
		} else {
			der, err := x509.MarshalPKCS8PrivateKey(key.signer)
			if err != nil {
				return fmt.Errorf("secrets: encoding key %s: %w", key.ID, err)
			}
			sk.PKCS8 = base64.StdEncoding.EncodeToString(der)
		}
		ring.Keys = append(ring.Keys, sk)
	}
	data, err := json.MarshalIndent(ring, "", "  ")
	if err != nil {
		return err
	}
	if err := k.store.Save(data); err != nil {
		return fmt.Errorf("secrets: saving keyring: %w", err)
	}
	return nil
}

func decodeKeys(data []byte) ([]*Key, error) {
	var ring storedRing
	if err := json.Unmarshal(data, &ring); err != nil {
		return nil, err
	}
	if ring.Version != 1 {
		return nil, fmt.Errorf("unsupported keyring version %d", ring.Version)
	}
	var keys []*Key
	for _, sk := range ring.Keys {
		if algFor[sk.Use] != sk.Alg {
			return nil, fmt.Errorf("key %s: use %s with algorithm %s", sk.ID, sk.Use, sk.Alg)
		}
		key := &Key{
			ID: sk.ID, Use: sk.Use, Alg: sk.Alg, Version: sk.Version, Created: sk.Created,
			ActiveAt: sk.ActiveAt, RetiredAt: sk.RetiredAt, UnpublishAt: sk.UnpublishAt,
		}
		if sk.Use == UseSession {
			secret, err := base64.StdEncoding.DecodeString(sk.Secret)
			if err != nil || len(secret) != 32 {
				return nil, fmt.Errorf("key %s: bad symmetric key", sk.ID)
			}
			key.secret = secret
		} else {
			der, err := base64.StdEncoding.DecodeString(sk.PKCS8)
			if err != nil {
				return nil, fmt.Errorf("key %s: %w", sk.ID, err)
			}
			priv, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				return nil, fmt.Errorf("key %s: %w", sk.ID, err)
			}
			s, ok := priv.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("key %s: not a signing key", sk.ID)
			}
			key.signer = s
		}
		keys = append(keys, key)
	}
	return keys, nil
}
