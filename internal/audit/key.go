package audit

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// DefaultKeyFile is the checkpoint signing key file the CLI uses when none is
// named, relative to the working directory, until airgate's keyring provides
// the key.
const DefaultKeyFile = "airgate-audit.key"

// Key is an Ed25519 checkpoint signing key. It implements [Signer] and is
// safe for concurrent use. Its key id is the RFC 7638 JWK thumbprint of the
// public key.
type Key struct {
	priv ed25519.PrivateKey
	id   string
}

var _ Signer = (*Key)(nil)

// NewKey wraps an Ed25519 private key.
func NewKey(priv ed25519.PrivateKey) *Key {
	pub := priv.Public().(ed25519.PublicKey)
	return &Key{priv: priv, id: KeyID(pub)}
}

// GenerateKey returns a new random key.
func GenerateKey() (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("audit: generating key: %w", err)
	}
	return NewKey(priv), nil
}

// KeyID returns the key's id.
func (k *Key) KeyID() string { return k.id }

// Sign signs msg with Ed25519.
func (k *Key) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(k.priv, msg), nil }

// Public returns the ed25519.PublicKey.
func (k *Key) Public() crypto.PublicKey { return k.priv.Public() }

// KeySet returns a key set holding only k's public key.
func (k *Key) KeySet() KeySet {
	return KeySet{k.id: k.priv.Public().(ed25519.PublicKey)}
}

// KeyID returns the RFC 7638 JWK thumbprint of an Ed25519 public key
// (base64url, no padding), the id [Key] uses.
func KeyID(pub ed25519.PublicKey) string {
	// Members in lexicographic order, no whitespace (RFC 7638 section 3.2;
	// RFC 8037 section 2 for OKP keys).
	canon := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// LoadOrCreateKey reads the PEM (PKCS #8) Ed25519 private key at path, or,
// when the file does not exist, generates one and writes it there with mode
// 0600. Creation is atomic: concurrent callers end up with the same key. A
// key file readable or writable by group or others is refused.
func LoadOrCreateKey(path string) (*Key, error) {
	k, err := LoadKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	nk, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(nk.priv)
	if err != nil {
		return nil, fmt.Errorf("audit: encoding key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	tmp, err := os.CreateTemp(filepath.Dir(path), ".audit-key-*")
	if err != nil {
		return nil, fmt.Errorf("audit: creating key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600; write, sync, then link into place so
	// that no reader ever sees a partial key and a concurrent creator's key
	// wins over ours rather than being overwritten.
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("audit: writing key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("audit: creating key file: %w", err)
	}
	return LoadKey(path)
}

// LoadKey reads the PEM (PKCS #8) Ed25519 private key at path. A key file
// readable or writable by group or others is refused.
func LoadKey(path string) (*Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("audit: reading key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("audit: key file %s has mode %04o: it must not be accessible by group or others (chmod 600)", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: reading key: %w", err)
	}
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("audit: %s holds no PEM PRIVATE KEY block", path)
		}
		if block.Type != "PRIVATE KEY" {
			continue
		}
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("audit: parsing key in %s: %w", path, err)
		}
		priv, ok := key.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("audit: key in %s is %T, want Ed25519", path, key)
		}
		return NewKey(priv), nil
	}
}

// jwk is the subset of RFC 7517/8037 the key set files use.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	Kid string `json:"kid,omitempty"`
	X   string `json:"x"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

type jwks struct {
	Keys []jwk `json:"keys"`
}

// ReadKeySet reads pinned verification keys from a file; see [ParseKeySet].
func ReadKeySet(path string) (KeySet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: reading keys: %w", err)
	}
	ks, err := ParseKeySet(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return ks, nil
}

// ParseKeySet parses Ed25519 public keys from a JWKS document
// ({"keys":[{"kty":"OKP","crv":"Ed25519","kid":...,"x":...}]}; a key without
// kid gets its thumbprint) or from PEM blocks: PUBLIC KEY (PKIX) or PRIVATE
// KEY (PKCS #8, as [LoadOrCreateKey] writes), whose ids are their
// thumbprints. Keys of other types are an error.
func ParseKeySet(data []byte) (KeySet, error) {
	ks := KeySet{}
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		if err := ks.UnmarshalJSON(trimmed); err != nil {
			return nil, err
		}
	} else {
		for rest := data; ; {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			var key any
			var err error
			switch block.Type {
			case "PUBLIC KEY":
				key, err = x509.ParsePKIXPublicKey(block.Bytes)
			case "PRIVATE KEY":
				key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
			default:
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("audit: parsing %s: %w", block.Type, err)
			}
			var pub ed25519.PublicKey
			switch k := key.(type) {
			case ed25519.PublicKey:
				pub = k
			case ed25519.PrivateKey:
				pub = k.Public().(ed25519.PublicKey)
			default:
				return nil, fmt.Errorf("audit: %s is %T, want Ed25519", block.Type, key)
			}
			ks[KeyID(pub)] = pub
		}
	}
	if len(ks) == 0 {
		return nil, errors.New("audit: no Ed25519 keys found")
	}
	return ks, nil
}

// MarshalJSON encodes the key set as a JWKS document, keys sorted by id.
func (s KeySet) MarshalJSON() ([]byte, error) {
	ids := make([]string, 0, len(s))
	for id := range s {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	doc := jwks{Keys: make([]jwk, 0, len(ids))}
	for _, id := range ids {
		doc.Keys = append(doc.Keys, jwk{
			Kty: "OKP", Crv: "Ed25519", Kid: id, Use: "sig", Alg: "EdDSA",
			X: base64.RawURLEncoding.EncodeToString(s[id]),
		})
	}
	return json.Marshal(doc)
}

// UnmarshalJSON decodes a JWKS document of Ed25519 keys into s, adding to
// what s holds. A key without kid gets its thumbprint as id.
func (s *KeySet) UnmarshalJSON(data []byte) error {
	var doc jwks
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("audit: parsing key set: %w", err)
	}
	if *s == nil {
		*s = KeySet{}
	}
	for i, k := range doc.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" {
			return fmt.Errorf("audit: key %d is %s/%s, want OKP/Ed25519", i, k.Kty, k.Crv)
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return fmt.Errorf("audit: key %d: bad x", i)
		}
		id := k.Kid
		if id == "" {
			id = KeyID(x)
		}
		(*s)[id] = ed25519.PublicKey(x)
	}
	return nil
}

// publicKeyOf returns the Ed25519 public key of s if s exposes one.
func publicKeyOf(s Signer) (ed25519.PublicKey, bool) {
	p, ok := s.(interface{ Public() crypto.PublicKey })
	if !ok {
		return nil, false
	}
	pub, ok := p.Public().(ed25519.PublicKey)
	return pub, ok
}
