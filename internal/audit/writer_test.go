package audit

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// testInterleavedWriters: two logs (two connection pools, as two processes
// have) take turns appending to one database. Each must notice the other's
// records and checkpoints before appending (with SQLite through PRAGMA
// data_version, since the writer keeps the chain tip in memory), or its
// insert would collide with theirs.
func testInterleavedWriters(t *testing.T, dsn string) {
	k1, k2 := testKey(42), testKey(43)
	a := openLog(t, dsn, Options{Signer: k1, CheckpointEvery: 3, CheckpointInterval: -1})
	b := openLog(t, dsn, Options{Signer: k2, CheckpointEvery: 3, CheckpointInterval: -1})
	ctx := context.Background()
	const rounds = 12
	var want uint64
	for i := range rounds {
		for li, l := range []*Log{a, b, b, a} {
			want++
			r, err := l.Append(ctx, sampleRecord(i*4+li))
			if err != nil {
				t.Fatalf("round %d, log %d: Append = %v", i, li, err)
			}
			if r.Seq != want {
				t.Fatalf("round %d, log %d: Seq = %d, want %d", i, li, r.Seq, want)
			}
		}
	}
	for _, l := range []*Log{a, b} {
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ro := openLog(t, dsn, Options{ReadOnly: true})
	keys := KeySet{k1.KeyID(): k1.KeySet()[k1.KeyID()], k2.KeyID(): k2.KeySet()[k2.KeyID()]}
	rep := mustVerify(t, ro, keys)
	if rep.Records != want || rep.LastCheckpoint != want {
		t.Errorf("Verify() = %+v, want %d records, checkpointed to the end", rep, want)
	}
	// Checkpoints follow the chain's latest one, whoever wrote it: every
	// 3 records, never two over fewer (a writer that missed the other's
	// checkpoint would write one too early or too late).
	cps, err := ro.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cps[:len(cps)-1] {
		if c.Seq != uint64(3*(i+1)) {
			t.Errorf("checkpoints at %v, want every 3 records", cpSeqs(cps))
			break
		}
	}
}

// TestWriterKeepsTip: with SQLite the writer reads the chain tip from the
// database only when it may have changed: on its first commit, after
// another connection committed, and after a failed commit. With
// PostgreSQL it reads it in every transaction, under the lock.
func TestWriterKeepsTip(t *testing.T) {
	tipReads := func(l *Log) int {
		l.w.mu.Lock()
		defer l.w.mu.Unlock()
		return l.w.tipReads
	}
	t.Run("sqlite", func(t *testing.T) {
		dsn := filepath.Join(t.TempDir(), "audit.db")
		key := testKey(44)
		a := openLog(t, dsn, Options{Signer: key, CheckpointEvery: 4, CheckpointInterval: -1})
		appendN(t, a, 0, 10)
		if got := tipReads(a); got != 1 {
			t.Errorf("after 10 appends: %d tip reads, want 1", got)
		}

		b := openLog(t, dsn, Options{Signer: key})
		appendN(t, b, 10, 1)
		r := appendN(t, a, 11, 1)[0]
		if r.Seq != 12 {
			t.Errorf("after another writer's record: Seq = %d, want 12", r.Seq)
		}
		if got := tipReads(a); got != 2 {
			t.Errorf("after another writer's record: %d tip reads, want 2", got)
		}

		// A commit that fails forgets the tip.
		repair := breakWrites(t, a)
		if _, err := a.Append(context.Background(), sampleRecord(12)); err == nil {
			t.Fatal("Append() with a failing store = nil error")
		}
		repair()
		before := tipReads(a)
		if r := appendN(t, a, 12, 1)[0]; r.Seq != 13 {
			t.Errorf("after a failed commit: Seq = %d, want 13", r.Seq)
		}
		if got := tipReads(a); got <= before {
			t.Errorf("after a failed commit: %d tip reads, want more than %d", got, before)
		}
		mustVerify(t, a, key.KeySet())
	})
	t.Run("postgres", func(t *testing.T) {
		l := openLog(t, backends[1].dsn(t), Options{})
		appendN(t, l, 0, 5)
		if got := tipReads(l); got != 5 {
			t.Errorf("after 5 appends: %d tip reads, want 5 (one per transaction)", got)
		}
	})
}

// testPreparedOnce: the writer prepares its statements once per connection,
// not once per commit.
func testPreparedOnce(t *testing.T, dsn string) {
	l := openLog(t, dsn, Options{Signer: testKey(45), CheckpointEvery: 2})
	stmts := func() []any {
		l.w.mu.Lock()
		defer l.w.mu.Unlock()
		var s []any
		for _, p := range l.w.stmts.all() {
			s = append(s, *p)
		}
		return s
	}
	appendN(t, l, 0, 4)
	first := stmts()
	appendN(t, l, 4, 10)
	for i, s := range stmts() {
		if first[i] != nil && s != first[i] {
			t.Errorf("statement %d was prepared again", i)
		}
	}
}

// testLargeBatch: one commit of more records than the largest multi-row
// INSERT (SQLite writes it in pieces) chains and stores them all.
func testLargeBatch(t *testing.T, dsn string) {
	key := testKey(46)
	l := openLog(t, dsn, Options{Signer: key, MaxBatch: 300})
	const n = 150 // 64+64+16+4+2 rows with SQLite
	batch := make([]*request, n)
	for i := range batch {
		rec := sampleRecord(i)
		r, err := l.prepare(&rec)
		if err != nil {
			t.Fatal(err)
		}
		batch[i] = r
	}
	if err := l.commit(batch); err != nil {
		t.Fatalf("commit(%d records) = %v", n, err)
	}
	for i, r := range batch {
		if r.rcpt.Seq != uint64(i+1) {
			t.Fatalf("record %d: Seq = %d", i, r.rcpt.Seq)
		}
	}
	rep := mustVerify(t, l, key.KeySet())
	if rep.Records != n || rep.Head != batch[n-1].rcpt.Hash {
		t.Errorf("Verify() = %+v, want %d records ending in %s", rep, n, batch[n-1].rcpt.Hash.Short())
	}
	var i int
	l.Query(context.Background(), Filter{}, func(e Entry) error {
		if want := canonical(sampleRecord(i), uint64(i+1)); string(e.Payload) != string(want) {
			t.Errorf("record %d differs", i+1)
		}
		i++
		return nil
	})
}

// testGroupCommit: appenders that are ready together share commits.
func testGroupCommit(t *testing.T, dsn string) {
	l := openLog(t, dsn, Options{})
	const workers, each = 32, 5
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			<-start
			for i := range each {
				if _, err := l.Append(context.Background(), sampleRecord(w*each+i)); err != nil {
					t.Errorf("Append = %v", err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	commits := l.commits.Load()
	t.Logf("%d records in %d commits", workers*each, commits)
	if commits > workers*each/4 {
		t.Errorf("%d records took %d commits, want at most %d", workers*each, commits, workers*each/4)
	}
	mustVerify(t, l, nil)
}

// TestGather checks which records a group commit waits for. None of the
// cases depends on timing, except that one waits for its timer.
func TestGather(t *testing.T) {
	strict := func() *request { return &request{done: make(chan struct{})} }
	async := func() *request { return &request{async: true, done: make(chan struct{})} }
	const long = time.Hour // a wait that would fail the test
	tests := []struct {
		name        string
		linger      time.Duration
		asyncLinger time.Duration
		max         int
		busy        bool
		first       *request
		queued      []*request
		later       []*request // sent once gather runs
		close       bool
		want        int
		wantClosed  bool
		minWait     time.Duration
	}{
		{name: "lone strict record: no wait", linger: long, asyncLinger: long, busy: true, first: strict(), want: 1},
		{name: "queued records join", linger: long, asyncLinger: long, busy: true, first: strict(),
			queued: []*request{strict(), async(), strict()}, want: 4},
		{name: "batch limit", linger: long, max: 3, first: strict(), queued: []*request{strict(), strict(), strict(), strict()}, want: 3},
		{name: "early-acknowledged records while idle: no wait", linger: long, asyncLinger: long, first: async(),
			queued: []*request{async()}, want: 2},
		{name: "early-acknowledged records while busy: a strict record ends the wait", linger: long, asyncLinger: long, busy: true,
			first: async(), later: []*request{async(), async(), strict()}, want: 4},
		{name: "early-acknowledged records while busy: wait for at most AsyncLinger", linger: -1, asyncLinger: 30 * time.Millisecond,
			busy: true, first: async(), want: 1, minWait: 30 * time.Millisecond},
		{name: "AsyncLinger disabled", linger: long, asyncLinger: -1, busy: true, first: async(), want: 1},
		{name: "closed queue", linger: long, asyncLinger: long, busy: true, first: async(), queued: []*request{async()},
			close: true, want: 2, wantClosed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.max == 0 {
				tc.max = 256
			}
			g := newGatherer(&Options{MaxBatch: tc.max, Linger: tc.linger, AsyncLinger: tc.asyncLinger})
			defer g.stop()
			if tc.busy {
				g.committed()
			}
			reqs := make(chan *request, 16)
			for _, r := range tc.queued {
				reqs <- r
			}
			if tc.close {
				close(reqs)
			}
			// later arrive while gather waits, signalled as enqueue
			// signals them.
			urgent := make(chan struct{}, 1)
			go func() {
				time.Sleep(10 * time.Millisecond)
				for _, r := range tc.later {
					reqs <- r
					if !r.async {
						select {
						case urgent <- struct{}{}:
						default:
						}
					}
				}
			}()
			start := time.Now()
			batch, rest := g.drain([]*request{tc.first}, reqs)
			batch, rest = g.gather(batch, rest, urgent)
			waited := time.Since(start)
			if len(batch) != tc.want {
				t.Errorf("gathered %d records, want %d", len(batch), tc.want)
			}
			if (rest == nil) != tc.wantClosed {
				t.Errorf("queue reported closed = %v, want %v", rest == nil, tc.wantClosed)
			}
			if waited < tc.minWait || waited > time.Minute {
				t.Errorf("gathering took %v, want at least %v", waited, tc.minWait)
			}
		})
	}
}

// TestGatherYields: goroutines ready to run when a commit starts get their
// records into it. With one processor, yielding runs them all before the
// writer goes on (unless the scheduler happens to pick the writer first,
// which it does one time in 61: hence a few attempts).
func TestGatherYields(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const ready = 20
	// attempt makes ready goroutines runnable, each about to queue a
	// record, then gathers a batch, and returns its size.
	attempt := func(linger time.Duration) int {
		g := newGatherer(&Options{MaxBatch: 256, Linger: linger, AsyncLinger: -1})
		defer g.stop()
		reqs := make(chan *request, ready)
		gate := make(chan struct{})
		var wg sync.WaitGroup
		defer wg.Wait()
		for range ready {
			wg.Go(func() {
				<-gate
				reqs <- &request{done: make(chan struct{})}
			})
		}
		runtime.Gosched() // let them all block on the gate
		close(gate)
		batch, _ := g.gather([]*request{{done: make(chan struct{})}}, reqs, make(chan struct{}))
		return len(batch)
	}
	got := 0
	for range 5 {
		if got = attempt(time.Hour); got == ready+1 {
			break
		}
	}
	if got != ready+1 {
		t.Errorf("gathered %d records, want %d", got, ready+1)
	}
	// Yielding is what gathers them: with Linger disabled, the commit
	// takes only the record it has.
	if got := attempt(-1); got != 1 {
		t.Errorf("with Linger disabled, gathered %d records, want 1", got)
	}
}

// TestSQLiteCommitTimeout: with SQLite, Options.CommitTimeout still bounds
// the wait for the write lock another process holds (the commit fails
// closed), and the writer recovers once the lock is free.
func TestSQLiteCommitTimeout(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "audit.db")
	l := openLog(t, dsn, Options{CommitTimeout: 200 * time.Millisecond})
	appendN(t, l, 0, 2)

	other := openLog(t, dsn, Options{ReadOnly: true})
	conn, err := other.db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := l.Append(context.Background(), sampleRecord(2)); err == nil {
		t.Fatal("Append() while another connection holds the write lock = nil error, want a timeout")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Append() failed after %v, want about CommitTimeout (200ms), not the busy timeout", d)
	}
	if _, err := conn.ExecContext(context.Background(), `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	if r := appendN(t, l, 2, 1)[0]; r.Seq != 3 {
		t.Errorf("after the lock was released: Seq = %d, want 3", r.Seq)
	}
	mustVerify(t, l, nil)
}

// TestPostgresWriterReconnects: when the writer's connection dies between
// appends, the next append begins on a new connection.
func TestPostgresWriterReconnects(t *testing.T) {
	l := openLog(t, backends[1].dsn(t), Options{})
	appendN(t, l, 0, 3)
	for i := range 2 {
		var pid int
		l.w.mu.Lock()
		err := l.w.conn.QueryRowContext(context.Background(), `SELECT pg_backend_pid()`).Scan(&pid)
		l.w.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		// With a timeout, pg_terminate_backend waits until it is gone.
		if _, err := l.db.Exec(`SELECT pg_terminate_backend($1, 5000)`, pid); err != nil {
			t.Fatal(err)
		}
		r, err := l.Append(context.Background(), sampleRecord(3+i))
		if err != nil {
			t.Fatalf("Append after the connection died = %v", err)
		}
		if r.Seq != uint64(4+i) {
			t.Errorf("Seq = %d, want %d", r.Seq, 4+i)
		}
	}
	mustVerify(t, l, nil)
}
