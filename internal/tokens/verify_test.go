package tokens

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/catalog"
)

type fakeRevocations struct {
	jtis map[string]bool
	err  error
}

func (f fakeRevocations) Revoked(_ context.Context, jti string, _ []string, _ time.Time) (bool, error) {
	return f.jtis[jti], f.err
}

func b64json(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerifyRejects(t *testing.T) {
	f := newExchangeFixture(t, catalog.V1, nil)
	g, err := f.x.Exchange(context.Background(), ExchangeRequest{Subject: agentPrincipal(), SubjectTokenHash: "h", Scope: "dag:team_a_daily:trigger"})
	if err != nil {
		t.Fatal(err)
	}
	good := g.Token
	parts := strings.Split(good, ".")
	claims, _, _, _, _ := Decode(good)

	// resign builds a token from edited claims with the real key.
	resign := func(edit func(c *Claims), typ string) string {
		c := *claims
		edit(&c)
		tok, err := signTyped(f.key.kid, "ES256", f.key.key, typ, &c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	otherKey := newTestKey(t, "token-1") // same kid, another key
	hsKey := []byte("secret")
	hsHeader := b64json(t, map[string]string{"alg": "HS256", "kid": "token-1", "typ": "at+jwt"})
	mac := hmac.New(sha256.New, hsKey)
	mac.Write([]byte(hsHeader + "." + parts[1]))
	hs := hsHeader + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	tamperedClaims := *claims
	tamperedClaims.Scope = "dag:*:delete"
	tampered := parts[0] + "." + b64json(t, &tamperedClaims) + "." + parts[2]
	forged, _ := signTyped("token-1", "ES256", otherKey.key, "at+jwt", claims)

	tests := []struct {
		name string
		tok  string
		now  time.Time
		code string
	}{
		{"tampered scope", tampered, testNow, CodeBadSignature},
		{"signed by another key", forged, testNow, CodeBadSignature},
		{"hs256", hs, testNow, CodeAlgNotAllowed},
		{"alg none", b64json(t, map[string]string{"alg": "none", "typ": "at+jwt", "kid": "token-1"}) + "." + parts[1] + ".", testNow, CodeMalformedToken},
		{"airflow-style typ", resign(func(*Claims) {}, "JWT"), testNow, CodeMalformedToken},
		{"wrong issuer", resign(func(c *Claims) { c.Issuer = "airgate" }, JWTType), testNow, CodeWrongIssuer},
		{"wrong audience", resign(func(c *Claims) { c.Audience = "apache-airflow" }, JWTType), testNow, CodeWrongAudience},
		{"expired", good, g.Expiry, CodeTokenExpired},
		{"not yet valid", good, testNow.Add(-time.Minute), CodeTokenNotYetValid},
		{"unknown kid", func() string { tok, _ := signTyped("token-9", "ES256", f.key.key, JWTType, claims); return tok }(), testNow, CodeUnknownKey},
		{"bad scope", resign(func(c *Claims) { c.Scope = "everything" }, JWTType), testNow, CodeMalformedToken},
		{"no jti", resign(func(c *Claims) { c.ID = "" }, JWTType), testNow, CodeMalformedToken},
		{"bad idtyp", resign(func(c *Claims) { c.Type = "agent" }, JWTType), testNow, CodeMalformedToken},
		{"two parts", parts[0] + "." + parts[1], testNow, CodeMalformedToken},
		{"revoked", good, testNow, CodeTokenRevoked},
		{"too large", strings.Repeat("a", 17<<10), testNow, CodeTokenTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.now = tc.now
			rev := fakeRevocations{}
			if tc.code == CodeTokenRevoked {
				rev.jtis = map[string]bool{g.ID: true}
			}
			_, err := f.verifier(t, rev).Verify(context.Background(), tc.tok)
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Code != tc.code {
				t.Fatalf("Verify = %v, want %s", err, tc.code)
			}
			if strings.Contains(err.Error(), "team_a") {
				t.Errorf("error %q repeats token content", err)
			}
		})
	}
	f.now = testNow
	if _, err := f.verifier(t, nil).Verify(context.Background(), good); err != nil {
		t.Errorf("good token: %v", err)
	}
	// A revocation check that cannot run is not a rejection.
	_, err = f.verifier(t, fakeRevocations{err: ErrRevocationUnavailable}).Verify(context.Background(), good)
	var ve *VerifyError
	if err == nil || errors.As(err, &ve) || !errors.Is(err, ErrRevocationUnavailable) {
		t.Errorf("unavailable revocations: %v", err)
	}
}
