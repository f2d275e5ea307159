// Package sqlstore opens airgate's state database: one SQLite file by
// default (WAL, durable commits, no cgo), or PostgreSQL when several gateway
// replicas share state. Packages that keep state (revocations, rotation
// intents, sessions) open it through here so that DSN handling and SQL
// placeholders work the same everywhere.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// DB is an open state database. It is safe for concurrent use.
type DB struct {
	*sql.DB
	// Postgres is true for PostgreSQL, false for SQLite.
	Postgres bool
}

// sqlitePragmas make SQLite durable on commit and patient with other
// writers: WAL, synchronous=FULL, a busy timeout, and BEGIN IMMEDIATE so a
// transaction that will write takes the lock up front.
const sqlitePragmas = "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate"

// IsPostgres reports whether dsn names a PostgreSQL database.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens the database at dsn: a postgres:// or postgresql:// URL, a
// file: URI, or a SQLite file path (created if missing).
func Open(ctx context.Context, dsn string) (*DB, error) {
	if dsn == "" {
		return nil, errors.New("sqlstore: empty DSN")
	}
	var db *sql.DB
	var err error
	pg := IsPostgres(dsn)
	switch {
	case pg:
		db, err = sql.Open("pgx", dsn)
	case strings.Contains(dsn, "dbname=") || strings.HasPrefix(dsn, "host="):
		return nil, errors.New("sqlstore: PostgreSQL keyword/value DSNs are not supported: use a postgres:// URL")
	case strings.HasPrefix(dsn, "file:"):
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		db, err = sql.Open("sqlite", dsn+sep+sqlitePragmas)
	case strings.Contains(dsn, "?"):
		return nil, fmt.Errorf("sqlstore: SQLite path %q contains '?': use a file: URI for parameters", dsn)
	default:
		db, err = sql.Open("sqlite", dsn+"?"+sqlitePragmas)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	if pg {
		db.SetMaxOpenConns(16)
	} else {
		db.SetMaxOpenConns(4)
	}
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: connecting: %w", err)
	}
	return &DB{DB: db, Postgres: pg}, nil
}

// Rebind rewrites ? placeholders to PostgreSQL's $1, $2 ... . Queries
// passed to it contain no other '?'.
func (d *DB) Rebind(q string) string {
	if !d.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
