package audit

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// tamperer edits a closed chain behind the log's back, with the
// append-only triggers dropped, as an attacker with database access would.
type tamperer struct {
	t    *testing.T
	l    *Log
	dsnv string
}

func (tp tamperer) dsn() string { return tp.dsnv }

func (tp tamperer) exec(q string, args ...any) {
	tp.t.Helper()
	if _, err := tp.l.db.Exec(tp.l.d.rebind(q), args...); err != nil {
		tp.t.Fatalf("Exec(%q) = %v", q, err)
	}
}

func (tp tamperer) bytes(table, col string, seq uint64) []byte {
	tp.t.Helper()
	var b []byte
	if err := tp.l.db.QueryRow(tp.l.d.rebind(`SELECT `+col+` FROM `+table+` WHERE seq = ?`), int64(seq)).Scan(&b); err != nil {
		tp.t.Fatalf("reading %s.%s of %d: %v", table, col, seq, err)
	}
	return b
}

func (tp tamperer) flip(table, col string, seq uint64, at int) {
	tp.t.Helper()
	b := tp.bytes(table, col, seq)
	b[at%len(b)] ^= 0x01
	tp.exec(`UPDATE `+table+` SET `+col+` = ? WHERE seq = ?`, b, int64(seq))
}

// rewrite replaces record seq's DAG id, recomputes its hash from its stored
// previous hash, and, with cascade, every later record's hashes too.
func (tp tamperer) rewrite(seq uint64, cascade bool) {
	tp.t.Helper()
	rec, err := Decode(tp.bytes("audit_records", "payload", seq))
	if err != nil {
		tp.t.Fatal(err)
	}
	rec.DAGID = "forged"
	payload := Encode(rec)
	prev := Hash(tp.bytes("audit_records", "prev_hash", seq))
	h := LinkHash(prev, RecordHash(payload))
	tp.exec(`UPDATE audit_records SET payload = ?, dag_id = ?, hash = ? WHERE seq = ?`, payload, rec.DAGID, h[:], int64(seq))
	if !cascade {
		return
	}
	for s := seq + 1; ; s++ {
		var p []byte
		err := tp.l.db.QueryRow(tp.l.d.rebind(`SELECT payload FROM audit_records WHERE seq = ?`), int64(s)).Scan(&p)
		if err != nil {
			return
		}
		prev = h
		h = LinkHash(prev, RecordHash(p))
		tp.exec(`UPDATE audit_records SET prev_hash = ?, hash = ? WHERE seq = ?`, prev[:], h[:], int64(s))
	}
}

func dropTriggers(t *testing.T, l *Log) {
	t.Helper()
	var stmts []string
	if l.d == postgresDialect {
		for _, tbl := range []string{"audit_records", "audit_checkpoints", "audit_keys"} {
			stmts = append(stmts, `DROP TRIGGER `+tbl+`_append_only ON `+tbl, `DROP TRIGGER `+tbl+`_no_truncate ON `+tbl)
		}
	} else {
		for _, tbl := range []string{"audit_records", "audit_checkpoints", "audit_keys"} {
			stmts = append(stmts, `DROP TRIGGER `+tbl+`_no_update`, `DROP TRIGGER `+tbl+`_no_delete`)
		}
	}
	for _, s := range stmts {
		if _, err := l.db.Exec(s); err != nil {
			t.Fatalf("Exec(%q) = %v", s, err)
		}
	}
}

