package audit

import (
	"context"
	"sync"
	"testing"

	"github.com/airgate/airgate/internal/audit/audittest"
)

// testTwoWriters: two independent logs (two connection pools, as two
// gateway replicas have) appending concurrently to one database produce one
// valid chain. It runs in the conformance suite: with PostgreSQL the row
// lock serialises the writers, with SQLite BEGIN IMMEDIATE does.
func testTwoWriters(t *testing.T, dsn string) {
	k1, k2 := testKey(40), testKey(41)
	logs := []*Log{
		openLog(t, dsn, Options{Signer: k1, CheckpointEvery: 20}),
		openLog(t, dsn, Options{Signer: k2, CheckpointEvery: 20}),
	}
	const perWorker, workersPerLog = 40, 4
	var mu sync.Mutex
	seen := map[uint64]int{}
	var wg sync.WaitGroup
	for li, l := range logs {
		for w := range workersPerLog {
			wg.Go(func() {
				for i := range perWorker {
					r, err := l.Append(context.Background(), sampleRecord(li*1000+w*perWorker+i))
					if err != nil {
						t.Errorf("log %d: Append = %v", li, err)
						return
					}
					mu.Lock()
					if prev, dup := seen[r.Seq]; dup {
						t.Errorf("seq %d acknowledged by log %d and log %d", r.Seq, prev, li)
					}
					seen[r.Seq] = li
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	const total = 2 * workersPerLog * perWorker
	for s := uint64(1); s <= total; s++ {
		if _, ok := seen[s]; !ok {
			t.Errorf("seq %d never acknowledged", s)
		}
	}
	for _, l := range logs {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ro := openLog(t, dsn, Options{ReadOnly: true})
	keys := KeySet{k1.KeyID(): k1.KeySet()[k1.KeyID()], k2.KeyID(): k2.KeySet()[k2.KeyID()]}
	rep := mustVerify(t, ro, keys)
	if rep.Records != total || rep.LastCheckpoint != total {
		t.Errorf("Verify() = %+v, want %d records, checkpointed to the end", rep, total)
	}
	cps, _ := ro.Checkpoints(context.Background())
	signers := map[string]bool{}
	for _, c := range cps {
		signers[c.KeyID] = true
	}
	t.Logf("%d checkpoints by %d keys", len(cps), len(signers))
}

// TestPostgresForcesSynchronousCommit: with synchronous_commit=off on the
// server or connection, appends turn it back on for their transactions.
func TestPostgresForcesSynchronousCommit(t *testing.T) {
	dsn := audittest.PostgresDSN(t) + "&synchronous_commit=off"
	l := openLog(t, dsn, Options{})
	if !l.w.forceSync {
		t.Fatal("forceSync = false with synchronous_commit=off")
	}
	appendN(t, l, 0, 3)
	mustVerify(t, l, nil)
}
