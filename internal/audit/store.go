package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// DefaultDSN is the database the gateway and the CLI use when none is
// configured: an SQLite file in the working directory.
const DefaultDSN = "airgate.db"

// schemaVersion is the version of the tables below, kept in audit_meta.
const schemaVersion = 1

// dialect is what differs between the SQL backends.
type dialect struct {
	name   string // "sqlite" or "postgres"
	driver string // database/sql driver name
	schema []string
	// begin starts an appending transaction. SQLite's BEGIN IMMEDIATE
	// takes the database's write lock at once, so that an appender holds
	// it from its first read of the chain tip.
	begin string
	// lock, when set, runs right after begin in every appending
	// transaction and serialises appenders across processes; lockSync is
	// the same statement also turning synchronous_commit on for the
	// transaction. SQLite needs no lock: begin took it.
	lock, lockSync string
	// dataVersion, when set, reads a number that changes whenever another
	// connection commits to the database and never for the connection's
	// own commits (SQLite's PRAGMA data_version), so that the writer can
	// keep the chain tip in memory between its own commits.
	dataVersion string
	// waitsOnlyInBegin says that once begin returned, the transaction's
	// statements never wait for another connection (SQLite: begin took
	// the write lock), so they run without the commit's deadline, which
	// the SQLite driver enforces with a goroutine per statement.
	waitsOnlyInBegin bool
	// arrayInsert says one INSERT ... SELECT FROM unnest(column arrays)
	// statement writes any number of records (PostgreSQL); otherwise each
	// batch size has a multi-row INSERT of its own.
	arrayInsert bool
	// migrateLock, when set, runs first in the migration transaction.
	migrateLock string
	// dollar says placeholders are $1, $2 ... rather than ?.
	dollar bool
}

// recordColumns are the columns of audit_records, in insert order. The index
// columns duplicate fields of the payload so that queries can filter in SQL;
// the verifier checks that they agree with the payload.
const recordColumns = "seq, time_ns, kind, request_id, principal_kind, tenant_id, object_id, upn, app_id, operation, dag_id, decision, payload, prev_hash, hash"

const numRecordColumns = 15

var sqliteDialect = &dialect{
	name:             "sqlite",
	driver:           "sqlite",
	begin:            `BEGIN IMMEDIATE`,
	dataVersion:      `PRAGMA data_version`,
	waitsOnlyInBegin: true,
	schema: []string{
		`CREATE TABLE IF NOT EXISTS audit_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS audit_records (
			seq INTEGER PRIMARY KEY,
			time_ns INTEGER NOT NULL,
			kind TEXT NOT NULL,
			request_id TEXT NOT NULL,
			principal_kind TEXT NOT NULL,
			tenant_id TEXT NOT NULL,
			object_id TEXT NOT NULL,
			upn TEXT NOT NULL,
			app_id TEXT NOT NULL,
			operation TEXT NOT NULL,
			dag_id TEXT NOT NULL,
			decision TEXT NOT NULL,
			payload BLOB NOT NULL,
			prev_hash BLOB NOT NULL,
			hash BLOB NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records (time_ns)`,
		`CREATE INDEX IF NOT EXISTS audit_records_dag ON audit_records (dag_id)`,
		`CREATE INDEX IF NOT EXISTS audit_records_upn ON audit_records (lower(upn))`,
		`CREATE TABLE IF NOT EXISTS audit_checkpoints (
			seq INTEGER PRIMARY KEY,
			head BLOB NOT NULL,
			time_ns INTEGER NOT NULL,
			key_id TEXT NOT NULL,
			signature BLOB NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS audit_keys (
			key_id TEXT PRIMARY KEY,
			public_key BLOB NOT NULL,
			added_ns INTEGER NOT NULL)`,
		sqliteAppendOnly("audit_records", "UPDATE"),
		sqliteAppendOnly("audit_records", "DELETE"),
		sqliteAppendOnly("audit_checkpoints", "UPDATE"),
		sqliteAppendOnly("audit_checkpoints", "DELETE"),
		sqliteAppendOnly("audit_keys", "UPDATE"),
		sqliteAppendOnly("audit_keys", "DELETE"),
	},
}

