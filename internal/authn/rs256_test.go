package authn

import (
	"context"
	"crypto/rsa"
	"testing"
	"unsafe"

	"github.com/airgate/airgate/internal/identity"

	jose "github.com/go-jose/go-jose/v4"
)

// verifyRS256 agrees with go-jose on a valid token and on every token made
// from it by changing, adding or removing one character, in any part.
func TestVerifyRS256AgreesWithJose(t *testing.T) {
	f := newFakeIdP(t, false)
	k := newRSAKey(t, "k1", 0)
	other := &rsa.PrivateKey{}
	*other = *rsaKey(t, 1)
	raw := sign(t, k, nil, v2UserClaims(f, tenantA, newClock().Now()))
	pub := &rsaKey(t, 0).PublicKey
	joseOK := func(s string) bool {
		jws, err := jose.ParseSignedCompact(s, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil || len(jws.Signatures) != 1 {
			return false
		}
		_, err = jws.Verify(pub)
		return err == nil
	}
	if !verifyRS256(raw, pub) || !joseOK(raw) {
		t.Fatal("a valid token does not verify")
	}
	if verifyRS256(raw, &other.PublicKey) {
		t.Error("verified with another key")
	}
	variants := 0
	for i := 0; i < len(raw); i += 7 {
		for _, c := range []string{"A", "-", "_", "=", "+", "/", "."} {
			for _, v := range []string{raw[:i] + c + raw[i+1:], raw[:i] + c + raw[i:], raw[:i] + raw[i+1:]} {
				if v == raw {
					continue
				}
				variants++
				if got, want := verifyRS256(v, pub), joseOK(v); got != want || got {
					t.Fatalf("variant at %d (%q): verifyRS256 = %v, go-jose = %v", i, c, got, want)
				}
			}
		}
	}
	if variants < 1000 {
		t.Errorf("only %d variants tried", variants)
	}
}

// Principals of different tokens of one user share their strings: the
// verified-token cache holds a user's identity once, not once a token.
func TestPrincipalsShareStrings(t *testing.T) {
	clk := newClock()
	k := newRSAKey(t, "k1", 0)
	f := newFakeIdP(t, false, k)
	v := newVerifier(t, f.options(clk))
	var ps []*identity.Principal
	for i := range 2 {
		claims := with(v2UserClaims(f, tenantA, clk.Now()), "uti", i)
		claims["groups"] = []string{"1a0c0002-0000-4000-8000-0000000000a2", "1a0c0003-0000-4000-8000-0000000000a3"}
		p, err := v.Verify(context.Background(), sign(t, k, nil, claims))
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	a, b := ps[0], ps[1]
	if a.TokenFingerprint == b.TokenFingerprint {
		t.Fatal("two tokens, one fingerprint")
	}
	same := func(name, x, y string) {
		if x != y || unsafe.StringData(x) != unsafe.StringData(y) {
			t.Errorf("%s: %q and %q are held twice", name, x, y)
		}
	}
	same("tenant", a.TenantID, b.TenantID)
	same("object id", a.ObjectID, b.ObjectID)
	same("upn", a.UPN, b.UPN)
	same("issuer", a.Issuer, b.Issuer)
	same("app id", a.AppID, b.AppID)
	for i := range a.Groups {
		same("group", a.Groups[i], b.Groups[i])
	}
}
