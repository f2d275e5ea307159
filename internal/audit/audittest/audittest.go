// Package audittest holds test helpers for the audit package and the
// packages that use it: a PostgreSQL schema of its own for each test.
// Import it only from _test.go files.
package audittest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
)

// PostgresEnv is the environment variable holding the test server's DSN, as
// printed by .ci/postgres-up.
const PostgresEnv = "AIRGATE_TEST_POSTGRES"

// PostgresDSN creates a schema of its own for t in the test PostgreSQL
// database and returns a DSN whose search_path selects it; the schema is
// dropped when t ends. Without AIRGATE_TEST_POSTGRES the test is skipped,
// except when CI=true, where it fails.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set; CI must run .ci/postgres-up and export it", PostgresEnv)
		}
		t.Skipf("%s is not set: run .ci/postgres-up and export its DSN to test against PostgreSQL", PostgresEnv)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parsing %s: %v", PostgresEnv, err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "audit_test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("opening test database: %v", err)
	}
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
		db.Close()
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
