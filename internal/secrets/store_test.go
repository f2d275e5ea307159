package secrets

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/airgate/airgate/internal/sqlstore"
)

// storeCase builds a fresh store for the conformance suite.
type storeCase struct {
	name string
	open func(t *testing.T) SecretStore
}

func testKEK(t *testing.T, b byte) *KEK {
	t.Helper()
	k, err := NewKEK(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func storeCases(t *testing.T) []storeCase {
	cases := []storeCase{
		{"file", func(t *testing.T) SecretStore {
			return NewFileSecrets(filepath.Join(t.TempDir(), "secrets.json"), FileSecretsOptions{})
		}},
		{"file+kek", func(t *testing.T) SecretStore {
			return NewFileSecrets(filepath.Join(t.TempDir(), "secrets.json"), FileSecretsOptions{KEK: testKEK(t, 1)})
		}},
		{"sqlite", func(t *testing.T) SecretStore {
			db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			s, err := OpenDBSecrets(context.Background(), db, DBSecretsOptions{KEK: testKEK(t, 2)})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	}
	if dsn := os.Getenv("AIRGATE_TEST_POSTGRES"); dsn != "" {
		cases = append(cases, storeCase{"postgres", func(t *testing.T) SecretStore {
			db, err := sqlstore.Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			s, err := OpenDBSecrets(context.Background(), db, DBSecretsOptions{KEK: testKEK(t, 3)})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}})
	} else if os.Getenv("CI") == "true" {
		t.Error("AIRGATE_TEST_POSTGRES is not set in CI")
	}
	return cases
}

// uniqueName keeps PostgreSQL runs (one shared database) apart.
func uniqueName(t *testing.T) string {
	return strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()) + "-" + Fingerprint([]byte(t.TempDir()))
}

func TestSecretStoreConformance(t *testing.T) {
	ctx := context.Background()
	for _, tc := range storeCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.open(t)
			name := uniqueName(t)
			if _, err := s.Get(ctx, name, Current); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get(empty) = %v, want ErrNotFound", err)
			}
			v1, err := Seed(ctx, s, name, []byte("first"), map[string]string{"hint": "fir"})
			if err != nil || v1.Version != 1 || v1.State != StateActive || string(v1.Value) != "first" {
				t.Fatalf("Seed = %+v, %v", v1, err)
			}
			// Seeding again keeps the active version.
			if again, err := Seed(ctx, s, name, []byte("other"), nil); err != nil || again.Version != 1 {
				t.Fatalf("second Seed = %+v, %v", again, err)
			}
			n, err := s.Put(ctx, name, Version{Value: []byte("second"), Meta: map[string]string{"key_id": "k2"}})
			if err != nil || n != 2 {
				t.Fatalf("Put = %d, %v", n, err)
			}
			// Pending: not current, but latest.
			if cur, _ := s.Get(ctx, name, Current); cur.Version != 1 {
				t.Fatalf("Current during a rotation = %d, want 1", cur.Version)
			}
			if lat, _ := s.Get(ctx, name, Latest); lat.Version != 2 || lat.State != StatePending || lat.Meta["key_id"] != "k2" {
				t.Fatalf("Latest = %+v", lat)
			}
			if err := s.Retire(ctx, name, 1); err == nil {
				t.Fatal("Retire(active) succeeded")
			}
			if err := s.Activate(ctx, name, 2); err != nil {
				t.Fatal(err)
			}
			cur, err := s.Get(ctx, name, Current)
			if err != nil || cur.Version != 2 || string(cur.Value) != "second" || cur.Previous != 1 || cur.ActivatedAt.IsZero() {
				t.Fatalf("Current after Activate = %+v, %v", cur, err)
			}
			if old, _ := s.Get(ctx, name, 1); old.State != StatePrevious || string(old.Value) != "first" {
				t.Fatalf("version 1 after Activate = %+v", old)
			}
			if err := s.Retire(ctx, name, 1); err != nil {
				t.Fatal(err)
			}
			old, err := s.Get(ctx, name, 1)
			if err != nil || old.State != StateRetired || old.Value != nil || old.RetiredAt.IsZero() {
				t.Fatalf("retired version = %+v, %v", old, err)
			}
			if err := s.Activate(ctx, name, 1); err == nil {
				t.Fatal("Activate(retired) succeeded")
			}
			if err := s.Activate(ctx, name, 9); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Activate(missing) = %v", err)
			}
			// A pending version may be retired (a rolled-back rotation).
			n3, _ := s.Put(ctx, name, Version{Value: []byte("third")})
			if err := s.Retire(ctx, name, n3); err != nil {
				t.Fatal(err)
			}
			if lat, _ := s.Get(ctx, name, Latest); lat.Version != 2 {
				t.Fatalf("Latest after a rolled-back version = %d, want 2", lat.Version)
			}
		})
	}
}