// TestTamper edits, removes, reorders and truncates records and
// checkpoints directly in the database and checks that Verify names the
// first bad record and the problem.
func TestTamper(t *testing.T) {
	key := testKey(10)
	tests := []struct {
		name       string
		tamper     func(tp tamperer)
		keys       KeySet // nil: the pinned test key
		seq        uint64
		problem    Problem
		checkpoint bool
		detail     string
	}{
		{name: "flip a payload byte", tamper: func(tp tamperer) { tp.flip("audit_records", "payload", 7, 40) },
			seq: 7, problem: ProblemEdited},
		{name: "flip a payload byte in seq", tamper: func(tp tamperer) { tp.flip("audit_records", "payload", 7, 9) },
			seq: 7, problem: ProblemEdited, detail: "sequence number"},
		{name: "flip a hash byte", tamper: func(tp tamperer) { tp.flip("audit_records", "hash", 7, 0) },
			seq: 7, problem: ProblemEdited},
		{name: "flip a previous-hash byte", tamper: func(tp tamperer) { tp.flip("audit_records", "prev_hash", 7, 31) },
			seq: 7, problem: ProblemEdited},
		{name: "edit an index column", tamper: func(tp tamperer) { tp.exec(`UPDATE audit_records SET decision = 'allow' WHERE seq = 9`) },
			seq: 9, problem: ProblemEdited, detail: "column decision"},
		{name: "rewrite a record with its hash", tamper: func(tp tamperer) { tp.rewrite(7, false) },
			seq: 7, problem: ProblemEdited, detail: "rewritten"},
		{name: "delete a record", tamper: func(tp tamperer) { tp.exec(`DELETE FROM audit_records WHERE seq = 7`) },
			seq: 7, problem: ProblemRemoved},
		{name: "delete the first record", tamper: func(tp tamperer) { tp.exec(`DELETE FROM audit_records WHERE seq = 1`) },
			seq: 1, problem: ProblemRemoved},
		{name: "swap two records", tamper: func(tp tamperer) {
			tp.exec(`UPDATE audit_records SET seq = 1000 WHERE seq = 7`)
			tp.exec(`UPDATE audit_records SET seq = 7 WHERE seq = 8`)
			tp.exec(`UPDATE audit_records SET seq = 8 WHERE seq = 1000`)
		}, seq: 7, problem: ProblemReordered},
		{name: "truncate the tail", tamper: func(tp tamperer) { tp.exec(`DELETE FROM audit_records WHERE seq >= 13`) },
			seq: 13, problem: ProblemTruncated, detail: "after checkpoint 10"},
		{name: "truncate everything", tamper: func(tp tamperer) { tp.exec(`DELETE FROM audit_records`) },
			seq: 1, problem: ProblemTruncated, detail: "after the first checkpoint"},
		{name: "rewrite the chain", tamper: func(tp tamperer) { tp.rewrite(7, true) },
			seq: 10, problem: ProblemRewritten, checkpoint: true, detail: "after checkpoint 5"},
		{name: "flip a signature byte", tamper: func(tp tamperer) { tp.flip("audit_checkpoints", "signature", 10, 3) },
			seq: 10, problem: ProblemBadSignature, checkpoint: true},
		{name: "flip a checkpoint head byte", tamper: func(tp tamperer) { tp.flip("audit_checkpoints", "head", 15, 3) },
			seq: 15, problem: ProblemBadSignature, checkpoint: true},
		{name: "re-sign with another key", tamper: func(tp tamperer) {
			forger := testKey(66)
			tp.rewrite(7, true)
			tp.exec(`DELETE FROM audit_checkpoints`)
			tp.exec(`DELETE FROM audit_keys`)
			l, err := Open(context.Background(), tp.dsn(), Options{Signer: forger, Logger: quietLogger})
			if err != nil {
				tp.t.Fatal(err)
			}
			l.checkpointNow(true)
			l.Close()
		}, seq: 20, problem: ProblemUnknownKey, checkpoint: true},
		{name: "untrusted key", tamper: func(tamperer) {}, keys: testKey(99).KeySet(),
			seq: 5, problem: ProblemUnknownKey, checkpoint: true},
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				dsn := b.dsn(t)
				w := openLog(t, dsn, Options{Signer: key, CheckpointEvery: 5, CheckpointInterval: -1})
				appendN(t, w, 0, 20)
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				l := openLog(t, dsn, Options{ReadOnly: true})
				mustVerify(t, l, key.KeySet())
				dropTriggers(t, l)
				tc.tamper(tamperer{t: t, l: l, dsnv: dsn})

				keys := tc.keys
				if keys == nil {
					keys = key.KeySet()
				}
				_, err := l.Verify(context.Background(), keys)
				var ve *VerifyError
				if !errors.As(err, &ve) {
					t.Fatalf("Verify() = %v, want a VerifyError", err)
				}
				if ve.Seq != tc.seq || ve.Problem != tc.problem || ve.Checkpoint != tc.checkpoint || !strings.Contains(ve.Detail, tc.detail) {
					t.Errorf("Verify() = %v\nwant seq %d, %s, checkpoint %v, detail containing %q", err, tc.seq, tc.problem, tc.checkpoint, tc.detail)
				}
			})
		}
	})
}