func sqliteAppendOnly(table, op string) string {
	return fmt.Sprintf(`CREATE TRIGGER IF NOT EXISTS %[1]s_no_%[2]s BEFORE %[2]s ON %[1]s
		BEGIN SELECT RAISE(ABORT, 'audit: %[1]s is append-only'); END`, table, strings.ToLower(op))
}

var postgresDialect = &dialect{
	name:        "postgres",
	driver:      "pgx",
	dollar:      true,
	begin:       `BEGIN`,
	arrayInsert: true,
	schema: []string{
		`CREATE TABLE IF NOT EXISTS audit_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS audit_lock (id INTEGER PRIMARY KEY CHECK (id = 1))`,
		`INSERT INTO audit_lock (id) VALUES (1) ON CONFLICT DO NOTHING`,
		`CREATE TABLE IF NOT EXISTS audit_records (
			seq BIGINT PRIMARY KEY,
			time_ns BIGINT NOT NULL,
			kind TEXT NOT NULL,
			request_id TEXT NOT NULL,
			principal_kind TEXT NOT NULL,
			tenant_id TEXT NOT NULL,
			object_id TEXT NOT NULL,
			upn TEXT NOT NULL,
			app_id TEXT NOT NULL,
			operation TEXT NOT NULL,
			dag_id TEXT NOT NULL,
			decision TEXT NOT NULL,
			payload BYTEA NOT NULL,
			prev_hash BYTEA NOT NULL,
			hash BYTEA NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records (time_ns)`,
		`CREATE INDEX IF NOT EXISTS audit_records_dag ON audit_records (dag_id)`,
		`CREATE INDEX IF NOT EXISTS audit_records_upn ON audit_records (lower(upn))`,
		`CREATE TABLE IF NOT EXISTS audit_checkpoints (
			seq BIGINT PRIMARY KEY,
			head BYTEA NOT NULL,
			time_ns BIGINT NOT NULL,
			key_id TEXT NOT NULL,
			signature BYTEA NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS audit_keys (
			key_id TEXT PRIMARY KEY,
			public_key BYTEA NOT NULL,
			added_ns BIGINT NOT NULL)`,
		`CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			RAISE EXCEPTION 'audit: % is append-only (% refused)', TG_TABLE_NAME, TG_OP;
		END $$`,
		postgresAppendOnly("audit_records"),
		postgresAppendOnly("audit_checkpoints"),
		postgresAppendOnly("audit_keys"),
	},
	lock:     `SELECT '' FROM audit_lock WHERE id = 1 FOR UPDATE`,
	lockSync: `SELECT set_config('synchronous_commit', 'on', true) FROM audit_lock WHERE id = 1 FOR UPDATE`,
	// Concurrent CREATE ... IF NOT EXISTS can still collide in PostgreSQL;
	// one migration at a time per database.
	migrateLock: `SELECT pg_advisory_xact_lock(7305813914772290861)`,
}

func postgresAppendOnly(table string) string {
	return fmt.Sprintf(`DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '%[1]s_append_only' AND tgrelid = '%[1]s'::regclass) THEN
			CREATE TRIGGER %[1]s_append_only BEFORE UPDATE OR DELETE ON %[1]s
				FOR EACH ROW EXECUTE FUNCTION audit_append_only();
		END IF;
		IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '%[1]s_no_truncate' AND tgrelid = '%[1]s'::regclass) THEN
			CREATE TRIGGER %[1]s_no_truncate BEFORE TRUNCATE ON %[1]s
				FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
		END IF;
	END $$`, table)
}

// sqlitePragmas make every SQLite connection durable on commit (WAL with
// synchronous=FULL fsyncs the log at each commit), patient with other
// processes' locks, and start transactions with BEGIN IMMEDIATE (the
// migration's; the writer issues its own, dialect.begin).
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"

// sqliteReadPragmas are for read-only use: WAL mode is a property of the
// file, so readers need not (and must not, on a file that is not an audit
// database) set it.
const sqliteReadPragmas = "_pragma=busy_timeout(10000)"

