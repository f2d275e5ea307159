package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/airgate/airgate/internal/catalog"
)

type staticKey struct {
	kid string
	key crypto.Signer
}

func (s staticKey) SigningKey() (string, string, crypto.Signer, error) {
	return s.kid, "ES256", s.key, nil
}

func TestAirflowMinter(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	m, err := NewAirflowMinter(AirflowOptions{Audience: "apache-airflow", Issuer: "airgate", TTL: 4 * time.Minute,
		Keys: staticKey{"k1", key}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := m.Mint("alice@airgate.example", "user")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Headers[0].KeyID != "k1" {
		t.Errorf("kid = %q", parsed.Headers[0].KeyID)
	}
	var c struct {
		jwt.Claims
		Role string `json:"role"`
	}
	if err := parsed.Claims(key.Public(), &c); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if err := c.Claims.Validate(jwt.Expected{Issuer: "airgate", AnyAudience: jwt.Audience{"apache-airflow"}, Time: now}); err != nil {
		t.Errorf("claims: %v", err)
	}
	if c.Subject != "alice@airgate.example" || c.Role != "user" || c.ID == "" || c.IssuedAt == nil || c.NotBefore == nil {
		t.Errorf("claims = %+v role %q", c.Claims, c.Role)
	}
	if got := c.Expiry.Time().Sub(now); got != 4*time.Minute {
		t.Errorf("lifetime = %v", got)
	}
	// Reused within half the lifetime, renewed after.
	again, _ := m.Mint("alice@airgate.example", "user")
	if again != tok {
		t.Error("token not reused within half its lifetime")
	}
	if other, _ := m.Mint("alice@airgate.example", "viewer"); other == tok {
		t.Error("a different role reused the same token")
	}
	now = now.Add(2*time.Minute + time.Second)
	if renewed, _ := m.Mint("alice@airgate.example", "user"); renewed == tok {
		t.Error("token not renewed after half its lifetime")
	}
}

func TestSimpleRoleFor(t *testing.T) {
	cat := catalog.Default()
	for _, tc := range []struct{ op, want string }{
		{"get_dags", "viewer"},
		{"trigger_dag_run", "user"},
		{"get_connections", "op"},
		{"patch_pool", "op"},
		{"get_pools", "viewer"},
		{"get_plugins", "viewer"},
		{"delete_variable", "op"},
	} {
		op, ok := cat.Lookup(catalog.V2, tc.op)
		if !ok {
			t.Fatalf("no operation %s", tc.op)
		}
		if got := SimpleRoleFor(op); got != tc.want {
			t.Errorf("SimpleRoleFor(%s) = %s, want %s", tc.op, got, tc.want)
		}
	}
}
