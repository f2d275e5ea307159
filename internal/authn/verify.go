package authn

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/airgate/airgate/internal/authn/jwks"
	"github.com/airgate/airgate/internal/identity"
)

// TokenVerifier verifies a raw bearer token and returns the principal it
// proves. A rejected token yields an [*Error]; any other error means the
// check could not run. Implementations MUST be safe for concurrent use, and
// the returned principal MUST NOT be modified by the caller.
type TokenVerifier interface {
	Verify(ctx context.Context, raw string) (*identity.Principal, error)
}

// Interface guards.
var (
	_ TokenVerifier = (*Verifier)(nil)
	_ TokenVerifier = (*Multi)(nil)
)

// Verifier verifies Microsoft Entra ID access tokens. Build it with [New];
// it is safe for concurrent use. Close it to stop key fetches in flight.
type Verifier struct {
	cfg       *config
	keys      *jwks.Cache
	ownKeys   bool
	discovery *discovery  // nil when the JWKS URL is a template
	cache     *tokenCache // nil when disabled
	joseAlgs  []jose.SignatureAlgorithm

	hits, misses atomic.Uint64
}

// Stats are cumulative counters of a [Verifier], for metrics.
type Stats struct {
	// CacheHits and CacheMisses count verified-token cache lookups; a
	// hit skips all verification work.
	CacheHits, CacheMisses uint64
	// CachedTokens is the number of principals cached now.
	CachedTokens int
	// Keys are the key-set cache's counters (refreshes and failures).
	Keys jwks.Stats
}

// New checks opts and returns a Verifier. It fetches nothing; call
// [Verifier.Ready] to warm the key cache.
func New(opts Options) (*Verifier, error) {
	cfg, err := opts.compile()
	if err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg, keys: opts.Keys}
	if v.keys == nil {
		v.keys = jwks.New(jwks.Options{HTTPClient: cfg.client, Now: cfg.now})
		v.ownKeys = true
	}
	if cfg.jwksURL == "" {
		v.discovery = newDiscovery(cfg.discovery, cfg.issuer[Version2], cfg.client, cfg.now)
	}
	if cfg.cacheSize > 0 {
		v.cache = newTokenCache(cfg.cacheSize)
	}
	for _, a := range cfg.algList {
		v.joseAlgs = append(v.joseAlgs, jose.SignatureAlgorithm(a))
	}
	return v, nil
}

// Close stops discovery and key fetches in flight (the key cache only if
// the Verifier created it). Verify keeps working from cached keys.
func (v *Verifier) Close() error {
	if v.discovery != nil {
		v.discovery.close()
	}
	if v.ownKeys {
		return v.keys.Close()
	}
	return nil
}

// Stats returns the verifier's counters.
func (v *Verifier) Stats() Stats {
	s := Stats{CacheHits: v.hits.Load(), CacheMisses: v.misses.Load(), Keys: v.keys.Stats()}
	if v.cache != nil {
		s.CachedTokens = v.cache.len()
	}
	return s
}

// Loaded reports whether signing keys have ever been fetched.
func (v *Verifier) Loaded() bool { return v.keys.Loaded() }