// resolveDSN picks the backend for dsn and returns the driver's data source
// name: postgres:// and postgresql:// URLs select PostgreSQL (pgx), anything
// else is an SQLite file path or file: URI.
func resolveDSN(dsn string, readOnly bool) (*dialect, string, error) {
	if dsn == "" {
		dsn = DefaultDSN
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return postgresDialect, dsn, nil
	}
	if strings.Contains(dsn, "dbname=") || strings.HasPrefix(dsn, "host=") {
		return nil, "", errors.New("audit: PostgreSQL keyword/value DSNs are not supported: use a postgres:// URL")
	}
	pragmas := sqlitePragmas
	if readOnly {
		pragmas = sqliteReadPragmas
	}
	if strings.HasPrefix(dsn, "file:") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return sqliteDialect, dsn + sep + pragmas, nil
	}
	if strings.Contains(dsn, "?") {
		return nil, "", fmt.Errorf("audit: SQLite path %q contains '?': use a file: URI for parameters", dsn)
	}
	if readOnly {
		if _, err := os.Stat(dsn); errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("audit: database %s does not exist", dsn)
		}
	}
	return sqliteDialect, dsn + "?" + pragmas, nil
}

// placeholders returns n comma-separated placeholders starting at index
// first (1-based).
func (d *dialect) placeholders(b *strings.Builder, first, n int) {
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		if d.dollar {
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(first + i))
		} else {
			b.WriteByte('?')
		}
	}
}

