package cli

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/audit/audittest"
)

// auditCLI runs one command in-process and returns its stdout, stderr and
// exit code.
func auditCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, Stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

// auditT0 is the time of record 1; record 20 is an hour old.
var auditT0 = time.Now().UTC().Add(-20 * time.Hour).Truncate(time.Second)

// auditRecord is the i-th record of the test chains: record seq i+1. Odd
// ones are denials of Bob; every third one concerns hr_export.
func auditRecord(i int) audit.Record {
	r := audit.Record{
		Time: auditT0.Add(time.Duration(i) * time.Hour), Kind: audit.KindDecision,
		RequestID: fmt.Sprintf("req-%d", i),
		Principal: audit.Principal{Kind: audit.PrincipalUser, TenantID: "t1", ObjectID: "oid-alice", UPN: "alice@example.com"},
		Method:    "GET", Path: "/api/v2/dags/sales", Operation: "get_dag", DAGID: "sales", Decision: audit.DecisionAllow,
	}
	if i%2 == 1 {
		r.Principal = audit.Principal{Kind: audit.PrincipalUser, TenantID: "t1", ObjectID: "oid-bob", UPN: "Bob@Example.com"}
		r.Decision, r.Reasons = audit.DecisionDeny, []string{"no-matching-role"}
	}
	if i%3 == 0 {
		r.DAGID, r.Path, r.Operation, r.Method = "hr_export", "/api/v2/dags/hr_export/dagRuns", "trigger_dag_run", "POST"
	}
	return r
}

// auditFixture is a chain of 20 records (checkpoints every 5) in an SQLite
// file or PostgreSQL schema, with its signing key file and a pinned JWKS
// file written by `audit key`.
type auditFixture struct {
	db, keyFile, keysFile string
}