// Ready fetches, if not cached yet, the signing keys of every configured
// tenant and reports whether all are available, for /-/readyz. A
// multi-tenant ("*") configuration has no keys to fetch ahead and is
// ready when the listed tenants (if any) are. Errors wrap
// ErrKeysUnavailable or are ctx.Err().
func (v *Verifier) Ready(ctx context.Context) error {
	var errs []error
	for _, tid := range v.cfg.tenants {
		u, err := v.jwksURL(ctx, tid)
		if err == nil {
			err = v.keys.Ready(ctx, u)
		}
		if err != nil {
			if errors.Is(err, jwks.ErrUnavailable) {
				err = fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Verify checks raw, an Entra access token, and returns the principal it
// proves. The returned principal is shared and MUST NOT be modified.
//
// Cheap checks run first, so that garbage cannot cause key fetches: size,
// compact serialization (hence exactly one signature), alg in the
// allow-list, kid present, no Graph nonce, payload, ver, iss for the
// token's tid and version, aud, exp/nbf/iat with the clock skew, tid
// allowed, oid and sub present, a client named (azp or appid, which ID
// tokens lack). Then the signature is checked with the key for kid from the
// tenant's key set; an unknown kid triggers at most one (rate-limited)
// refresh. Principals are cached by the token's SHA-256 until the token
// expires, and a cached token skips every check but expiry.
//
// Rejections are *Error values. If no keys can be had, the error wraps
// ErrKeysUnavailable; if ctx ends while waiting for keys, it wraps
// ctx.Err(). Verify does not check the token's nonce, scopes or roles:
// authorization decides what they allow.
func (v *Verifier) Verify(ctx context.Context, raw string) (*identity.Principal, error) {
	if raw == "" {
		return nil, ErrNoCredentials
	}
	if len(raw) > v.cfg.maxBytes {
		return nil, reject(CodeTokenTooLarge, "token larger than the limit")
	}
	sum := hashToken(raw)
	now := v.cfg.now()
	if v.cache != nil {
		if p := v.cache.get(&sum, now); p != nil {
			v.hits.Add(1)
			return p, nil
		}
		v.misses.Add(1)
	}

	h, c, err := v.parse(raw)
	if err != nil {
		return nil, err
	}
	aud, err := v.checkClaims(c, now)
	if err != nil {
		return nil, err
	}
	if err := v.checkSignature(ctx, raw, h, c); err != nil {
		return nil, err
	}
	p := c.principal(aud, fingerprintOf(&sum))
	if v.cache != nil {
		v.cache.put(&sum, p, p.Expiry, now)
	}
	return p, nil
}

var b64 = base64.RawURLEncoding.Strict()

// parse decodes the compact JWS and runs the checks that need no claim:
// serialization, alg, kid, Graph nonce, crit.
func (v *Verifier) parse(raw string) (*header, *claims, error) {
	hdr, rest, ok1 := strings.Cut(raw, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sig, '.') >= 0 {
		return nil, nil, reject(CodeMalformedToken, "not a compact JWS of three parts")
	}
	hb, err := b64.DecodeString(hdr)
	if err != nil {
		return nil, nil, reject(CodeMalformedToken, "header is not base64url")
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, nil, reject(CodeMalformedToken, "header is not a JSON object")
	}
	if !v.cfg.algs[h.Alg] {
		return nil, nil, reject(CodeAlgNotAllowed, "alg not in the allow-list")
	}
	if h.Kid == "" {
		return nil, nil, reject(CodeMalformedToken, "no kid in header")
	}
	if len(h.Nonce) > 0 {
		return nil, nil, reject(CodeGraphToken, "header has a nonce: a Microsoft Graph token, not one for this API")
	}
	if len(h.Crit) > 0 {
		return nil, nil, reject(CodeMalformedToken, "critical header extensions are not supported")
	}
	if sig == "" {
		return nil, nil, reject(CodeMalformedToken, "empty signature")
	}
	pb, err := b64.DecodeString(payload)
	if err != nil {
		return nil, nil, reject(CodeMalformedToken, "payload is not base64url")
	}
	var c claims
	if err := json.Unmarshal(pb, &c); err != nil {
		return nil, nil, reject(CodeMalformedToken, "payload is not a JSON object of the expected claim types")
	}
	return &h, &c, nil
}

// checkClaims runs the claim checks and returns the matched audience.
func (v *Verifier) checkClaims(c *claims, now time.Time) (string, error) {
	iss, ok := v.cfg.issuer[c.Ver]
	if !ok {
		return "", reject(CodeUnsupportedVersion, "ver is not an accepted token version")
	}
	if !isGUID(c.Tid) {
		return "", reject(CodeWrongTenant, "tid missing or not a GUID")
	}
	if !iss.matches(c.Iss, c.Tid) {
		return "", reject(CodeWrongIssuer, "iss is not the issuer of the token's tenant and version")
	}
	aud := v.matchAudience(c.Aud)
	if aud == "" {
		return "", reject(CodeWrongAudience, "aud is not an accepted audience")
	}
	if c.Exp == nil {
		return "", reject(CodeMalformedToken, "no exp claim")
	}
	skew := v.cfg.skew
	if !now.Before(c.Exp.Add(skew)) {
		return "", reject(CodeTokenExpired, "token has expired")
	}
	if c.Nbf != nil && now.Before(c.Nbf.Add(-skew)) {
		return "", reject(CodeTokenNotYetValid, "token is not valid yet (nbf)")
	}
	if c.Iat != nil && now.Before(c.Iat.Add(-skew)) {
		return "", reject(CodeTokenNotYetValid, "token issued in the future (iat)")
	}
	if !v.tenantAllowed(c.Tid) {
		return "", reject(CodeWrongTenant, "tid is not an allowed tenant")
	}
	if c.Oid == "" || c.Sub == "" {
		return "", reject(CodeMalformedToken, "oid or sub missing")
	}
	// Every Entra access token names its client (ENTRA.md §2.1); an ID
	// token, whose aud is the client itself, does not.
	if c.Azp == "" && c.Appid == "" {
		return "", reject(CodeNotAccessToken, "no azp or appid: not an access token")
	}
	return aud, nil
}

func (v *Verifier) tenantAllowed(tid string) bool {
	if v.cfg.anyTenant {
		return true
	}
	for _, t := range v.cfg.tenants {
		if strings.EqualFold(t, tid) {
			return true
		}
	}
	return false
}

// matchAudience returns the first accepted value of aud, or "".
func (v *Verifier) matchAudience(aud audience) string {
	for _, a := range aud {
		if v.cfg.audiences[a] {
			return a
		}
		if isGUID(a) && v.cfg.audiences[strings.ToLower(a)] {
			return a
		}
	}
	return ""
}

// checkSignature fetches the key for h.Kid from the tenant's key set and
// verifies raw's signature with it.
func (v *Verifier) checkSignature(ctx context.Context, raw string, h *header, c *claims) error {
	u, err := v.jwksURL(ctx, c.Tid)
	if err != nil {
		return err
	}
	key, err := v.keys.Key(ctx, u, h.Kid)
	switch {
	case err == nil:
	case errors.Is(err, jwks.ErrKeyNotFound):
		return reject(CodeUnknownKey, "no signing key with the token's kid")
	case errors.Is(err, jwks.ErrUnavailable):
		return fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	case ctx.Err() != nil:
		return fmt.Errorf("authn: waiting for signing keys: %w", err)
	default:
		return fmt.Errorf("authn: getting signing key: %w", err)
	}
	if key.Algorithm != "" && key.Algorithm != h.Alg {
		return reject(CodeBadSignature, "signing key is published for another algorithm")
	}
	if !keyFits(key, h.Alg) {
		return reject(CodeBadSignature, "signing key does not fit the algorithm")
	}
	// Entra's key issuer rule (ENTRA.md §1.4): a v2 key that names an
	// issuer (possibly the {tenantid} template) signs only for it. v1 tokens
	// are checked with the same keys, whose issuer is the v2 one, so the
	// rule does not apply to them.
	if key.Issuer != "" && c.Ver == Version2 &&
		strings.ReplaceAll(normalizeTemplate(key.Issuer), TenantPlaceholder, c.Tid) != c.Iss {
		return reject(CodeWrongIssuer, "signing key belongs to another issuer")
	}
	if pub, ok := key.Public.(*rsa.PublicKey); ok && h.Alg == "RS256" {
		// Entra's algorithm, checked directly over the token as sent: the
		// header parse() read is the only one, and the work is the
		// signature's alone.
		if !verifyRS256(raw, pub) {
			return reject(CodeBadSignature, "signature does not verify")
		}
		return nil
	}
	jws, err := jose.ParseSignedCompact(raw, v.joseAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return reject(CodeMalformedToken, "token does not parse as a JWS")
	}
	// Both parsers must have read the same header.
	if sh := jws.Signatures[0].Protected; sh.Algorithm != h.Alg || sh.KeyID != h.Kid {
		return reject(CodeMalformedToken, "ambiguous header")
	}
	if _, err := jws.Verify(key.Public); err != nil {
		return reject(CodeBadSignature, "signature does not verify")
	}
	return nil
}

// verifyRS256 reports whether the compact JWS raw (three parts, as parse
// checked) carries a valid RSASSA-PKCS1-v1_5 SHA-256 signature by pub over
// its signing input, the first two parts exactly as sent (RFC 7515 §5.2).
func verifyRS256(raw string, pub *rsa.PublicKey) bool {
	dot := strings.LastIndexByte(raw, '.')
	if dot < 0 {
		return false
	}
	sig, err := b64.DecodeString(raw[dot+1:])
	if err != nil {
		return false
	}
	h := sha256.New()
	_, _ = io.WriteString(h, raw[:dot])
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h.Sum(nil), sig) == nil
}

// keyFits reports whether key can verify alg: RSA keys for RS* and PS*
// (the key set refuses RSA keys under 2048 bits), EC keys on the
// algorithm's curve for ES*.
func keyFits(key *jwks.Key, alg string) bool {
	switch pub := key.Public.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return pub.Curve == elliptic.P256()
		case "ES384":
			return pub.Curve == elliptic.P384()
		case "ES512":
			return pub.Curve == elliptic.P521()
		}
	}
	return false
}

// jwksURL returns the key set URL of tenant tid (a validated GUID).
func (v *Verifier) jwksURL(ctx context.Context, tid string) (string, error) {
	tid = strings.ToLower(tid)
	if v.discovery != nil {
		u, err := v.discovery.jwksURL(ctx, tid)
		if err != nil && !errors.Is(err, ErrKeysUnavailable) {
			return "", fmt.Errorf("authn: waiting for discovery: %w", err)
		}
		return u, err
	}
	return strings.ReplaceAll(v.cfg.jwksURL, TenantPlaceholder, tid), nil
}
