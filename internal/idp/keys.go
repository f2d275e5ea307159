package idp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// signingKey is one token-signing key with the self-signed certificate
// Entra publishes for it in x5c.
type signingKey struct {
	kid     string // base64url SHA-1 thumbprint of certDER; also x5t
	priv    *rsa.PrivateKey
	certDER []byte
	// removeAt is when the key leaves the JWKS; zero while it is current
	// or next.
	removeAt time.Time
}

// keyring holds the signing keys. The current key signs; the next key is
// already published so verifiers have it before it signs; retired keys
// stay published until every token they signed has expired.
type keyring struct {
	retain time.Duration // how long a retired key stays published

	mu      sync.RWMutex // guards the fields below
	current *signingKey
	next    *signingKey
	retired []*signingKey
}

func newKeyring(now time.Time, retain time.Duration) (*keyring, error) {
	cur, err := newSigningKey(now)
	if err != nil {
		return nil, err
	}
	next, err := newSigningKey(now)
	if err != nil {
		return nil, err
	}
	return &keyring{retain: retain, current: cur, next: next}, nil
}

func newSigningKey(now time.Time) (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating signing key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "accounts.accesscontrol.windows.net"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("creating signing certificate: %w", err)
	}
	sum := sha1.Sum(der)
	return &signingKey{kid: base64.RawURLEncoding.EncodeToString(sum[:]), priv: priv, certDER: der}, nil
}

// signer returns the key that signs now.
func (k *keyring) signer() *signingKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.current
}

// published returns the keys in the JWKS at now: current, next, and
// retired keys whose tokens may still be valid.
func (k *keyring) published(now time.Time) []*signingKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := []*signingKey{k.current, k.next}
	for _, r := range k.retired {
		if now.Before(r.removeAt) {
			out = append(out, r)
		}
	}
	return out
}

// byKID finds a published key.
func (k *keyring) byKID(kid string, now time.Time) *signingKey {
	for _, s := range k.published(now) {
		if s.kid == kid {
			return s
		}
	}
	return nil
}

// roll retires the current key, promotes the already-published next key
// to signer and publishes a fresh next key.
func (k *keyring) roll(now time.Time) error {
	fresh, err := newSigningKey(now)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	old := k.current
	old.removeAt = now.Add(k.retain)
	kept := k.retired[:0:0]
	for _, r := range k.retired {
		if now.Before(r.removeAt) {
			kept = append(kept, r)
		}
	}
	k.retired = append(kept, old)
	k.current = k.next
	k.next = fresh
	return nil
}

// jwk is one key of a JWKS, in the member order Entra uses.
type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	Kid    string   `json:"kid"`
	X5t    string   `json:"x5t"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X5c    []string `json:"x5c"`
	Issuer string   `json:"issuer,omitempty"`
}

// jwks renders the published keys; issuer is set on v2 key sets only.
func (k *keyring) jwks(now time.Time, issuer string) map[string][]jwk {
	keys := []jwk{}
	for _, s := range k.published(now) {
		pub := s.priv.PublicKey
		keys = append(keys, jwk{
			Kty: "RSA", Use: "sig", Kid: s.kid, X5t: s.kid,
			N:      base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			E:      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
			X5c:    []string{base64.StdEncoding.EncodeToString(s.certDER)},
			Issuer: issuer,
		})
	}
	return map[string][]jwk{"keys": keys}
}