func newAuditFixture(t *testing.T, dsn string) auditFixture {
	t.Helper()
	dir := t.TempDir()
	fx := auditFixture{db: dsn, keyFile: filepath.Join(dir, "audit.key"), keysFile: filepath.Join(dir, "keys.json")}
	if fx.db == "" {
		fx.db = filepath.Join(dir, "audit.db")
	}
	jwks, errOut, code := auditCLI(t, "audit", "key", "--key", fx.keyFile)
	if code != 0 || !strings.Contains(errOut, "created checkpoint signing key") {
		t.Fatalf("audit key: exit %d, stderr %q", code, errOut)
	}
	if err := os.WriteFile(fx.keysFile, []byte(jwks), 0o644); err != nil {
		t.Fatal(err)
	}
	key, err := audit.LoadKey(fx.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(context.Background(), fx.db, audit.Options{Signer: key, CheckpointEvery: 5, CheckpointInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := l.Append(context.Background(), auditRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return fx
}

// sqlDB opens the fixture's database directly, with the append-only
// triggers dropped, to tamper with it.
func (fx auditFixture) tamper(t *testing.T, stmts ...string) {
	t.Helper()
	driver, pg := "sqlite", strings.HasPrefix(fx.db, "postgres")
	if pg {
		driver = "pgx"
	}
	db, err := sql.Open(driver, fx.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	drop := []string{`DROP TRIGGER audit_records_no_update`, `DROP TRIGGER audit_records_no_delete`,
		`DROP TRIGGER audit_checkpoints_no_update`}
	if pg {
		drop = []string{`DROP TRIGGER audit_records_append_only ON audit_records`, `DROP TRIGGER audit_checkpoints_append_only ON audit_checkpoints`}
	}
	for _, s := range append(drop, stmts...) {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("Exec(%q) = %v", s, err)
		}
	}
}

var okLine = regexp.MustCompile(`^ok: 20 records, 4 checkpoints, head [0-9a-f]{12}, signed through record 20\n$`)

func TestAuditVerifyIntact(t *testing.T) {
	fx := newAuditFixture(t, "")
	out, errOut, code := auditCLI(t, "audit", "verify", "--db", fx.db, "--keys", fx.keysFile)
	if code != 0 || !okLine.MatchString(out) || errOut != "" {
		t.Errorf("audit verify --keys: exit %d, stdout %q, stderr %q; want exit 0, the summary, no warning", code, out, errOut)
	}
	// The private key file serves as pinned keys too.
	if out, _, code := auditCLI(t, "audit", "verify", "--db", fx.db, "--keys", fx.keyFile); code != 0 || !okLine.MatchString(out) {
		t.Errorf("audit verify --keys KEYFILE: exit %d, stdout %q", code, out)
	}
	// Without pinned keys it still verifies, and says it could not pin.
	out, errOut, code = auditCLI(t, "audit", "verify", "--db", fx.db)
	if code != 0 || !okLine.MatchString(out) || !strings.Contains(errOut, "warning: no --keys") {
		t.Errorf("audit verify: exit %d, stdout %q, stderr %q; want exit 0 and a warning", code, out, errOut)
	}
}

func TestAuditVerifyDefaultDB(t *testing.T) {
	fx := newAuditFixture(t, "")
	t.Chdir(filepath.Dir(fx.db))
	if err := os.Rename(fx.db, audit.DefaultDSN); err != nil {
		t.Fatal(err)
	}
	os.Rename(fx.db+"-wal", audit.DefaultDSN+"-wal")
	os.Rename(fx.db+"-shm", audit.DefaultDSN+"-shm")
	if out, errOut, code := auditCLI(t, "audit", "verify", "--keys", fx.keysFile); code != 0 || !okLine.MatchString(out) {
		t.Errorf("audit verify (default --db): exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestAuditVerifyTampered: each kind of tampering exits 1, naming the
// first bad record and the problem.
func TestAuditVerifyTampered(t *testing.T) {
	tests := []struct {
		name  string
		stmts []string
		want  string
	}{
		{"edited payload", []string{`UPDATE audit_records SET payload = unhex(replace(hex(payload), hex('req-6'), hex('req-X'))) WHERE seq = 7`},
			"audit: record 7: edited: contents do not match the stored hash"},
		{"edited column", []string{`UPDATE audit_records SET decision = 'allow' WHERE seq = 8`},
			"audit: record 8: edited: column decision differs"},
		{"removed", []string{`DELETE FROM audit_records WHERE seq = 7`},
			"audit: record 7: removed: record 7 is missing"},
		{"reordered", []string{`UPDATE audit_records SET seq = 100 WHERE seq = 7`, `UPDATE audit_records SET seq = 7 WHERE seq = 8`, `UPDATE audit_records SET seq = 8 WHERE seq = 100`},
			"audit: record 7: reordered: position 7 holds record 8"},
		{"truncated", []string{`DELETE FROM audit_records WHERE seq > 12`},
			"audit: record 13: truncated: after checkpoint 10: the chain ends at record 12 but a signed checkpoint covers record 15"},
		{"bad signature", []string{`UPDATE audit_checkpoints SET signature = zeroblob(64) WHERE seq = 10`},
			"audit: checkpoint at record 10: bad-checkpoint-signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newAuditFixture(t, "")
			fx.tamper(t, tc.stmts...)
			out, errOut, code := auditCLI(t, "audit", "verify", "--db", fx.db, "--keys", fx.keysFile)
			if code != 1 || out != "" || !strings.Contains(errOut, tc.want) {
				t.Errorf("audit verify: exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, errOut, tc.want)
			}
		})
	}
}

func TestAuditVerifyPostgres(t *testing.T) {
	fx := newAuditFixture(t, audittest.PostgresDSN(t))
	if out, errOut, code := auditCLI(t, "audit", "verify", "--db", fx.db, "--keys", fx.keysFile); code != 0 || !okLine.MatchString(out) {
		t.Fatalf("audit verify: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	fx.tamper(t, `DELETE FROM audit_records WHERE seq = 3`)
	_, errOut, code := auditCLI(t, "audit", "verify", "--db", fx.db, "--keys", fx.keysFile)
	if code != 1 || !strings.Contains(errOut, "record 3: removed") {
		t.Errorf("audit verify after deleting record 3: exit %d, stderr %q", code, errOut)
	}
}

func TestAuditVerifyErrors(t *testing.T) {
	fx := newAuditFixture(t, "")
	missing := filepath.Join(t.TempDir(), "nope.db")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing database", []string{"--db", missing}, 1, "does not exist"},
		{"missing keys file", []string{"--db", fx.db, "--keys", missing}, 1, "reading keys"},
		{"not a key file", []string{"--db", fx.db, "--keys", fx.db}, 1, "no Ed25519 keys"},
		{"db and file", []string{"--db", fx.db, "--file", missing}, 2, "exclusive"},
		{"stray argument", []string{"extra"}, 2, `unexpected argument "extra"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := auditCLI(t, append([]string{"audit", "verify"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("audit verify %v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errOut, tc.code, tc.want)
			}
		})
	}
}

func TestAuditQuery(t *testing.T) {
	fx := newAuditFixture(t, "")
	seqs := func(out string) []string {
		var s []string
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			var rec struct {
				Seq  uint64 `json:"seq"`
				Hash string `json:"hash"`
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || len(rec.Hash) != 64 {
				t.Fatalf("json line %q: %v", sc.Text(), err)
			}
			s = append(s, fmt.Sprint(rec.Seq))
		}
		return s
	}
	since := auditT0.Add(10 * time.Hour).Format(time.RFC3339)
	tests := []struct {
		name string
		args []string
		want string // sequence numbers, space-separated
	}{
		{"all", nil, "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"},
		{"user any case", []string{"--user", "bob@EXAMPLE.com"}, "2 4 6 8 10 12 14 16 18 20"},
		{"user by object id", []string{"--user", "oid-alice"}, "1 3 5 7 9 11 13 15 17 19"},
		{"dag", []string{"--dag", "hr_export"}, "1 4 7 10 13 16 19"},
		{"deny", []string{"--decision", "deny"}, "2 4 6 8 10 12 14 16 18 20"},
		{"deny of a dag", []string{"--decision", "deny", "--dag", "hr_export"}, "4 10 16"},
		{"operation", []string{"--operation", "trigger_dag_run", "--user", "alice@example.com"}, "1 7 13 19"},
		{"since time", []string{"--since", since}, "11 12 13 14 15 16 17 18 19 20"},
		{"since duration", []string{"--since", "150m"}, "19 20"},
		{"since duration until time", []string{"--since", "21h", "--until", since}, "1 2 3 4 5 6 7 8 9 10"},
		{"since days", []string{"--since", "1d", "--decision", "deny"}, "2 4 6 8 10 12 14 16 18 20"},
		{"limit", []string{"--limit", "3"}, "1 2 3"},
		{"nothing", []string{"--dag", "nope"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"audit", "query", "--db", fx.db, "--format", "json"}, tc.args...)
			out, errOut, code := auditCLI(t, args...)
			if code != 0 {
				t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
			}
			if got := strings.Join(seqs(out), " "); got != tc.want {
				t.Errorf("%v = seqs %q, want %q", tc.args, got, tc.want)
			}
		})
	}
	out, _, code := auditCLI(t, "audit", "query", "--db", fx.db, "--decision", "deny", "--dag", "hr_export")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "SEQ ") ||
		!regexp.MustCompile(`^4 +\S+ +decision +Bob@Example.com +deny +POST +trigger_dag_run +hr_export +- +no-matching-role$`).MatchString(lines[1]) {
		t.Errorf("audit query table: exit %d, output:\n%s", code, out)
	}
}

// TestAuditFlagErrors: bad values exit 2 with an error naming the flag and
// the value.
func TestAuditFlagErrors(t *testing.T) {
	fx := newAuditFixture(t, "")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"audit", "query", "--db", fx.db, "--since", "yesterday"}, `--since "yesterday"`},
		{[]string{"audit", "query", "--db", fx.db, "--until", "2025-13-01"}, `--until "2025-13-01"`},
		{[]string{"audit", "query", "--db", fx.db, "--since", "-3h"}, `--since "-3h"`},
		{[]string{"audit", "query", "--db", fx.db, "--decision", "maybe"}, `--decision "maybe"`},
		{[]string{"audit", "query", "--db", fx.db, "--format", "xml"}, `--format "xml"`},
		{[]string{"audit", "query", "--db", fx.db, "--limit", "-1"}, `--limit -1`},
		{[]string{"audit", "query", "--db", fx.db, "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"audit", "export", "--db", fx.db}, `--format ""`},
		{[]string{"audit", "export", "--db", fx.db, "--format", "xml"}, `--format "xml"`},
		{[]string{"audit", "export", "--db", fx.db, "--format", "csv", "--since", "soon"}, `--since "soon"`},
	}
	for _, tc := range tests {
		_, errOut, code := auditCLI(t, tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %s", tc.args, code, errOut, tc.want)
		}
	}
}

func TestAuditExport(t *testing.T) {
	fx := newAuditFixture(t, "")
	dir := t.TempDir()

	out, errOut, code := auditCLI(t, "audit", "export", "--db", fx.db, "--format", "jsonl")
	if code != 0 || !strings.Contains(errOut, "exported 20 records (1-20), 4 checkpoints") {
		t.Fatalf("audit export: exit %d, stderr %q", code, errOut)
	}
	export := filepath.Join(dir, "export.jsonl")
	os.WriteFile(export, []byte(out), 0o644)
	vout, verrOut, code := auditCLI(t, "audit", "verify", "--file", export, "--keys", fx.keysFile)
	if code != 0 || !okLine.MatchString(vout) {
		t.Errorf("audit verify --file: exit %d, stdout %q, stderr %q", code, vout, verrOut)
	}

	// An auditor's copy with one exported field changed is caught, even
	// though the payload is untouched.
	forged := strings.Replace(out, `"request_id":"req-6"`, `"request_id":"req-X"`, 1)
	os.WriteFile(export, []byte(forged), 0o644)
	_, verrOut, code = auditCLI(t, "audit", "verify", "--file", export, "--keys", fx.keysFile)
	if code != 1 || !strings.Contains(verrOut, "record 7: edited: exported fields differ") {
		t.Errorf("audit verify --file (forged field): exit %d, stderr %q", code, verrOut)
	}

	// A segment from a checkpoint boundary verifies and is anchored.
	out, errOut, code = auditCLI(t, "audit", "export", "--db", fx.db, "--format", "jsonl", "--since", auditT0.Add(10*time.Hour).Format(time.RFC3339))
	if code != 0 {
		t.Fatalf("audit export --since: exit %d, stderr %q", code, errOut)
	}
	os.WriteFile(export, []byte(out), 0o644)
	vout, verrOut, code = auditCLI(t, "audit", "verify", "--file", export, "--keys", fx.keysFile)
	if code != 0 || !strings.HasPrefix(vout, "ok: records 11-20 (10 records), 3 checkpoints") || strings.Contains(verrOut, "first link") {
		t.Errorf("audit verify --file (segment): exit %d, stdout %q, stderr %q", code, vout, verrOut)
	}

	out, _, code = auditCLI(t, "audit", "export", "--db", fx.db, "--format", "csv", "--since", "150m")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) != 3 || rows[0][0] != "seq" || rows[0][len(rows[0])-1] != "payload" {
		t.Errorf("audit export --format csv: exit %d, %d rows, %v", code, len(rows), err)
	}
}

func TestParseTimeFlag(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"24h", now.Add(-24 * time.Hour)},
		{"90m", now.Add(-90 * time.Minute)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"2025-01-02T03:04:05Z", time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"2025-01-02T03:04:05.5+02:00", time.Date(2025, 1, 2, 1, 4, 5, 5e8, time.UTC)},
	}
	for _, tc := range tests {
		got, err := parseTimeFlag("since", tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseTimeFlag(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"yesterday", "-1h", "1w", "d", "2025-01-02"} {
		if _, err := parseTimeFlag("since", bad, now); err == nil {
			t.Errorf("parseTimeFlag(%q) succeeded", bad)
		}
	}
}