// rebind rewrites ? placeholders to $n for PostgreSQL. Queries passed to it
// contain no ? other than placeholders.
func (d *dialect) rebind(q string) string {
	if !d.dollar {
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

// migrate creates or checks the schema.
func migrate(ctx context.Context, db *sql.DB, d *dialect) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("audit: migrating: %w", err)
	}
	defer tx.Rollback()
	if d.migrateLock != "" {
		if _, err := tx.ExecContext(ctx, d.migrateLock); err != nil {
			return fmt.Errorf("audit: migrating: %w", err)
		}
	}
	for _, stmt := range d.schema {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("audit: migrating: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, d.rebind(`INSERT INTO audit_meta (name, value) VALUES ('schema_version', ?) ON CONFLICT (name) DO NOTHING`),
		strconv.Itoa(schemaVersion)); err != nil {
		return fmt.Errorf("audit: migrating: %w", err)
	}
	if err := checkSchema(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("audit: migrating: %w", err)
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ErrNotAuditDatabase is returned by Open when the database holds no audit
// chain (or one of a newer schema).
var ErrNotAuditDatabase = errors.New("audit: not an audit database")

func checkSchema(ctx context.Context, q querier) error {
	var v string
	if err := q.QueryRowContext(ctx, `SELECT value FROM audit_meta WHERE name = 'schema_version'`).Scan(&v); err != nil {
		return fmt.Errorf("%w: %v", ErrNotAuditDatabase, err)
	}
	if n, err := strconv.Atoi(v); err != nil || n != schemaVersion {
		return fmt.Errorf("%w: schema version %q, want %d", ErrNotAuditDatabase, v, schemaVersion)
	}
	return nil
}

// chainTip is the head of the chain and the latest checkpoint, as read (or
// kept by the writer) inside an appending transaction.
type chainTip struct {
	seq    uint64
	hash   Hash
	cpSeq  uint64
	cpTime time.Time
}

// tipQuery reads the chain tip in one statement; it always returns one row,
// with NULLs where there are no records or no checkpoints yet.
const tipQuery = `SELECT r.seq, r.hash, c.seq, c.time_ns FROM (SELECT 1 AS one) AS o
	LEFT JOIN (SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1) AS r ON 1 = 1
	LEFT JOIN (SELECT seq, time_ns FROM audit_checkpoints ORDER BY seq DESC LIMIT 1) AS c ON 1 = 1`

// scanTip scans a row of tipQuery.
func scanTip(row *sql.Row) (chainTip, error) {
	var tip chainTip
	var seq, cpSeq, cpTime sql.NullInt64
	var h []byte
	if err := row.Scan(&seq, &h, &cpSeq, &cpTime); err != nil {
		return tip, fmt.Errorf("reading the chain head: %w", err)
	}
	if seq.Valid {
		if len(h) != len(tip.hash) || seq.Int64 <= 0 {
			return tip, fmt.Errorf("chain head %d is corrupt", seq.Int64)
		}
		tip.seq = uint64(seq.Int64)
		copy(tip.hash[:], h)
	}
	if cpSeq.Valid && cpTime.Valid {
		tip.cpSeq, tip.cpTime = uint64(cpSeq.Int64), time.Unix(0, cpTime.Int64)
	}
	return tip, nil
}

// insertQuery returns the statement that inserts rows records (any number
// with arrayInsert).
func (d *dialect) insertQuery(rows int) string {
	if d.arrayInsert {
		// One row per array index; the types are those of the columns.
		return `INSERT INTO audit_records (` + recordColumns + `) SELECT * FROM unnest(
			$1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bytea[], $14::bytea[], $15::bytea[])`
	}
	var b strings.Builder
	b.Grow(64 + rows*(numRecordColumns*4+3))
	b.WriteString("INSERT INTO audit_records (" + recordColumns + ") VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		d.placeholders(&b, i*numRecordColumns+1, numRecordColumns)
		b.WriteByte(')')
	}
	return b.String()
}

const insertCheckpointQuery = `INSERT INTO audit_checkpoints (seq, head, time_ns, key_id, signature) VALUES (?, ?, ?, ?, ?)`

// errKeyMismatch: the database records another public key under the
// signer's key id.
var errKeyMismatch = errors.New("audit: the database records a different public key under the signing key's id")

// dbtx is what *sql.DB and *sql.Tx have in common.
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// registerKey records the signer's current public key, if it exposes one
// and it was not recorded yet, so that the database names the keys its
// checkpoints claim (a keyring may rotate the key while the log runs).
func (l *Log) registerKey(ctx context.Context, q dbtx) error {
	s := l.opts.Signer
	if s == nil {
		return nil
	}
	pub, ok := publicKeyOf(s)
	if !ok {
		return nil
	}
	id := s.KeyID()
	if last, _ := l.registered.Load().(string); last == id {
		return nil
	}
	if _, err := q.ExecContext(ctx, l.d.rebind(`INSERT INTO audit_keys (key_id, public_key, added_ns) VALUES (?, ?, ?) ON CONFLICT (key_id) DO NOTHING`),
		id, []byte(pub), l.opts.Now().UnixNano()); err != nil {
		return fmt.Errorf("audit: recording the signing key: %w", err)
	}
	var got []byte
	if err := q.QueryRowContext(ctx, l.d.rebind(`SELECT public_key FROM audit_keys WHERE key_id = ?`), id).Scan(&got); err != nil {
		return fmt.Errorf("audit: recording the signing key: %w", err)
	}
	if string(got) != string(pub) {
		return fmt.Errorf("%w: key id %q", errKeyMismatch, id)
	}
	l.registered.Store(id)
	return nil
}

// indexColumns are the queryable copies of payload fields.
type indexColumns struct {
	timeNS        int64
	kind          string
	requestID     string
	principalKind string
	tenantID      string
	objectID      string
	upn           string
	appID         string
	operation     string
	dagID         string
	decision      string
}

func indexOf(rec *Record) indexColumns {
	return indexColumns{
		timeNS:        rec.Time.UnixNano(),
		kind:          string(rec.Kind),
		requestID:     rec.RequestID,
		principalKind: string(rec.Principal.Kind),
		tenantID:      rec.Principal.TenantID,
		objectID:      rec.Principal.ObjectID,
		upn:           rec.Principal.UPN,
		appID:         rec.Principal.AppID,
		operation:     rec.Operation,
		dagID:         rec.DAGID,
		decision:      string(rec.Decision),
	}
}

// diff names the first column of c that differs from want, or "".
func (c *indexColumns) diff(want *indexColumns) string {
	switch {
	case c.timeNS != want.timeNS:
		return "time_ns"
	case c.kind != want.kind:
		return "kind"
	case c.requestID != want.requestID:
		return "request_id"
	case c.principalKind != want.principalKind:
		return "principal_kind"
	case c.tenantID != want.tenantID:
		return "tenant_id"
	case c.objectID != want.objectID:
		return "object_id"
	case c.upn != want.upn:
		return "upn"
	case c.appID != want.appID:
		return "app_id"
	case c.operation != want.operation:
		return "operation"
	case c.dagID != want.dagID:
		return "dag_id"
	case c.decision != want.decision:
		return "decision"
	}
	return ""
}

// rawEntry is a stored record as read, before any check.
type rawEntry struct {
	seq      uint64
	payload  []byte
	prevHash []byte
	hash     []byte
	cols     *indexColumns // the stored index columns; nil when the source has none
	fields   *Record       // an export's decoded fields, checked against the payload; nil if none
}

const selectRecords = `SELECT ` + recordColumns + ` FROM audit_records`

// scanRecords runs a SELECT of recordColumns and calls fn for each row in
// order.
func (l *Log) scanRecords(ctx context.Context, query string, args []any, fn func(rawEntry) error) error {
	rows, err := l.db.QueryContext(ctx, l.d.rebind(query), args...)
	if err != nil {
		return fmt.Errorf("audit: reading records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e    rawEntry
			seq  int64
			c    indexColumns
			strs [10]sql.NullString
		)
		if err := rows.Scan(&seq, &c.timeNS, &strs[0], &strs[1], &strs[2], &strs[3], &strs[4], &strs[5], &strs[6], &strs[7], &strs[8], &strs[9],
			&e.payload, &e.prevHash, &e.hash); err != nil {
			return fmt.Errorf("audit: reading records: %w", err)
		}
		c.kind, c.requestID, c.principalKind, c.tenantID, c.objectID = strs[0].String, strs[1].String, strs[2].String, strs[3].String, strs[4].String
		c.upn, c.appID, c.operation, c.dagID, c.decision = strs[5].String, strs[6].String, strs[7].String, strs[8].String, strs[9].String
		if seq <= 0 {
			return fmt.Errorf("audit: reading records: invalid seq %d", seq)
		}
		e.seq = uint64(seq)
		e.cols = &c
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit: reading records: %w", err)
	}
	return nil
}

// Checkpoints returns the stored checkpoints in sequence order.
func (l *Log) Checkpoints(ctx context.Context) ([]Checkpoint, error) {
	return l.checkpoints(ctx, 0, 1<<62)
}

func (l *Log) checkpoints(ctx context.Context, from, to uint64) ([]Checkpoint, error) {
	rows, err := l.db.QueryContext(ctx, l.d.rebind(`SELECT seq, head, time_ns, key_id, signature FROM audit_checkpoints WHERE seq >= ? AND seq <= ? ORDER BY seq`),
		int64(from), int64(to))
	if err != nil {
		return nil, fmt.Errorf("audit: reading checkpoints: %w", err)
	}
	defer rows.Close()
	var cps []Checkpoint
	for rows.Next() {
		var (
			c         Checkpoint
			seq, tns  int64
			head, sig []byte
		)
		if err := rows.Scan(&seq, &head, &tns, &c.KeyID, &sig); err != nil {
			return nil, fmt.Errorf("audit: reading checkpoints: %w", err)
		}
		c.Seq = uint64(seq)
		c.Time = time.Unix(0, tns).UTC()
		c.Signature = sig
		if len(head) != len(c.Head) {
			// Keep the checkpoint; the verifier reports it as bad.
			c.Signature = nil
		}
		copy(c.Head[:], head)
		cps = append(cps, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: reading checkpoints: %w", err)
	}
	return cps, nil
}

// Keys returns the public keys recorded in the database by writers whose
// signers expose them. They are NOT a trust anchor: whoever can rewrite the
// database can replace them. Verify against pinned keys where possible.
func (l *Log) Keys(ctx context.Context) (KeySet, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT key_id, public_key FROM audit_keys ORDER BY key_id`)
	if err != nil {
		return nil, fmt.Errorf("audit: reading keys: %w", err)
	}
	defer rows.Close()
	ks := KeySet{}
	for rows.Next() {
		var id string
		var pub []byte
		if err := rows.Scan(&id, &pub); err != nil {
			return nil, fmt.Errorf("audit: reading keys: %w", err)
		}
		ks[id] = pub
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: reading keys: %w", err)
	}
	return ks, nil
}
