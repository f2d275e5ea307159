package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// idpPublicKey fetches the emulator's current signing key from its public
// JWKS, as an attacker could.
func (s *stack) idpPublicKey(t *testing.T) any {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", s.info.JWKSURI, nil)
	resp, err := s.idp.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	keys := set.Key(s.idp.SigningKeyID())
	if len(keys) == 0 {
		t.Fatal("signing key not published")
	}
	return keys[0].Key
}

func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func mustDecode(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hs256WithPublicKey forges the classic algorithm-confusion token: HS256
// keyed with the issuer's public key (as PEM), with the current kid.
func hs256WithPublicKey(t *testing.T, s *stack, payload string) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(s.idpPublicKey(t))
	if err != nil {
		t.Fatal(err)
	}
	key := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	header := b64url(`{"alg":"HS256","typ":"JWT","kid":"` + s.idp.SigningKeyID() + `"}`)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(header + "." + payload))
	return header + "." + payload + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
