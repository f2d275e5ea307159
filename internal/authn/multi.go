package authn

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/airgate/airgate/internal/identity"
)

// Multi routes each token to one of several verifiers by the token's
// issuer, read before any verification. The issuer only chooses which
// verifier, and so which keys and rules, apply; the chosen verifier runs
// every check itself, including the issuer check. It is safe for
// concurrent use; its fields must not change after construction.
//
// Typical wiring: the Entra [Verifier] as the fallback and airgate's own
// issuer (for RFC 8693 exchanged tokens) in ByIssuer.
type Multi struct {
	// ByIssuer maps exact iss values to their verifier.
	ByIssuer map[string]TokenVerifier
	// Fallback verifies tokens whose issuer is not in ByIssuer; nil
	// rejects them with CodeWrongIssuer.
	Fallback TokenVerifier
	// MaxTokenBytes bounds the raw token; default 16 KiB.
	MaxTokenBytes int
}

// Verify reads the token's unverified iss and hands the token to the
// verifier for it.
func (m *Multi) Verify(ctx context.Context, raw string) (*identity.Principal, error) {
	if raw == "" {
		return nil, ErrNoCredentials
	}
	limit := m.MaxTokenBytes
	if limit <= 0 {
		limit = DefaultMaxTokenBytes
	}
	if len(raw) > limit {
		return nil, reject(CodeTokenTooLarge, "token larger than the limit")
	}
	iss, ok := peekIssuer(raw)
	if !ok {
		return nil, reject(CodeMalformedToken, "no readable issuer")
	}
	if v := m.ByIssuer[iss]; v != nil {
		return v.Verify(ctx, raw)
	}
	if m.Fallback != nil {
		return m.Fallback.Verify(ctx, raw)
	}
	return nil, reject(CodeWrongIssuer, "no verifier for the issuer")
}

// peekIssuer returns the iss claim of a compact JWS without verifying
// anything. The result is untrusted and serves only to choose a verifier.
func peekIssuer(raw string) (string, bool) {
	_, rest, ok1 := strings.Cut(raw, ".")
	payload, _, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 {
		return "", false
	}
	pb, err := b64.DecodeString(payload)
	if err != nil {
		return "", false
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(pb, &c); err != nil || c.Iss == "" {
		return "", false
	}
	return c.Iss, true
}
