package idp

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// passwordCredential is a client secret. Only its hash is kept, as Entra
// keeps no readable copy.
type passwordCredential struct {
	keyID, displayName, hint string
	hash                     [32]byte
	start, end               time.Time
}

// keyCredential is a certificate credential.
type keyCredential struct {
	keyID, displayName string
	cert               *x509.Certificate
	start, end         time.Time
	sha1               [20]byte
	sha256             [32]byte
}

const secretAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.~"

// newSecretText generates a 40-character secret shaped like Entra's: three
// characters, "8Q~", then 34 more.
func newSecretText() string {
	b := make([]byte, 37)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	var sb strings.Builder
	for i, c := range b {
		if i == 3 {
			sb.WriteString("8Q~")
		}
		sb.WriteByte(secretAlphabet[int(c)%len(secretAlphabet)])
	}
	return sb.String()
}

// newGUID returns a random version 4 GUID.
func newGUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// randomToken returns n random bytes, base64url-encoded without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// fingerprint is a short, non-reversible label for a secret or token, safe
// to log.
func fingerprint(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:6])
}

// newPasswordCredential builds a secret from text (generated when empty).
// start defaults to now and end to start plus two years, as Graph does.
func newPasswordCredential(text, keyID, displayName string, start, end, now time.Time) (*passwordCredential, string, error) {
	if text == "" {
		text = newSecretText()
	}
	if len(text) < 8 {
		return nil, "", errors.New("secret value must have at least 8 characters")
	}
	if keyID == "" {
		keyID = newGUID()
	} else if !isGUID(keyID) {
		return nil, "", fmt.Errorf("keyId %q is not a GUID", keyID)
	}
	if start.IsZero() {
		start = now
	}
	if end.IsZero() {
		end = start.AddDate(2, 0, 0)
	}
	if !end.After(start) {
		return nil, "", errors.New("endDateTime must be after startDateTime")
	}
	return &passwordCredential{
		keyID: strings.ToLower(keyID), displayName: displayName, hint: text[:3],
		hash: sha256.Sum256([]byte(text)), start: start.UTC(), end: end.UTC(),
	}, text, nil
}

// newKeyCredential builds a certificate credential; start and end default
// to the certificate's validity.
func newKeyCredential(cert *x509.Certificate, keyID, displayName string, start, end time.Time) (*keyCredential, error) {
	if keyID == "" {
		keyID = newGUID()
	} else if !isGUID(keyID) {
		return nil, fmt.Errorf("keyId %q is not a GUID", keyID)
	}
	if start.IsZero() {
		start = cert.NotBefore
	}
	if end.IsZero() {
		end = cert.NotAfter
	}
	if displayName == "" {
		displayName = "CN=" + cert.Subject.CommonName
	}
	return &keyCredential{
		keyID: strings.ToLower(keyID), displayName: displayName, cert: cert,
		start: start.UTC(), end: end.UTC(),
		sha1: sha1.Sum(cert.Raw), sha256: sha256.Sum256(cert.Raw),
	}, nil
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return x509.ParseCertificate(block.Bytes)
}

func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}

// secretCheck is the outcome of checking a client secret.
type secretCheck int

const (
	secretInvalid secretCheck = iota
	secretValid
	secretExpired
)

// checkSecret compares text with the app's secrets in constant time per
// credential.
func (d *directory) checkSecret(a *app, text string, now time.Time) secretCheck {
	h := sha256.Sum256([]byte(text))
	d.mu.Lock()
	defer d.mu.Unlock()
	result := secretInvalid
	for _, pc := range a.passwords {
		if subtle.ConstantTimeCompare(h[:], pc.hash[:]) != 1 {
			continue
		}
		switch {
		case now.After(pc.end):
			result = secretExpired
		case now.Before(pc.start):
			// not yet valid: treated as unknown
		default:
			return secretValid
		}
	}
	return result
}

// keyByThumbprint finds a certificate credential by SHA-1 or SHA-256
// thumbprint.
func (d *directory) keyByThumbprint(a *app, sha1Print, sha256Print []byte) *keyCredential {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range a.keys {
		if (len(sha1Print) > 0 && subtle.ConstantTimeCompare(sha1Print, k.sha1[:]) == 1) ||
			(len(sha256Print) > 0 && subtle.ConstantTimeCompare(sha256Print, k.sha256[:]) == 1) {
			return k
		}
	}
	return nil
}

// addPassword adds a generated secret to a and returns it with its text.
func (d *directory) addPassword(a *app, displayName string, start, end, now time.Time) (*passwordCredential, string, error) {
	pc, text, err := newPasswordCredential("", "", displayName, start, end, now)
	if err != nil {
		return nil, "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	a.passwords = append(a.passwords, pc)
	return pc, text, nil
}

// removePassword removes the secret with keyID; it reports whether one
// was found.
func (d *directory) removePassword(a *app, keyID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, pc := range a.passwords {
		if pc.keyID == strings.ToLower(keyID) {
			a.passwords = append(a.passwords[:i:i], a.passwords[i+1:]...)
			return true
		}
	}
	return false
}

// credentials returns copies of a's credentials.
func (d *directory) credentials(a *app) ([]passwordCredential, []keyCredential) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ps := make([]passwordCredential, len(a.passwords))
	for i, p := range a.passwords {
		ps[i] = *p
	}
	ks := make([]keyCredential, len(a.keys))
	for i, k := range a.keys {
		ks[i] = *k
	}
	return ps, ks
}

// replaceKeys sets a's certificate credentials.
func (d *directory) replaceKeys(a *app, keys []*keyCredential) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a.keys = keys
}
