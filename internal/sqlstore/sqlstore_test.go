package sqlstore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenSQLiteAndPostgres(t *testing.T) {
	dsns := map[string]string{"sqlite": filepath.Join(t.TempDir(), "state.db")}
	if pg := os.Getenv("AIRGATE_TEST_POSTGRES"); pg != "" {
		dsns["postgres"] = pg
	} else if os.Getenv("CI") == "true" {
		t.Fatal("AIRGATE_TEST_POSTGRES is not set in CI")
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			db, err := Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if db.Postgres != (name == "postgres") {
				t.Errorf("Postgres = %v", db.Postgres)
			}
			var one int
			if err := db.QueryRow(db.Rebind("select ? + 0"), 1).Scan(&one); err != nil || one != 1 {
				t.Errorf("query = %d, %v", one, err)
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	for _, dsn := range []string{"", "host=x dbname=y", "/tmp/a.db?x=1"} {
		if _, err := Open(context.Background(), dsn); err == nil {
			t.Errorf("Open(%q) = nil error", dsn)
		}
	}
}

func TestRebind(t *testing.T) {
	d := &DB{Postgres: true}
	if got := d.Rebind("a = ? and b = ?"); got != "a = $1 and b = $2" {
		t.Errorf("Rebind = %q", got)
	}
	if got := (&DB{}).Rebind("a = ?"); !strings.Contains(got, "?") {
		t.Errorf("sqlite Rebind = %q", got)
	}
}
