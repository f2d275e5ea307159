package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/audit/audittest"
)

// backend is one storage backend the shared suites run against.
type backend struct {
	name string
	dsn  func(t testing.TB) string
}

var backends = []backend{
	{"sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "audit.db") }},
	{"postgres", audittest.PostgresDSN},
}

// forEachBackend runs f as a subtest per backend.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

// testKey returns a deterministic signing key; seed picks which.
func testKey(seed byte) *Key {
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed + byte(i)
	}
	return NewKey(ed25519.NewKeyFromSeed(s))
}

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// openLog opens a log for the test and closes it at the end.
func openLog(t testing.TB, dsn string, opts Options) *Log {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger
	}
	l, err := Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatalf("Open(%q) = %v", dsn, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

var baseTime = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

// sampleRecord returns the i-th of a varied set of records: users and apps,
// allows and denies, outcomes, other kinds.
func sampleRecord(i int) Record {
	users := []Principal{
		{Kind: PrincipalUser, TenantID: "tenant-1", ObjectID: "oid-alice", UPN: "Alice@Example.com", DisplayName: "Alice Liddell"},
		{Kind: PrincipalUser, TenantID: "tenant-1", ObjectID: "oid-bob", UPN: "bob@example.com", DisplayName: "Bob"},
		{Kind: PrincipalApp, TenantID: "tenant-1", ObjectID: "oid-etl", AppID: "app-etl", DisplayName: "ETL job"},
		{Kind: PrincipalAgent, TenantID: "tenant-1", ObjectID: "oid-alice", UPN: "Alice@Example.com", Actor: "app-agent"},
	}
	dags := []string{"sales_daily", "hr_export", ""}
	r := Record{
		Time:             baseTime.Add(time.Duration(i) * time.Minute),
		Kind:             KindDecision,
		RequestID:        fmt.Sprintf("req-%04d", i),
		Principal:        users[i%len(users)],
		SourceIP:         "192.0.2.10",
		Method:           "GET",
		Path:             "/api/v2/dags/" + dags[i%len(dags)],
		Operation:        "get_dag",
		DAGID:            dags[i%len(dags)],
		Decision:         DecisionAllow,
		Rules:            []string{"role:Viewer"},
		TokenFingerprint: TokenFingerprint(fmt.Sprint("token", i%5)),
	}
	switch i % 7 {
	case 1:
		r.Decision = DecisionDeny
		r.Reasons = []string{"no-matching-role", "dag-not-in-scope"}
		r.Rules = nil
	case 2:
		r.Method, r.Operation = "POST", "trigger_dag_run"
		r.Path += "/dagRuns"
	case 3:
		r = Record{Time: r.Time, Kind: KindOutcome, RequestID: r.RequestID, Principal: r.Principal,
			Ref: uint64(i - 1), Status: 200, DAGRunID: "manual__2025-03-14", Latency: 42 * time.Millisecond}
	case 4:
		r.ExchangeID = fmt.Sprintf("xchg-%d", i)
		r.Kind = KindTokenExchange
		r.Decision = DecisionAllow
	case 5:
		r = Record{Time: r.Time, Kind: KindSecretRotation, Detail: map[string]string{"secret": "airflow-basic", "version": fmt.Sprint(i)}}
	}
	return r
}

// appendN appends n sample records one by one and returns their receipts.
func appendN(t testing.TB, l *Log, from, n int) []Receipt {
	t.Helper()
	var rs []Receipt
	for i := from; i < from+n; i++ {
		r, err := l.Append(context.Background(), sampleRecord(i))
		if err != nil {
			t.Fatalf("Append(%d) = %v", i, err)
		}
		rs = append(rs, r)
	}
	return rs
}

// canonical returns rec's canonical encoding after normalization, to
// compare records written and read back.
func canonical(rec Record, seq uint64) []byte {
	rec.Seq = seq
	normalize(&rec)
	return Encode(rec)
}

// mustVerify verifies l with keys and fails the test on any problem.
func mustVerify(t testing.TB, l *Log, keys KeySet) Report {
	t.Helper()
	rep, err := l.Verify(context.Background(), keys)
	if err != nil {
		t.Fatalf("Verify() = %v, want intact", err)
	}
	return rep
}

// buildChain chains recs in memory as the writer would, with a checkpoint
// signed by key every `every` records and over the last one.
func buildChain(recs []Record, key *Key, every int) ([]rawEntry, []Checkpoint) {
	var entries []rawEntry
	var cps []Checkpoint
	var prev Hash
	for i, rec := range recs {
		seq := uint64(i + 1)
		rec.Seq = seq
		normalize(&rec)
		payload := Encode(rec)
		h := LinkHash(prev, RecordHash(payload))
		cols := indexOf(&rec)
		pv := prev
		entries = append(entries, rawEntry{seq: seq, payload: payload, prevHash: pv[:], hash: h[:], cols: &cols})
		prev = h
		if (every > 0 && int(seq)%every == 0) || i == len(recs)-1 {
			c, err := signCheckpoint(key, seq, h, baseTime.Add(time.Duration(seq)*time.Second))
			if err != nil {
				panic(err)
			}
			cps = append(cps, c)
		}
	}
	return entries, cps
}

// cloneChain deep-copies a chain so that it can be mutated.
func cloneChain(entries []rawEntry, cps []Checkpoint) ([]rawEntry, []Checkpoint) {
	es := make([]rawEntry, len(entries))
	for i, e := range entries {
		cols := *e.cols
		es[i] = rawEntry{seq: e.seq, payload: bytes.Clone(e.payload), prevHash: bytes.Clone(e.prevHash), hash: bytes.Clone(e.hash), cols: &cols}
	}
	cs := make([]Checkpoint, len(cps))
	for i, c := range cps {
		c.Signature = bytes.Clone(c.Signature)
		cs[i] = c
	}
	return es, cs
}

// sameChain reports whether two chains are identical.
func sameChain(a []rawEntry, ac []Checkpoint, b []rawEntry, bc []Checkpoint) bool {
	if len(a) != len(b) || len(ac) != len(bc) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.seq != y.seq || !bytes.Equal(x.payload, y.payload) || !bytes.Equal(x.prevHash, y.prevHash) ||
			!bytes.Equal(x.hash, y.hash) || *x.cols != *y.cols {
			return false
		}
	}
	for i := range ac {
		x, y := ac[i], bc[i]
		if x.Seq != y.Seq || x.Head != y.Head || !x.Time.Equal(y.Time) || x.KeyID != y.KeyID || !bytes.Equal(x.Signature, y.Signature) {
			return false
		}
	}
	return true
}
