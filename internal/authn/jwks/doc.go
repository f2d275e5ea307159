// Package jwks caches the signing keys an identity provider publishes as a
// JSON Web Key Set (RFC 7517), per JWKS URL and key id (kid).
//
// A [Cache] answers [Cache.Key] from memory under a read lock. An unknown
// kid starts at most one fetch per URL (single-flight); every waiter selects
// on its own context or the result. Forced fetches are rate-limited by a
// minimum interval, so a flood of tokens with made-up kids cannot flood the
// identity provider. Key sets expire after a TTL taken from the response's
// Cache-Control max-age (bounded, with jitter; 24 h when absent); the first
// use after expiry starts a refresh in the background and is answered from
// the cached keys. Keys are replaced only by a successful fetch, so while the
// provider is unreachable the last good keys keep being served.
//
// Only RSA and EC public keys whose use is "sig" (or unset) are kept; other
// keys in a set are ignored. The package imports no other airgate package.
package jwks
