package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
)

// Keys supplies the symmetric keys that seal cookies. secrets.Keyring
// satisfies it through a small adapter in the server. Implementations MUST
// be safe for concurrent use; returned secrets MUST NOT be modified.
type Keys interface {
	// SealingKey returns the id and the 32-byte secret of the key that
	// seals new cookies.
	SealingKey() (id string, secret []byte, err error)
	// OpeningKey returns the secret of the published key with this id,
	// and false when no such key is published (any more).
	OpeningKey(id string) (secret []byte, ok bool)
}

// sealVersion prefixes every sealed value; a future format changes it.
const sealVersion = "v1"

// sealer seals and opens values with AES-256-GCM under keys derived per
// purpose (HKDF-SHA256), so that a value sealed for one purpose (a sign-in
// state) never opens as another (a session). The key id and the purpose are
// authenticated as additional data. It is safe for concurrent use.
type sealer struct {
	keys Keys

	mu    sync.Mutex // guards aeads
	aeads map[string]cipher.AEAD
}

func newSealer(k Keys) *sealer { return &sealer{keys: k, aeads: map[string]cipher.AEAD{}} }

// maxAEADs bounds the cache of derived keys (published keys x purposes).
const maxAEADs = 64

func (s *sealer) aead(kid, purpose string, secret []byte) (cipher.AEAD, error) {
	ck := kid + "\x00" + purpose
	s.mu.Lock()
	a, ok := s.aeads[ck]
	s.mu.Unlock()
	if ok {
		return a, nil
	}
	if len(secret) != 32 {
		return nil, fmt.Errorf("session key %s is %d bytes, want 32", kid, len(secret))
	}
	sub, err := hkdf.Key(sha256.New, secret, nil, "airgate cookie "+sealVersion+" "+purpose, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sub)
	if err != nil {
		return nil, err
	}
	a, err = cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.aeads) >= maxAEADs {
		clear(s.aeads)
	}
	s.aeads[ck] = a
	s.mu.Unlock()
	return a, nil
}

func additionalData(kid, purpose string) []byte {
	return []byte("airgate cookie\x00" + sealVersion + "\x00" + purpose + "\x00" + kid)
}

// seal returns "v1.<kid>.<base64url(nonce|ciphertext)>".
func (s *sealer) seal(purpose string, plaintext []byte) (string, error) {
	kid, secret, err := s.keys.SealingKey()
	if err != nil {
		return "", fmt.Errorf("session: sealing key: %w", err)
	}
	if kid == "" || strings.ContainsAny(kid, ".~ ;,\"\\") {
		return "", fmt.Errorf("session: sealing key id %q cannot travel in a cookie", kid)
	}
	a, err := s.aead(kid, purpose, secret)
	if err != nil {
		return "", fmt.Errorf("session: %w", err)
	}
	buf := make([]byte, a.NonceSize(), a.NonceSize()+len(plaintext)+a.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("session: %w", err)
	}
	buf = a.Seal(buf, buf, plaintext, additionalData(kid, purpose))
	return sealVersion + "." + kid + "." + base64.RawURLEncoding.EncodeToString(buf), nil
}

// open reverses seal. Every failure is ErrInvalid: the caller learns
// nothing about why (tampered, wrong purpose, unknown or unpublished key).
func (s *sealer) open(purpose, sealed string) ([]byte, error) {
	ver, rest, ok := strings.Cut(sealed, ".")
	if !ok || ver != sealVersion {
		return nil, ErrInvalid
	}
	kid, data, ok := strings.Cut(rest, ".")
	if !ok || kid == "" {
		return nil, ErrInvalid
	}
	secret, ok := s.keys.OpeningKey(kid)
	if !ok {
		return nil, ErrInvalid
	}
	a, err := s.aead(kid, purpose, secret)
	if err != nil {
		return nil, ErrInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(data)
	if err != nil || len(raw) < a.NonceSize()+a.Overhead() {
		return nil, ErrInvalid
	}
	out, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], additionalData(kid, purpose))
	if err != nil {
		return nil, ErrInvalid
	}
	return out, nil
}
