package tokens

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/airgate/airgate/internal/identity"
)

// KeyLookup finds airgate's published token-signing keys. The server
// adapts the keyring to it.
type KeyLookup interface {
	// VerificationKey returns the public key and JWS algorithm of the
	// published token key kid; ok is false when there is none (unknown,
	// unpublished, or a key of another use).
	VerificationKey(kid string) (pub crypto.PublicKey, alg string, ok bool)
}

// RevocationChecker answers whether an exchanged token is revoked; [Store]
// implements it. An error means the check could not run.
type RevocationChecker interface {
	Revoked(ctx context.Context, jti string, ids []string, issuedAt time.Time) (bool, error)
}

// VerifyOptions configure a [Verifier].
type VerifyOptions struct {
	// Issuer is airgate's issuer URL; iss must equal it. Required.
	Issuer string
	// Audiences are the accepted aud values. Required.
	Audiences []string
	// Keys finds signing keys by kid. Required.
	Keys KeyLookup
	// Revocations is checked for every token. Required.
	Revocations RevocationChecker
	// ClockSkew is the tolerance on exp, nbf and iat.
	ClockSkew time.Duration
	// Fingerprint computes Principal.TokenFingerprint; default the first
	// 16 hex characters of the token's SHA-256 (authn.Fingerprint's form).
	Fingerprint func(raw string) string
	// MaxTokenBytes bounds the raw token; default 16 KiB.
	MaxTokenBytes int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Verifier verifies tokens airgate issued by exchange: ES256 only, typ
// at+jwt, a kid of a published token key, iss, aud, exp, nbf and iat, a
// well-formed scope, and not revoked. It is safe for concurrent use.
type Verifier struct {
	o VerifyOptions
}

// NewVerifier checks o and returns a Verifier.
func NewVerifier(o VerifyOptions) (*Verifier, error) {
	if o.Issuer == "" || len(o.Audiences) == 0 || o.Keys == nil || o.Revocations == nil {
		return nil, errors.New("tokens: verifier issuer, audiences, keys and revocations are required")
	}
	if o.Fingerprint == nil {
		o.Fingerprint = func(raw string) string {
			sum := sha256.Sum256([]byte(raw))
			return hex.EncodeToString(sum[:8])
		}
	}
	if o.MaxTokenBytes <= 0 {
		o.MaxTokenBytes = 16 << 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Verifier{o: o}, nil
}

// Rejection codes of [VerifyError]; they are the same words as authn's.
const (
	CodeMalformedToken   = "malformed-token"
	CodeTokenTooLarge    = "token-too-large"
	CodeAlgNotAllowed    = "alg-not-allowed"
	CodeUnknownKey       = "unknown-key"
	CodeBadSignature     = "bad-signature"
	CodeTokenExpired     = "token-expired"
	CodeTokenNotYetValid = "token-not-yet-valid"
	CodeWrongIssuer      = "wrong-issuer"
	CodeWrongAudience    = "wrong-audience"
	CodeTokenRevoked     = "token-revoked"
)

// VerifyError is a rejected token. Err says more for the operator log and
// never holds token content.
type VerifyError struct {
	Code string
	Err  error
}

func (e *VerifyError) Error() string { return "tokens: " + e.Code + ": " + e.Err.Error() }

// Unwrap returns the detail.
func (e *VerifyError) Unwrap() error { return e.Err }

func rejectToken(code, detail string) error {
	return &VerifyError{Code: code, Err: errors.New(detail)}
}

var b64 = base64.RawURLEncoding.Strict()

type jwsHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// Verify checks raw and returns the agent principal it proves. Rejections
// are *VerifyError; an error wrapping ErrRevocationUnavailable (or another
// non-rejection) means the check could not run and the caller MUST deny.
// The returned principal MUST NOT be modified.
func (v *Verifier) Verify(ctx context.Context, raw string) (*identity.Principal, error) {
	if len(raw) > v.o.MaxTokenBytes {
		return nil, rejectToken(CodeTokenTooLarge, "token larger than the limit")
	}
	c, h, err := parseUnverified(raw)
	if err != nil {
		return nil, err
	}
	if h.Alg != string(jose.ES256) {
		return nil, rejectToken(CodeAlgNotAllowed, "exchanged tokens are ES256 only")
	}
	if h.Typ != JWTType {
		return nil, rejectToken(CodeMalformedToken, "typ is not at+jwt")
	}
	if h.Kid == "" || len(h.Crit) > 0 {
		return nil, rejectToken(CodeMalformedToken, "no kid, or critical header extensions")
	}
	if c.Issuer != v.o.Issuer {
		return nil, rejectToken(CodeWrongIssuer, "iss is not airgate's issuer")
	}
	if !slices.Contains(v.o.Audiences, c.Audience) {
		return nil, rejectToken(CodeWrongAudience, "aud is not an accepted audience")
	}
	now, skew := v.o.Now(), v.o.ClockSkew
	switch {
	case c.Expiry == 0 || c.IssuedAt == 0:
		return nil, rejectToken(CodeMalformedToken, "exp or iat missing")
	case !now.Before(time.Unix(c.Expiry, 0).Add(skew)):
		return nil, rejectToken(CodeTokenExpired, "token has expired")
	case now.Before(time.Unix(c.NotBefore, 0).Add(-skew)), now.Before(time.Unix(c.IssuedAt, 0).Add(-skew)):
		return nil, rejectToken(CodeTokenNotYetValid, "token is not valid yet")
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	pub, alg, ok := v.o.Keys.VerificationKey(h.Kid)
	if !ok {
		return nil, rejectToken(CodeUnknownKey, "no published token key with the token's kid")
	}
	if ec, isEC := pub.(*ecdsa.PublicKey); alg != string(jose.ES256) || !isEC || ec.Curve != elliptic.P256() {
		return nil, rejectToken(CodeBadSignature, "the key is not an ES256 key")
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, rejectToken(CodeMalformedToken, "token does not parse as a JWS")
	}
	if sh := jws.Signatures[0].Protected; sh.Algorithm != h.Alg || sh.KeyID != h.Kid {
		return nil, rejectToken(CodeMalformedToken, "ambiguous header")
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return nil, rejectToken(CodeBadSignature, "signature does not verify")
	}
	// The checks above read the same payload segment; from here on only
	// what the signature covers is used.
	var signed Claims
	if err := json.Unmarshal(payload, &signed); err != nil || signed.ID != c.ID {
		return nil, rejectToken(CodeMalformedToken, "signed payload differs")
	}
	c = &signed
	revoked, err := v.o.Revocations.Revoked(ctx, c.ID, c.revocationIDs(), time.Unix(c.IssuedAt, 0))
	if err != nil {
		return nil, fmt.Errorf("tokens: checking revocation: %w", err)
	}
	if revoked {
		return nil, rejectToken(CodeTokenRevoked, "token revoked")
	}
	return c.Principal(v.o.Fingerprint(raw)), nil
}

// parseUnverified decodes a compact JWS's header and claims without
// checking anything else.
func parseUnverified(raw string) (*Claims, *jwsHeader, error) {
	hdr, rest, ok1 := strings.Cut(raw, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || sig == "" || strings.IndexByte(sig, '.') >= 0 {
		return nil, nil, rejectToken(CodeMalformedToken, "not a compact JWS of three parts")
	}
	hb, err := b64.DecodeString(hdr)
	if err != nil {
		return nil, nil, rejectToken(CodeMalformedToken, "header is not base64url")
	}
	var h jwsHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, nil, rejectToken(CodeMalformedToken, "header is not a JSON object")
	}
	pb, err := b64.DecodeString(payload)
	if err != nil {
		return nil, nil, rejectToken(CodeMalformedToken, "payload is not base64url")
	}
	var c Claims
	dec := json.NewDecoder(bytes.NewReader(pb))
	if err := dec.Decode(&c); err != nil {
		return nil, nil, rejectToken(CodeMalformedToken, "payload is not a JSON object of the expected claim types")
	}
	return &c, &h, nil
}

// check validates the claims a principal is built from.
func (c *Claims) check() error {
	if c.ID == "" || c.Subject == "" || c.TenantID == "" || c.ObjectID == "" {
		return rejectToken(CodeMalformedToken, "jti, sub, tid or oid missing")
	}
	if c.Type != string(identity.User) && c.Type != string(identity.App) {
		return rejectToken(CodeMalformedToken, "idtyp is not user or app")
	}
	if _, err := ParseScope(c.Scope); err != nil {
		return rejectToken(CodeMalformedToken, "scope does not parse")
	}
	if a := c.Actor; a != nil {
		if a.Subject == "" || a.ObjectID == "" || (a.Type != string(identity.User) && a.Type != string(identity.App)) {
			return rejectToken(CodeMalformedToken, "act lacks sub, oid or idtyp")
		}
	}
	return nil
}

// revocationIDs are the identifiers a subject revocation may name: the
// subject's and actor's object ids, app ids and UPNs.
func (c *Claims) revocationIDs() []string {
	ids := []string{c.Subject, c.ObjectID, c.AppID, c.UPN}
	if a := c.Actor; a != nil {
		ids = append(ids, a.Subject, a.ObjectID, a.AppID, a.UPN)
	}
	return ids
}

// Decode reads an exchanged token's header and claims WITHOUT verifying
// anything: not the signature, not the issuer, not the expiry. It is for
// display (`airgate token inspect`); nothing it returns may be trusted.
func Decode(raw string) (claims *Claims, kid, alg, typ string, err error) {
	c, h, err := parseUnverified(strings.TrimSpace(raw))
	if err != nil {
		return nil, "", "", "", err
	}
	return c, h.Kid, h.Alg, h.Typ, nil
}
