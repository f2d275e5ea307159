package idp

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// jwtHeader is the JOSE header of the tokens the emulator issues, in the
// member order Entra uses. Nonce is set on Microsoft Graph tokens only.
type jwtHeader struct {
	Typ   string `json:"typ"`
	Nonce string `json:"nonce,omitempty"`
	Alg   string `json:"alg"`
	X5t   string `json:"x5t,omitempty"`
	Kid   string `json:"kid"`
}

// signJWT signs claims with key (RS256). With withX5t the header carries
// x5t (v1 tokens). With graphNonce a random nonce goes in the header and,
// as in Microsoft Graph tokens, the signature covers the header with the
// nonce replaced by base64url(SHA-256(nonce)), so the token does not verify
// with standard JWS verification.
func signJWT(key *signingKey, claims map[string]any, withX5t, graphNonce bool) (string, error) {
	h := jwtHeader{Typ: "JWT", Alg: "RS256", Kid: key.kid}
	if withX5t {
		h.X5t = key.kid
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signed := h
	if graphNonce {
		h.Nonce = randomToken(32)
		signed.Nonce = transformNonce(h.Nonce)
	}
	sigHeader, err := json.Marshal(signed)
	if err != nil {
		return "", err
	}
	input := b64(sigHeader) + "." + b64(payload)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key.priv, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	outHeader, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	return b64(outHeader) + "." + b64(payload) + "." + b64(sig), nil
}

func transformNonce(n string) string {
	sum := sha256.Sum256([]byte(n))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// errTokenSignature and friends classify why verifyJWT refused a token.
var (
	errTokenMalformed = errors.New("malformed token")
	errTokenSignature = errors.New("signature validation failed")
)

// verifyJWT checks a token issued by this emulator: RS256, a published key,
// a valid signature (undoing the Graph nonce transform when the header has
// a nonce). It returns the header and claims; it checks no claim.
func verifyJWT(kr *keyring, token string, now time.Time) (jwtHeader, map[string]any, error) {
	var h jwtHeader
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(token) > 64<<10 {
		return h, nil, errTokenMalformed
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return h, nil, errTokenMalformed
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return h, nil, errTokenMalformed
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return h, nil, errTokenMalformed
	}
	dec := json.NewDecoder(bytes.NewReader(hb))
	if err := dec.Decode(&h); err != nil {
		return h, nil, errTokenMalformed
	}
	var claims map[string]any
	pd := json.NewDecoder(bytes.NewReader(pb))
	pd.UseNumber()
	if err := pd.Decode(&claims); err != nil {
		return h, nil, errTokenMalformed
	}
	if h.Alg != "RS256" {
		return h, nil, errTokenSignature
	}
	key := kr.byKID(h.Kid, now)
	if key == nil {
		return h, nil, errTokenSignature
	}
	headerPart := parts[0]
	if h.Nonce != "" {
		signed := h
		signed.Nonce = transformNonce(h.Nonce)
		sb, err := json.Marshal(signed)
		if err != nil {
			return h, nil, errTokenMalformed
		}
		headerPart = b64(sb)
	}
	digest := sha256.Sum256([]byte(headerPart + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&key.priv.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		return h, nil, errTokenSignature
	}
	return h, claims, nil
}

// numericClaim reads a JSON number claim decoded with UseNumber.
func numericClaim(claims map[string]any, name string) (int64, bool) {
	n, ok := claims[name].(json.Number)
	if !ok {
		return 0, false
	}
	v, err := n.Int64()
	return v, err == nil
}

func stringClaim(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return s
}
