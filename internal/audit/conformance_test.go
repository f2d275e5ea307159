package audit

import (
	"bytes"
	"context"
	"crypto"
	"encoding/csv"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConformance runs the same behaviour checks against every backend.
func TestConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, tc := range conformanceTests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.run(t, b.dsn(t))
			})
		}
	})
}

var conformanceTests = []struct {
	name string
	run  func(t *testing.T, dsn string)
}{
	{"AppendReadBack", testAppendReadBack},
	{"Query", testQuery},
	{"ConcurrentAppends", testConcurrentAppends},
	{"CountCheckpoints", testCountCheckpoints},
	{"TimedCheckpoint", testTimedCheckpoint},
	{"AppendOnly", testAppendOnly},
	{"ReopenContinues", testReopenContinues},
	{"ExportVerify", testExportVerify},
	{"FailClosed", testFailClosed},
	{"AsyncOrdering", testAsyncOrdering},
	{"InvalidRecords", testInvalidRecords},
	{"ClosedAndReadOnly", testClosedAndReadOnly},
	{"KeyRotation", testKeyRotation},
	{"TwoWriters", testTwoWriters},
	{"InterleavedWriters", testInterleavedWriters},
	{"PreparedOnce", testPreparedOnce},
	{"LargeBatch", testLargeBatch},
	{"GroupCommit", testGroupCommit},
}

func testAppendReadBack(t *testing.T, dsn string) {
	key := testKey(1)
	l := openLog(t, dsn, Options{Signer: key})
	const n = 30
	rs := appendN(t, l, 0, n)
	for i, r := range rs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("receipt %d: Seq = %d, want %d", i, r.Seq, i+1)
		}
	}
	var got []Entry
	if err := l.Query(context.Background(), Filter{}, func(e Entry) error { got = append(got, e); return nil }); err != nil {
		t.Fatalf("Query() = %v", err)
	}
	if len(got) != n {
		t.Fatalf("Query() returned %d records, want %d", len(got), n)
	}
	prev := Hash{}
	for i, e := range got {
		want := canonical(sampleRecord(i), uint64(i+1))
		if !bytes.Equal(e.Payload, want) || !bytes.Equal(Encode(e.Record), want) {
			t.Errorf("record %d read back differs:\n got %x\nwant %x", i+1, e.Payload, want)
		}
		if e.Hash != rs[i].Hash || e.PrevHash != prev {
			t.Errorf("record %d: hashes (%s, %s), want (%s, %s)", i+1, e.PrevHash.Short(), e.Hash.Short(), prev.Short(), rs[i].Hash.Short())
		}
		prev = e.Hash
	}
	rep := mustVerify(t, l, key.KeySet())
	if rep.Records != n || rep.Head != rs[n-1].Hash {
		t.Errorf("Verify() = %+v, want %d records, head %s", rep, n, rs[n-1].Hash.Short())
	}
}