func TestSecretStoreConcurrentPuts(t *testing.T) {
	ctx := context.Background()
	for _, tc := range storeCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.open(t)
			name := uniqueName(t)
			var wg sync.WaitGroup
			got := make(chan int, 8)
			for i := range 8 {
				wg.Go(func() {
					n, err := s.Put(ctx, name, Version{Value: []byte{byte(i)}})
					if err != nil {
						t.Error(err)
					}
					got <- n
				})
			}
			wg.Wait()
			close(got)
			seen := map[int]bool{}
			for n := range got {
				if seen[n] {
					t.Fatalf("version %d handed out twice", n)
				}
				seen[n] = true
			}
		})
	}
}

func TestFileSecretsSealsWithKEK(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "secrets.json")
	s := NewFileSecrets(path, FileSecretsOptions{KEK: testKEK(t, 7)})
	if _, err := Seed(ctx, s, "entra-client-secret", []byte("very-secret-value"), nil); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte("very-secret-value")) || !bytes.Contains(data, []byte(testKEK(t, 7).ID())) {
		t.Fatalf("file does not hold a sealed value under the KEK: %s", data)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", st.Mode().Perm())
	}
	// Another KEK cannot open it; the old one listed as previous can.
	wrong := NewFileSecrets(path, FileSecretsOptions{KEK: testKEK(t, 8)})
	if _, err := wrong.Get(ctx, "entra-client-secret", Current); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Fatalf("Get with another KEK = %v", err)
	}
	rotated := NewFileSecrets(path, FileSecretsOptions{KEK: testKEK(t, 8), PreviousKEKs: []*KEK{testKEK(t, 7)}})
	if v, err := rotated.Get(ctx, "entra-client-secret", Current); err != nil || string(v.Value) != "very-secret-value" {
		t.Fatalf("Get with the previous KEK = %v", err)
	}
}

func TestDBSecretsSealedAndBound(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := OpenDBSecrets(ctx, db, DBSecretsOptions{}); err == nil {
		t.Fatal("OpenDBSecrets without a KEK succeeded")
	}
	kek := testKEK(t, 4)
	s, err := OpenDBSecrets(ctx, db, DBSecretsOptions{KEK: kek})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if _, err := Seed(ctx, s, name, []byte("value-of-"+name), nil); err != nil {
			t.Fatal(err)
		}
	}
	var sealed []byte
	var kekID string
	if err := db.QueryRow(`SELECT sealed, kek_id FROM airgate_secret_versions WHERE name = 'a'`).Scan(&sealed, &kekID); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("value-of-a")) || kekID != kek.ID() {
		t.Fatalf("stored value is not sealed under %s (kek_id %q)", kek.ID(), kekID)
	}
	// A value copied onto another secret's row does not open.
	if _, err := db.Exec(`UPDATE airgate_secret_versions SET sealed = ? WHERE name = 'b'`, sealed); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "b", Current); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Get(swapped row) = %v, want ErrDecrypt", err)
	}
}

func TestEnvSecretsReadOnly(t *testing.T) {
	ctx := context.Background()
	env := map[string]string{"AIRGATE_SECRET": "from-env"}
	s := EnvSecrets{Vars: map[string]string{"entra-client-secret": "AIRGATE_SECRET", "airflow-credential": "UNSET"},
		Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	v, err := s.Get(ctx, "entra-client-secret", Current)
	if err != nil || string(v.Value) != "from-env" || v.Version != 1 {
		t.Fatalf("Get = %+v, %v", v, err)
	}
	if _, err := s.Get(ctx, "airflow-credential", Current); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(unset) = %v", err)
	}
	_, err = s.Put(ctx, "entra-client-secret", Version{Value: []byte("x")})
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "rotation.store") {
		t.Fatalf("Put = %v, want a read-only error naming rotation.store", err)
	}
	if err := s.Activate(ctx, "entra-client-secret", 1); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Activate = %v", err)
	}
	if err := s.Retire(ctx, "entra-client-secret", 1); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Retire = %v", err)
	}
}

func TestParseKEK(t *testing.T) {
	want := testKEK(t, 0xab).ID()
	for _, tc := range []struct {
		name, text string
		ok         bool
	}{
		{"hex", strings.Repeat("ab", 32) + "\n", true},
		{"base64", "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=", true},
		{"base64url raw", "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s", true},
		{"short", "q6urq6ur", false},
		{"garbage", "not a key", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKEK([]byte(tc.text))
			if (err == nil) != tc.ok {
				t.Fatalf("ParseKEK = %v, ok want %v", err, tc.ok)
			}
			if tc.ok && k.ID() != want {
				t.Fatalf("ID = %s, want %s", k.ID(), want)
			}
		})
	}
	k := testKEK(t, 1)
	sealed, err := k.Seal([]byte("x"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Open(sealed, []byte("other")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Open(wrong aad) = %v", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := k.Open(sealed, []byte("aad")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Open(tampered) = %v", err)
	}
}
