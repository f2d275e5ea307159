package rotation

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/secrets"
)

func TestSigningKeyRollover(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	path := filepath.Join(t.TempDir(), "keys.json")
	ring, err := secrets.Open(secrets.FileStore{Path: path}, secrets.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := NewSigning(SigningOptions{Keyring: ring, Lead: time.Hour, TTL: map[secrets.Use]time.Duration{secrets.UseToken: 10 * time.Minute}, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(ctx, Options{DB: openDB(t), Rotators: []Rotator{rot}, Now: clk.now, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := ring.Current(secrets.UseToken)
	oldSession, _ := ring.Current(secrets.UseSession)
	if res := m.Rotate(ctx, NameSigning, RotateOptions{}); res.Outcome != "not-due" {
		t.Fatalf("fresh keys: %+v", res)
	}
	res := m.Rotate(ctx, NameSigning, RotateOptions{Force: true})
	if res.Outcome != "rotated" || res.Version != 2 {
		t.Fatalf("Rotate = %+v (%v)", res, res.Err)
	}
	// Another process (a gateway) sees the new key published at once but
	// signing only after the lead.
	other, err := secrets.Open(secrets.FileStore{Path: path}, secrets.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*secrets.Keyring{ring, other} {
		pub := r.Published(secrets.UseToken)
		if len(pub) != 2 || pub[0].Version != 2 {
			t.Fatalf("published = %d keys", len(pub))
		}
		if cur, _ := r.Current(secrets.UseToken); cur.ID != old.ID {
			t.Fatalf("new key signs before the lead: %s", cur.ID)
		}
	}
	if s, _ := other.Current(secrets.UseSession); s.ID != oldSession.ID || len(other.Published(secrets.UseSession)) != 2 {
		t.Fatal("session key not rotated with a lead")
	}
	clk.advance(time.Hour)
	if cur, _ := other.Current(secrets.UseToken); cur.Version != 2 {
		t.Fatalf("after the lead, Current = %s", cur.ID)
	}
	// Tokens the old key signed (up to 10 minutes long) still verify.
	clk.advance(9 * time.Minute)
	if _, ok := other.Lookup(old.ID); !ok || len(other.Published(secrets.UseToken)) != 2 {
		t.Fatal("old key unpublished while its tokens are valid")
	}
	m.Tick(ctx) // tidies
	if len(ring.Published(secrets.UseToken)) != 2 {
		t.Fatal("tidy pruned a key whose tokens are still valid")
	}
	clk.advance(2 * time.Minute)
	m.Tick(ctx)
	if err := other.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, ok := other.Lookup(old.ID); ok {
		t.Fatal("old key kept after every token it signed expired")
	}
}
