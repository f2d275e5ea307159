// Package tokens is airgate as a token issuer: it mints the short-lived
// Airflow 3 JWTs that carry the real caller to Airflow, and (for agents and
// jobs) the narrowed tokens of the RFC 8693 exchange. Keys come from the
// caller through the small SigningKey interface; the keyring satisfies it.
package tokens

import (
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/airgate/airgate/internal/catalog"
)

// KeySource returns the key that signs now.
type KeySource interface {
	// SigningKey returns the key id, JWS algorithm and private key.
	SigningKey() (kid string, alg string, key crypto.Signer, err error)
}

// AirflowOptions shape the JWTs minted for Airflow 3.
type AirflowOptions struct {
	// Audience is Airflow's [api_auth] jwt_audience. Required.
	Audience string
	// Issuer is Airflow's [api_auth] jwt_issuer. Required.
	Issuer string
	// TTL is each token's lifetime. Tokens are reused for half of it.
	TTL time.Duration
	// Keys signs the tokens.
	Keys KeySource
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// AirflowMinter mints Airflow 3 JWTs for callers airgate has authorized. It
// is safe for concurrent use. A token for the same subject and role is
// reused while more than half its lifetime remains, so the hot path signs
// rarely.
type AirflowMinter struct {
	o AirflowOptions

	mu sync.Mutex // guards cache
	// cache maps subject + "\x00" + role + "\x00" + kid to a minted token.
	cache map[string]minted
}

type minted struct {
	token   string
	renewAt time.Time
}

// maxMintCache bounds the reuse cache.
const maxMintCache = 10000

// NewAirflowMinter returns a minter.
func NewAirflowMinter(o AirflowOptions) (*AirflowMinter, error) {
	if o.Audience == "" || o.Issuer == "" {
		return nil, errors.New("tokens: Airflow JWT audience and issuer are required")
	}
	if o.Keys == nil {
		return nil, errors.New("tokens: a signing key source is required")
	}
	if o.TTL <= 0 {
		o.TTL = 5 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &AirflowMinter{o: o, cache: map[string]minted{}}, nil
}

// Mint returns a JWT naming subject (the caller, as Airflow will log it) and,
// for the simple auth manager, role (viewer, user, op or admin; empty for
// FAB). Airflow validates kid, aud, iss, exp, iat and nbf.
func (m *AirflowMinter) Mint(subject, role string) (string, error) {
	kid, alg, key, err := m.o.Keys.SigningKey()
	if err != nil {
		return "", fmt.Errorf("tokens: %w", err)
	}
	now := m.o.Now()
	ck := subject + "\x00" + role + "\x00" + kid
	m.mu.Lock()
	if c, ok := m.cache[ck]; ok && now.Before(c.renewAt) {
		m.mu.Unlock()
		return c.token, nil
	}
	m.mu.Unlock()

	claims := map[string]any{
		"sub": subject,
		"iss": m.o.Issuer,
		"aud": m.o.Audience,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(m.o.TTL).Unix(),
		"jti": newJTI(),
	}
	if role != "" {
		claims["role"] = role
	}
	tok, err := Sign(kid, alg, key, claims)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	if len(m.cache) >= maxMintCache {
		for k, c := range m.cache {
			if !now.Before(c.renewAt) || len(m.cache) >= maxMintCache {
				delete(m.cache, k)
			}
		}
	}
	m.cache[ck] = minted{token: tok, renewAt: now.Add(m.o.TTL / 2)}
	m.mu.Unlock()
	return tok, nil
}

// Sign serialises claims as a compact JWS with the kid header.
func Sign(kid, alg string, key crypto.Signer, claims any) (string, error) {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("tokens: signer: %w", err)
	}
	tok, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("tokens: signing: %w", err)
	}
	return tok, nil
}

func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Simple auth manager roles, in Airflow's order.
var simpleOrder = map[string]int{"viewer": 0, "user": 1, "op": 2, "admin": 3}
var simpleNames = []string{"viewer", "user", "op", "admin"}

// SimpleRoleFor returns the least simple auth manager role with which
// Airflow 3 itself allows the operation (simple_auth_manager.py
// _is_authorized): DAG entities need viewer to read and user to change;
// configuration, pools, backfills, assets and asset aliases need viewer to
// read and op to change; connections and variables need op; views need
// viewer; anything else admin. airgate has already authorized the caller, so
// it hands Airflow no more than the operation needs.
func SimpleRoleFor(op *catalog.Operation) string {
	need := 0
	for _, p := range op.Requires {
		r := simpleNeed(p.Resource, p.Action)
		if r > need {
			need = r
		}
	}
	return simpleNames[need]
}

func simpleNeed(resource, method string) int {
	get := method == "GET"
	switch {
	case resource == "DAG" || len(resource) > 4 && resource[:4] == "DAG.":
		if get {
			return simpleOrder["viewer"]
		}
		return simpleOrder["user"]
	case resource == "CONFIGURATION", resource == "POOL", resource == "BACKFILL", resource == "ASSET", resource == "ASSET_ALIAS":
		if get {
			return simpleOrder["viewer"]
		}
		return simpleOrder["op"]
	case resource == "CONNECTION", resource == "VARIABLE":
		return simpleOrder["op"]
	case len(resource) > 5 && resource[:5] == "VIEW.":
		return simpleOrder["viewer"]
	}
	return simpleOrder["admin"]
}
