package secrets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestKeyringRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	ring, err := Open(FileStore{Path: path}, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("keyring file mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}
	first, err := ring.Current(UseToken)
	if err != nil || first.Version != 1 || first.Alg != "ES256" {
		t.Fatalf("Current = %+v, %v", first, err)
	}
	audit, err := ring.Current(UseAudit)
	if err != nil || audit.Alg != "EdDSA" {
		t.Fatalf("Current(audit) = %+v, %v", audit, err)
	}

	next, err := ring.Rotate(UseToken, time.Hour, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Published at once, but the old key keeps signing for the lead time.
	if pub := ring.Published(UseToken); len(pub) != 2 || pub[0].ID != next.ID {
		t.Fatalf("Published after rotate = %v", ids(pub))
	}
	if cur, _ := ring.Current(UseToken); cur.ID != first.ID {
		t.Fatalf("Current right after rotate = %s, want the old key %s", cur.ID, first.ID)
	}
	clk.t = clk.t.Add(time.Hour)
	if cur, _ := ring.Current(UseToken); cur.ID != next.ID {
		t.Fatalf("Current after the lead = %s, want %s", cur.ID, next.ID)
	}
	// The old key stays published until its tokens expired.
	if pub := ring.Published(UseToken); len(pub) != 2 {
		t.Fatalf("old key unpublished too early: %v", ids(pub))
	}
	clk.t = clk.t.Add(10 * time.Minute)
	if pub := ring.Published(UseToken); len(pub) != 1 || pub[0].ID != next.ID {
		t.Fatalf("Published after expiry of old tokens = %v", ids(pub))
	}
	if err := ring.Prune(); err != nil {
		t.Fatal(err)
	}

	// Another process sees the same keys.
	other, err := Open(FileStore{Path: path}, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := other.Current(UseToken); cur.ID != next.ID {
		t.Fatalf("reopened Current = %s, want %s", cur.ID, next.ID)
	}
	if _, ok := other.Lookup(first.ID); ok {
		t.Fatalf("pruned key %s still present", first.ID)
	}
}

func ids(keys []*Key) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.ID)
	}
	return out
}

func TestFileStoreRefusesWorldReadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(path, []byte(`{"version":1,"keys":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(FileStore{Path: path}, Options{})
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Open(world-readable) = %v, want a refusal", err)
	}
}

func TestKeyringRejectsCorruptStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(path, []byte(`{"version":1,"keys":[{"id":"x","use":"token","alg":"EdDSA","pkcs8":"!!"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(FileStore{Path: path}, Options{}); err == nil {
		t.Fatal("Open(corrupt) = nil error")
	}
}

func TestKeyringSessionKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	ring, err := Open(FileStore{Path: path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, err := ring.Current(UseSession)
	if err != nil || len(k.Secret()) != 32 || k.Signer() != nil || k.Public() != nil {
		t.Fatalf("session key = %+v, %v", k, err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(k.ID, string(k.Secret())) || strings.Contains(string(data), `"pkcs8":""`) {
		t.Errorf("unexpected encoding: %s", data)
	}
	again, err := Open(FileStore{Path: path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := again.Current(UseSession)
	if k2.ID != k.ID || string(k2.Secret()) != string(k.Secret()) {
		t.Error("session key changed across reopen")
	}
}

func TestAuditKeysStayPublished(t *testing.T) {
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	ring, err := Open(FileStore{Path: filepath.Join(t.TempDir(), "k.json")}, Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ring.Rotate(UseAudit, 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(24 * 365 * time.Hour)
	if err := ring.Prune(); err != nil {
		t.Fatal(err)
	}
	if pub := ring.Published(UseAudit); len(pub) != 2 {
		t.Errorf("audit keys published a year after rotation = %v, want both (old checkpoints must verify)", ids(pub))
	}
}
