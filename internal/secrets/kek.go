package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KEK is a key-encryption key: secrets are stored sealed under it with
// AES-256-GCM. Its ID, a fingerprint of the key, is stored beside each
// sealed value so that a store can tell which KEK opens it. A KEK is safe
// for concurrent use.
type KEK struct {
	id   string
	aead cipher.AEAD
}

// kekSize is AES-256's key size.
const kekSize = 32

// ParseKEK reads a key-encryption key from the content of a file or an
// environment variable: 32 bytes written as base64 (standard or URL,
// padded or not) or hex. Surrounding whitespace is ignored. Generate one
// with `openssl rand -base64 32`.
func ParseKEK(text []byte) (*KEK, error) {
	s := strings.TrimSpace(string(text))
	var key []byte
	for _, dec := range []func(string) ([]byte, error){
		hex.DecodeString,
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == kekSize {
			key = b
			break
		}
	}
	if key == nil {
		return nil, errors.New("secrets: the key-encryption key must be 32 bytes in base64 or hex (openssl rand -base64 32)")
	}
	return NewKEK(key)
}

// NewKEK wraps a 32-byte key. The caller may reuse key afterwards.
func NewKEK(key []byte) (*KEK, error) {
	if len(key) != kekSize {
		return nil, fmt.Errorf("secrets: a key-encryption key has %d bytes, not %d", kekSize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	sum := sha256.Sum256(append([]byte("airgate kek id\x00"), key...))
	return &KEK{id: "kek-" + hex.EncodeToString(sum[:8]), aead: aead}, nil
}

// ID names the key without revealing it.
func (k *KEK) ID() string { return k.id }

// Seal encrypts plaintext bound to aad (which is not encrypted but must be
// given again to Open): a random nonce followed by the ciphertext.
func (k *KEK) Seal(plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return k.aead.Seal(nonce, nonce, plaintext, aad), nil
}

// ErrDecrypt means a sealed value could not be opened: the wrong KEK, a
// value moved to another secret or version, or tampering.
var ErrDecrypt = errors.New("secrets: cannot decrypt the stored value (wrong key-encryption key or tampered)")

// Open decrypts what Seal returned.
func (k *KEK) Open(sealed, aad []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, ErrDecrypt
	}
	out, err := k.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return out, nil
}

// keks is a primary KEK that seals and older ones that still open.
type keks struct {
	primary *KEK
	old     []*KEK
}

func (ks keks) byID(id string) *KEK {
	if ks.primary != nil && ks.primary.id == id {
		return ks.primary
	}
	for _, k := range ks.old {
		if k.id == id {
			return k
		}
	}
	return nil
}

// valueAAD binds a sealed value to its secret and version, so that a value
// copied to another row does not open.
func valueAAD(name string, version int) []byte {
	return fmt.Appendf(nil, "airgate secret\x00%s\x00%d", name, version)
}

// seal encrypts value for name/version, or returns it as is without a KEK
// (kekID "").
func (ks keks) seal(name string, version int, value []byte) (sealed []byte, kekID string, err error) {
	if ks.primary == nil || value == nil {
		return value, "", nil
	}
	b, err := ks.primary.Seal(value, valueAAD(name, version))
	return b, ks.primary.id, err
}

func (ks keks) open(name string, version int, sealed []byte, kekID string) ([]byte, error) {
	if kekID == "" || sealed == nil {
		return sealed, nil
	}
	k := ks.byID(kekID)
	if k == nil {
		return nil, fmt.Errorf("secrets: %s version %d is sealed under key-encryption key %s, which is not configured", name, version, kekID)
	}
	return k.Open(sealed, valueAAD(name, version))
}