func testQuery(t *testing.T, dsn string) {
	l := openLog(t, dsn, Options{})
	const n = 42
	appendN(t, l, 0, n)
	all := make([]Record, n)
	for i := range all {
		all[i] = sampleRecord(i)
		all[i].Seq = uint64(i + 1)
	}
	tests := []struct {
		name   string
		filter Filter
		match  func(r Record) bool
	}{
		{"all", Filter{}, func(Record) bool { return true }},
		{"user by UPN, any case", Filter{User: "alice@example.COM"}, func(r Record) bool { return r.Principal.UPN == "Alice@Example.com" }},
		{"user by object id", Filter{User: "oid-bob"}, func(r Record) bool { return r.Principal.ObjectID == "oid-bob" }},
		{"user by app id", Filter{User: "app-etl"}, func(r Record) bool { return r.Principal.AppID == "app-etl" }},
		{"dag", Filter{DAGID: "hr_export"}, func(r Record) bool { return r.DAGID == "hr_export" }},
		{"deny", Filter{Decision: DecisionDeny}, func(r Record) bool { return r.Decision == DecisionDeny }},
		{"operation", Filter{Operation: "trigger_dag_run"}, func(r Record) bool { return r.Operation == "trigger_dag_run" }},
		{"kind", Filter{Kind: KindOutcome}, func(r Record) bool { return r.Kind == KindOutcome }},
		{"since until", Filter{Since: baseTime.Add(10 * time.Minute), Until: baseTime.Add(20 * time.Minute)},
			func(r Record) bool {
				return !r.Time.Before(baseTime.Add(10*time.Minute)) && r.Time.Before(baseTime.Add(20*time.Minute))
			}},
		{"combined", Filter{User: "Alice@Example.com", Decision: DecisionAllow, DAGID: "sales_daily"}, func(r Record) bool {
			return r.Principal.UPN == "Alice@Example.com" && r.Decision == DecisionAllow && r.DAGID == "sales_daily"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var want []uint64
			for _, r := range all {
				if tc.match(r) {
					want = append(want, r.Seq)
				}
			}
			var got []uint64
			err := l.Query(context.Background(), tc.filter, func(e Entry) error { got = append(got, e.Seq); return nil })
			if err != nil {
				t.Fatalf("Query() = %v", err)
			}
			if len(want) == 0 || !equalSeqs(got, want) {
				t.Errorf("Query(%+v) = %v, want %v", tc.filter, got, want)
			}
		})
	}
	t.Run("limit", func(t *testing.T) {
		var got []uint64
		if err := l.Query(context.Background(), Filter{Limit: 5}, func(e Entry) error { got = append(got, e.Seq); return nil }); err != nil {
			t.Fatal(err)
		}
		if !equalSeqs(got, []uint64{1, 2, 3, 4, 5}) {
			t.Errorf("Query(limit 5) = %v", got)
		}
	})
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testConcurrentAppends(t *testing.T, dsn string) {
	key := testKey(2)
	l := openLog(t, dsn, Options{Signer: key, CheckpointEvery: 25})
	const workers, each = 8, 30
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				r, err := l.Append(context.Background(), sampleRecord(w*each+i))
				if err != nil {
					t.Errorf("Append = %v", err)
					return
				}
				mu.Lock()
				if seen[r.Seq] {
					t.Errorf("seq %d acknowledged twice", r.Seq)
				}
				seen[r.Seq] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for s := uint64(1); s <= workers*each; s++ {
		if !seen[s] {
			t.Errorf("seq %d never acknowledged", s)
		}
	}
	rep := mustVerify(t, l, key.KeySet())
	if rep.Records != workers*each || rep.Checkpoints == 0 {
		t.Errorf("Verify() = %+v, want %d records and checkpoints", rep, workers*each)
	}
}

func testCountCheckpoints(t *testing.T, dsn string) {
	key := testKey(3)
	l := openLog(t, dsn, Options{Signer: key, CheckpointEvery: 10, CheckpointInterval: -1})
	appendN(t, l, 0, 35)
	cps, err := l.Checkpoints(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := cpSeqs(cps); !equalSeqs(got, []uint64{10, 20, 30}) {
		t.Errorf("checkpoints at %v, want [10 20 30]", got)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	l = openLog(t, dsn, Options{ReadOnly: true})
	cps, _ = l.Checkpoints(context.Background())
	if got := cpSeqs(cps); !equalSeqs(got, []uint64{10, 20, 30, 35}) {
		t.Errorf("after Close, checkpoints at %v, want [10 20 30 35]", got)
	}
	rep := mustVerify(t, l, key.KeySet())
	if rep.Checkpoints != 4 || rep.LastCheckpoint != 35 {
		t.Errorf("Verify() = %+v, want 4 checkpoints, last at 35", rep)
	}
	if cps[0].KeyID != key.KeyID() {
		t.Errorf("checkpoint key id %q, want %q", cps[0].KeyID, key.KeyID())
	}
}

func cpSeqs(cps []Checkpoint) []uint64 {
	var s []uint64
	for _, c := range cps {
		s = append(s, c.Seq)
	}
	return s
}

func testTimedCheckpoint(t *testing.T, dsn string) {
	key := testKey(4)
	l := openLog(t, dsn, Options{Signer: key, CheckpointEvery: -1, CheckpointInterval: 100 * time.Millisecond})
	appendN(t, l, 0, 3)
	deadline := time.Now().Add(10 * time.Second)
	for {
		cps, err := l.Checkpoints(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(cps) > 0 && cps[len(cps)-1].Seq == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint over record 3 after 10s: %v", cpSeqs(cps))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testAppendOnly(t *testing.T, dsn string) {
	l := openLog(t, dsn, Options{Signer: testKey(5)})
	appendN(t, l, 0, 3)
	l.checkpointNow(true)
	for _, stmt := range []string{
		`UPDATE audit_records SET decision = 'allow' WHERE seq = 2`,
		`DELETE FROM audit_records WHERE seq = 3`,
		`UPDATE audit_checkpoints SET seq = 1`,
		`DELETE FROM audit_checkpoints`,
		`DELETE FROM audit_keys`,
	} {
		if _, err := l.db.Exec(stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("Exec(%q) = %v, want the append-only trigger to refuse it", stmt, err)
		}
	}
	if l.d == postgresDialect {
		if _, err := l.db.Exec(`TRUNCATE audit_records`); err == nil {
			t.Errorf("TRUNCATE audit_records succeeded, want it refused")
		}
	}
	mustVerify(t, l, nil)
}

func testReopenContinues(t *testing.T, dsn string) {
	key := testKey(6)
	l := openLog(t, dsn, Options{Signer: key})
	first := appendN(t, l, 0, 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dsn, Options{Signer: key})
	next := appendN(t, l, 5, 5)
	if next[0].Seq != 6 {
		t.Fatalf("after reopening, first Seq = %d, want 6", next[0].Seq)
	}
	var prev Hash
	l.Query(context.Background(), Filter{}, func(e Entry) error {
		if e.Seq == 6 {
			prev = e.PrevHash
		}
		return nil
	})
	if prev != first[4].Hash {
		t.Errorf("record 6 links to %s, want %s", prev.Short(), first[4].Hash.Short())
	}
	mustVerify(t, l, key.KeySet())
}

func testExportVerify(t *testing.T, dsn string) {
	key := testKey(7)
	l := openLog(t, dsn, Options{Signer: key, CheckpointEvery: 10, CheckpointInterval: -1})
	appendN(t, l, 0, 40)
	ctx := context.Background()

	var buf bytes.Buffer
	sum, err := l.Export(ctx, &buf, ExportOptions{Format: FormatJSONL})
	if err != nil {
		t.Fatalf("Export() = %v", err)
	}
	if sum.Records != 40 || sum.Checkpoints != 4 {
		t.Errorf("Export() = %+v, want 40 records, 4 checkpoints", sum)
	}
	rep, contents, err := VerifyExport(ctx, bytes.NewReader(buf.Bytes()), key.KeySet())
	if err != nil {
		t.Fatalf("VerifyExport() = %v", err)
	}
	if rep.Records != 40 || !rep.Anchored || rep.LastCheckpoint != 40 {
		t.Errorf("VerifyExport() = %+v", rep)
	}
	if _, ok := contents.Keys[key.KeyID()]; !ok {
		t.Errorf("export carries keys %v, want %s", contents.Keys, key.KeyID())
	}

	// A segment starting right after a checkpoint is anchored by it.
	buf.Reset()
	if _, err := l.Export(ctx, &buf, ExportOptions{Format: FormatJSONL, Since: baseTime.Add(20 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	rep, _, err = VerifyExport(ctx, &buf, key.KeySet())
	if err != nil || rep.First != 21 || rep.Records != 20 || !rep.Anchored {
		t.Errorf("VerifyExport(segment from 21) = %+v, %v; want 20 anchored records", rep, err)
	}
	// One that starts elsewhere verifies, but unanchored.
	buf.Reset()
	if _, err := l.Export(ctx, &buf, ExportOptions{Format: FormatJSONL, Since: baseTime.Add(15 * time.Minute), Until: baseTime.Add(25 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	rep, _, err = VerifyExport(ctx, &buf, key.KeySet())
	if err != nil || rep.First != 16 || rep.Last != 25 || rep.Anchored || rep.Checkpoints != 1 {
		t.Errorf("VerifyExport(segment 16-25) = %+v, %v; want unanchored, 1 checkpoint", rep, err)
	}

	buf.Reset()
	if _, err := l.Export(ctx, &buf, ExportOptions{Format: FormatCSV}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("reading CSV export: %v", err)
	}
	if len(rows) != 41 || rows[0][0] != "seq" || rows[2][0] != "2" || rows[2][16] != "deny" {
		t.Errorf("CSV export: %d rows, header %v, row 2 %v", len(rows), rows[0], rows[2])
	}
}

// breakWrites makes every insert into audit_records fail, and returns the
// function that repairs it.
func breakWrites(t *testing.T, l *Log) (repair func()) {
	t.Helper()
	var stmts, undo []string
	if l.d == postgresDialect {
		stmts = []string{
			`CREATE FUNCTION audit_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$`,
			`CREATE TRIGGER audit_test_fail BEFORE INSERT ON audit_records FOR EACH ROW EXECUTE FUNCTION audit_test_fail()`,
		}
		undo = []string{`DROP TRIGGER audit_test_fail ON audit_records`}
	} else {
		stmts = []string{`CREATE TRIGGER audit_test_fail BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`}
		undo = []string{`DROP TRIGGER audit_test_fail`}
	}
	for _, s := range stmts {
		if _, err := l.db.Exec(s); err != nil {
			t.Fatalf("breaking writes: %v", err)
		}
	}
	return func() {
		for _, s := range undo {
			if _, err := l.db.Exec(s); err != nil {
				t.Fatalf("repairing writes: %v", err)
			}
		}
	}
}

func testFailClosed(t *testing.T, dsn string) {
	key := testKey(8)
	l := openLog(t, dsn, Options{Signer: key})
	ctx := context.Background()
	appendN(t, l, 0, 2)
	repair := breakWrites(t, l)

	if _, err := l.Append(ctx, sampleRecord(2)); err == nil {
		t.Fatal("Append() with a failing store = nil error, want an error")
	}
	// A denial acknowledged early while the store fails must not be
	// dropped: it is retried until the store recovers.
	deny := sampleRecord(1)
	deny.RequestID = "acknowledged-early"
	l.failing.Store(false) // as if the failure had not been seen yet
	tk, err := l.AppendAsync(ctx, deny)
	if err != nil {
		t.Fatalf("AppendAsync(deny) = %v", err)
	}
	// Once a commit failed, AppendAsync no longer acknowledges early: it
	// waits, and reports the failure.
	deadline := time.Now().Add(5 * time.Second)
	for !l.failing.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := l.AppendAsync(ctx, sampleRecord(1)); err == nil {
		t.Error("AppendAsync(deny) while the store fails = nil error, want an error")
	}
	select {
	case <-tk.Done():
		t.Fatal("record acknowledged early completed while the store fails")
	default:
	}
	repair()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rc, err := tk.Wait(wctx)
	if err != nil {
		t.Fatalf("Ticket.Wait() after repair = %v", err)
	}
	var got string
	l.Query(ctx, Filter{}, func(e Entry) error {
		if e.Seq == rc.Seq {
			got = e.RequestID
		}
		return nil
	})
	if got != "acknowledged-early" {
		t.Errorf("record %d has request id %q, want the early-acknowledged one", rc.Seq, got)
	}
	if _, err := l.Append(ctx, sampleRecord(3)); err != nil {
		t.Errorf("Append() after repair = %v", err)
	}
	mustVerify(t, l, key.KeySet())
}

func testAsyncOrdering(t *testing.T, dsn string) {
	l := openLog(t, dsn, Options{})
	ctx := context.Background()
	var tickets []*Ticket
	for i := range 20 {
		rec := sampleRecord(1) // a denial: eligible
		rec.RequestID = "async-" + string(rune('a'+i))
		tk, err := l.AppendAsync(ctx, rec)
		if err != nil {
			t.Fatalf("AppendAsync() = %v", err)
		}
		tickets = append(tickets, tk)
	}
	write := sampleRecord(2) // a POST allow: must be strict
	tk, err := l.AppendAsync(ctx, write)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-tk.Done():
	default:
		t.Error("AppendAsync(allowed write) returned before the record was durable")
	}
	// Everything queued before a durable record is durable too.
	for i, x := range tickets {
		select {
		case <-x.Done():
		default:
			t.Errorf("ticket %d not done after a later strict append", i)
		}
		if _, err := x.Wait(ctx); err != nil {
			t.Errorf("ticket %d: %v", i, err)
		}
	}
	r, _ := tk.Wait(ctx)
	if r.Seq != 21 {
		t.Errorf("strict record Seq = %d, want 21", r.Seq)
	}
}

func testInvalidRecords(t *testing.T, dsn string) {
	l := openLog(t, dsn, Options{})
	bad := []struct {
		name string
		edit func(r *Record)
	}{
		{"decision without verdict", func(r *Record) { r.Decision = "" }},
		{"unknown verdict", func(r *Record) { r.Decision = "maybe" }},
		{"bad kind", func(r *Record) { r.Kind = "Decision!" }},
		{"no kind", func(r *Record) { r.Kind = "" }},
		{"token instead of fingerprint", func(r *Record) { r.TokenFingerprint = "eyJhbGciOi.eyJzdWIiOi.c2ln" }},
		{"principal kind", func(r *Record) { r.Principal.Kind = "robot" }},
		{"time out of range", func(r *Record) { r.Time = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"too large", func(r *Record) { r.Path = strings.Repeat("x", MaxRecordSize) }},
	}
	for _, tc := range bad {
		rec := sampleRecord(0)
		tc.edit(&rec)
		if _, err := l.Append(context.Background(), rec); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: Append() = %v, want ErrInvalidRecord", tc.name, err)
		}
	}
	// Invalid UTF-8 and NUL are replaced, not refused.
	rec := sampleRecord(0)
	rec.Path = "/api/v2/dags/\xff\x00x"
	if _, err := l.Append(context.Background(), rec); err != nil {
		t.Fatalf("Append(invalid UTF-8) = %v", err)
	}
	l.Query(context.Background(), Filter{}, func(e Entry) error {
		if e.Path != "/api/v2/dags/\uFFFD\uFFFDx" {
			t.Errorf("stored path %q", e.Path)
		}
		return nil
	})
	mustVerify(t, l, nil)
}

func testClosedAndReadOnly(t *testing.T, dsn string) {
	l := openLog(t, dsn, Options{})
	appendN(t, l, 0, 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
	if _, err := l.Append(context.Background(), sampleRecord(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append() after Close = %v, want ErrClosed", err)
	}
	ro := openLog(t, dsn, Options{ReadOnly: true})
	if _, err := ro.Append(context.Background(), sampleRecord(0)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Append() on read-only log = %v, want ErrReadOnly", err)
	}
	if rep := mustVerify(t, ro, nil); rep.Records != 1 {
		t.Errorf("Verify() = %+v", rep)
	}
}

// rotatingSigner is a keyring stand-in whose current key can change.
type rotatingSigner struct {
	mu  sync.Mutex
	cur *Key
}

func (s *rotatingSigner) key() *Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}
func (s *rotatingSigner) KeyID() string                   { return s.key().KeyID() }
func (s *rotatingSigner) Sign(msg []byte) ([]byte, error) { return s.key().Sign(msg) }
func (s *rotatingSigner) Public() crypto.PublicKey        { return s.key().Public() }
func (s *rotatingSigner) rotate(k *Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = k
}

func testKeyRotation(t *testing.T, dsn string) {
	a, b := testKey(12), testKey(13)
	s := &rotatingSigner{cur: a}
	l := openLog(t, dsn, Options{Signer: s, CheckpointEvery: 5, CheckpointInterval: -1})
	appendN(t, l, 0, 5)
	s.rotate(b)
	appendN(t, l, 5, 5)
	cps, _ := l.Checkpoints(context.Background())
	if len(cps) != 2 || cps[0].KeyID != a.KeyID() || cps[1].KeyID != b.KeyID() {
		t.Fatalf("checkpoints %+v, want one by each key", cps)
	}
	keys, _ := l.Keys(context.Background())
	if len(keys) != 2 {
		t.Errorf("recorded keys %v, want both", keys)
	}
	mustVerify(t, l, nil)
	mustVerify(t, l, KeySet{a.KeyID(): a.KeySet()[a.KeyID()], b.KeyID(): b.KeySet()[b.KeyID()]})
	if _, err := l.Verify(context.Background(), a.KeySet()); err == nil {
		t.Error("Verify(only the old key) = nil, want unknown key")
	}
}
