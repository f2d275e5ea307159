package authn

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/airgate/airgate/internal/identity"
)

// tokenKey identifies a raw token in the verified-token cache.
type tokenKey = [sha256.Size]byte

// Fingerprint identifies a raw token in logs and audit records without
// revealing it: the first 16 hex characters of its SHA-256. It is safe for
// concurrent use.
func Fingerprint(raw string) string {
	sum := hashToken(raw)
	return fingerprintOf(&sum)
}

// hashBufs holds scratch buffers for hashToken, so that hashing a string
// does not allocate a copy on every call (the cache-hit path).
var hashBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// hashToken returns the SHA-256 of raw.
func hashToken(raw string) tokenKey {
	bp := hashBufs.Get().(*[]byte)
	b := append((*bp)[:0], raw...)
	sum := sha256.Sum256(b)
	*bp = b[:0]
	hashBufs.Put(bp)
	return sum
}

func fingerprintOf(sum *tokenKey) string { return hex.EncodeToString(sum[:8]) }

// tokenCache holds principals of verified tokens until the tokens expire.
// It is safe for concurrent use.
type tokenCache struct {
	max int

	mu      sync.RWMutex // guards entries
	entries map[tokenKey]tokenEntry
}

type tokenEntry struct {
	p      *identity.Principal
	expiry time.Time
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, entries: make(map[tokenKey]tokenEntry)}
}

// get returns the cached principal for k if its token has not expired at
// now.
func (c *tokenCache) get(k *tokenKey, now time.Time) *identity.Principal {
	c.mu.RLock()
	e, ok := c.entries[*k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expiry) {
		return nil
	}
	return e.p
}

// put caches p until expiry. When the cache is full it first drops expired
// entries and, if that is not enough, arbitrary ones down to 7/8 of the
// bound, so that the sweep's cost is spread over many insertions.
func (c *tokenCache) put(k *tokenKey, p *identity.Principal, expiry, now time.Time) {
	if !now.Before(expiry) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[*k]; !ok && len(c.entries) >= c.max {
		for key, e := range c.entries {
			if !now.Before(e.expiry) {
				delete(c.entries, key)
			}
		}
		low := min(c.max-c.max/8, c.max-1)
		for key := range c.entries {
			if len(c.entries) <= low {
				break
			}
			delete(c.entries, key) // map order is arbitrary
		}
	}
	c.entries[*k] = tokenEntry{p: p, expiry: expiry}
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
