package audit

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Group-commit defaults, chosen with BenchmarkAppend* (see bench_test.go).
const (
	defaultLinger      = 500 * time.Microsecond
	defaultAsyncLinger = time.Millisecond
	// busyWindow: a commit whose first record arrives less than this
	// after the previous commit ended is under load.
	busyWindow = time.Millisecond
)

// maxInsertShift bounds the SQLite writer's multi-row INSERTs at
// 1<<maxInsertShift rows: a batch is written as a sum of powers of two,
// each size with a statement prepared once per connection.
const maxInsertShift = 6

// maxKeptBuffer bounds the encoding buffer the writer keeps between
// commits; a larger one, needed for a batch of large records, is dropped.
const maxKeptBuffer = 1 << 20

// writer is what the writer goroutine keeps from one group commit to the
// next: a connection of its own, the statements prepared on it, the chain
// tip as of its last commit, and scratch buffers.
//
// Every appending transaction runs on this one connection, begun and ended
// with prepared statements, so that no commit parses SQL. With SQLite, the
// tip is kept in memory and read again only when PRAGMA data_version (which
// changes when another connection, in this process or another, committed)
// says the database changed, and after any failure. With PostgreSQL, where
// several replicas append, it is read in every transaction, under the row
// lock that serialises them.
type writer struct {
	db        *sql.DB
	d         *dialect
	forceSync bool // PostgreSQL's synchronous_commit is off: turn it on in each append

	// mu guards the fields below; it is held for a whole transaction. Only
	// the writer goroutine appends, but checkpointNow may run elsewhere.
	mu    sync.Mutex
	conn  *sql.Conn // nil until needed, and after a failed transaction
	stmts writerStmts
	// tip is the chain tip after the last transaction on conn, valid when
	// tipKnown; version is the data version that transaction saw.
	tip      chainTip
	tipKnown bool
	version  int64
	tipReads int // how often the tip was read from the database, for tests

	// Scratch space reused by every commit.
	buf      []byte   // the batch's payloads
	payloads [][]byte // slices of buf, one per record
	hashes   []Hash   // the chain hash before the batch, then each record's
	args     []any
	cols     columnArrays
}

// writerStmts are the statements prepared on the writer's connection; the
// ones a dialect lacks stay nil, the others are prepared on first use.
type writerStmts struct {
	begin, commit, rollback *sql.Stmt
	lock, version, tip      *sql.Stmt
	checkpoint              *sql.Stmt
	// insert[i] inserts 1<<i records (SQLite); with arrayInsert,
	// insert[0] inserts any number.
	insert [maxInsertShift + 1]*sql.Stmt
}

func (s *writerStmts) all() []**sql.Stmt {
	ps := []**sql.Stmt{&s.begin, &s.commit, &s.rollback, &s.lock, &s.version, &s.tip, &s.checkpoint}
	for i := range s.insert {
		ps = append(ps, &s.insert[i])
	}
	return ps
}

// columnArrays are a batch's columns, one array each (arrayInsert).
type columnArrays struct {
	seq, timeNS         []int64
	text                [10][]string
	payload, prev, hash [][]byte
}

// connect takes a connection for the writer if it has none.
func (w *writer) connect(ctx context.Context) error {
	if w.conn != nil {
		return nil
	}
	c, err := w.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	w.conn = c
	for _, s := range []struct {
		p **sql.Stmt
		q string
	}{{&w.stmts.begin, w.d.begin}, {&w.stmts.commit, `COMMIT`}, {&w.stmts.rollback, `ROLLBACK`}} {
		if _, err := w.prepared(ctx, s.p, s.q); err != nil {
			w.release(false)
			return err
		}
	}
	return nil
}

// prepared returns *p, preparing query on the writer's connection first if
// *p is nil.
func (w *writer) prepared(ctx context.Context, p **sql.Stmt, query string) (*sql.Stmt, error) {
	if *p == nil {
		s, err := w.conn.PrepareContext(ctx, query)
		if err != nil {
			return nil, fmt.Errorf("preparing statement: %w", err)
		}
		*p = s
	}
	return *p, nil
}

// release closes the writer's statements and gives its connection back to
// the pool, or, when bad (it may still be inside a transaction), has the
// pool discard it. The cached tip goes with it.
func (w *writer) release(bad bool) {
	w.tipKnown = false
	if w.conn == nil {
		return
	}
	for _, p := range w.stmts.all() {
		if *p != nil {
			(*p).Close()
			*p = nil
		}
	}
	if bad {
		w.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	w.conn.Close()
	w.conn = nil
}

// close releases the connection for good.
func (w *writer) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.release(false)
}

// transact runs fn in a transaction on the writer's connection holding the
// chain's write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: the audit_lock
// row), with the chain tip as of that lock. fn returns the tip after its
// writes and whether it wrote anything: if so the transaction commits,
// otherwise it rolls back. Any error rolls back and forgets the connection
// and the cached tip. w.mu must be held.
func (w *writer) transact(ctx context.Context, fn func(ctx context.Context, tip chainTip) (chainTip, bool, error)) (err error) {
	if err := w.begin(ctx); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			w.abort()
		}
	}()
	if w.d.waitsOnlyInBegin {
		ctx = context.WithoutCancel(ctx)
	}
	tip, version, err := w.lockTip(ctx)
	if err != nil {
		return err
	}
	next, wrote, err := fn(ctx, tip)
	if err != nil {
		return err
	}
	end := w.stmts.commit
	if !wrote {
		end = w.stmts.rollback
	}
	if _, err := end.ExecContext(ctx); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	w.tip, w.version, w.tipKnown = next, version, w.d.dataVersion != ""
	return nil
}

// begin begins a transaction on the writer's connection, taking one first
// if needed. A connection kept from an earlier transaction may have died
// since (a restarted server, a dropped idle connection): if BEGIN fails on
// one, which leaves no transaction open, it is discarded and BEGIN tried
// once more on a new one.
func (w *writer) begin(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		fresh := w.conn == nil
		if err := w.connect(ctx); err != nil {
			return err
		}
		_, err := w.stmts.begin.ExecContext(ctx)
		if err == nil {
			return nil
		}
		retry := !fresh && attempt == 0 && ctx.Err() == nil
		w.release(retry)
		if !retry {
			return fmt.Errorf("beginning a transaction: %w", err)
		}
	}
}

// abort rolls back the open transaction and releases the connection,
// discarding it if the rollback failed.
func (w *writer) abort() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := w.stmts.rollback.ExecContext(ctx)
	w.release(err != nil)
}

// lockTip locks the chain (PostgreSQL) and returns its tip, from memory
// when the database cannot have changed since the writer's last
// transaction (SQLite), and the data version it checked.
func (w *writer) lockTip(ctx context.Context) (tip chainTip, version int64, err error) {
	if w.d.lock != "" {
		q := w.d.lock
		if w.forceSync {
			q = w.d.lockSync
		}
		st, err := w.prepared(ctx, &w.stmts.lock, q)
		if err != nil {
			return tip, 0, err
		}
		var s string
		if err := st.QueryRowContext(ctx).Scan(&s); err != nil {
			return tip, 0, fmt.Errorf("locking the chain head: %w", err)
		}
	}
	if w.d.dataVersion != "" {
		st, err := w.prepared(ctx, &w.stmts.version, w.d.dataVersion)
		if err != nil {
			return tip, 0, err
		}
		if err := st.QueryRowContext(ctx).Scan(&version); err != nil {
			return tip, 0, fmt.Errorf("reading the data version: %w", err)
		}
		if w.tipKnown && version == w.version {
			return w.tip, version, nil
		}
	}
	st, err := w.prepared(ctx, &w.stmts.tip, tipQuery)
	if err != nil {
		return tip, 0, err
	}
	w.tipReads++
	tip, err = scanTip(st.QueryRowContext(ctx))
	return tip, version, err
}

// insert chains batch onto tip, inserts it and returns the new tip. It sets
// each request's rcpt.
func (w *writer) insert(ctx context.Context, tip chainTip, batch []*request) (chainTip, error) {
	n := len(batch)
	size := 0
	for _, r := range batch {
		size += payloadHeaderLen + len(r.body)
	}
	// Sized up front: the payloads and hashes are sliced into below and
	// must not move.
	if cap(w.buf) < size {
		w.buf = make([]byte, 0, size)
	}
	if cap(w.hashes) < n+1 {
		w.hashes = make([]Hash, 0, n+1)
	}
	buf, payloads, hashes := w.buf[:0], w.payloads[:0], append(w.hashes[:0], tip.hash)
	seq := tip.seq
	for _, r := range batch {
		seq++
		start := len(buf)
		buf = appendPayload(buf, seq, r.body)
		payload := buf[start:len(buf):len(buf)]
		h := LinkHash(hashes[len(hashes)-1], RecordHash(payload))
		payloads = append(payloads, payload)
		hashes = append(hashes, h)
		r.rcpt = Receipt{Seq: seq, Hash: h}
	}
	var err error
	if w.d.arrayInsert {
		err = w.insertArrays(ctx, tip.seq, batch, payloads, hashes)
	} else {
		err = w.insertRows(ctx, tip.seq, batch, payloads, hashes)
	}
	clear(payloads)
	w.payloads = payloads[:0]
	if cap(w.buf) > maxKeptBuffer {
		w.buf = nil
	}
	if err != nil {
		return tip, fmt.Errorf("inserting records: %w", err)
	}
	next := tip
	next.seq, next.hash = seq, hashes[n]
	return next, nil
}

// insertRows inserts the batch with multi-row INSERTs of power-of-two
// sizes.
func (w *writer) insertRows(ctx context.Context, first uint64, batch []*request, payloads [][]byte, hashes []Hash) error {
	defer func() {
		clear(w.args)
		w.args = w.args[:0]
	}()
	for i := 0; i < len(batch); {
		shift := maxInsertShift
		for len(batch)-i < 1<<shift {
			shift--
		}
		k := 1 << shift
		st, err := w.prepared(ctx, &w.stmts.insert[shift], w.d.insertQuery(k))
		if err != nil {
			return err
		}
		args := w.args[:0]
		for j := i; j < i+k; j++ {
			c := &batch[j].idx
			args = append(args, int64(first)+int64(j)+1, c.timeNS, c.kind, c.requestID, c.principalKind, c.tenantID,
				c.objectID, c.upn, c.appID, c.operation, c.dagID, c.decision, payloads[j], hashes[j][:], hashes[j+1][:])
		}
		w.args = args
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return err
		}
		i += k
	}
	return nil
}

// insertArrays inserts the batch with one INSERT of column arrays.
func (w *writer) insertArrays(ctx context.Context, first uint64, batch []*request, payloads [][]byte, hashes []Hash) error {
	c := &w.cols
	defer c.reset()
	for j, r := range batch {
		x := &r.idx
		c.seq = append(c.seq, int64(first)+int64(j)+1)
		c.timeNS = append(c.timeNS, x.timeNS)
		for k, s := range [...]string{x.kind, x.requestID, x.principalKind, x.tenantID, x.objectID,
			x.upn, x.appID, x.operation, x.dagID, x.decision} {
			c.text[k] = append(c.text[k], s)
		}
		c.payload = append(c.payload, payloads[j])
		c.prev = append(c.prev, hashes[j][:])
		c.hash = append(c.hash, hashes[j+1][:])
	}
	st, err := w.prepared(ctx, &w.stmts.insert[0], w.d.insertQuery(0))
	if err != nil {
		return err
	}
	t := &c.text
	_, err = st.ExecContext(ctx, c.seq, c.timeNS, t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9],
		c.payload, c.prev, c.hash)
	return err
}

// reset empties the arrays, keeping their space but not their contents.
func (c *columnArrays) reset() {
	c.seq, c.timeNS = c.seq[:0], c.timeNS[:0]
	for k := range c.text {
		clear(c.text[k])
		c.text[k] = c.text[k][:0]
	}
	for _, p := range []*[][]byte{&c.payload, &c.prev, &c.hash} {
		clear(*p)
		*p = (*p)[:0]
	}
}

// insertCheckpoint inserts c.
func (w *writer) insertCheckpoint(ctx context.Context, c *Checkpoint) error {
	st, err := w.prepared(ctx, &w.stmts.checkpoint, w.d.rebind(insertCheckpointQuery))
	if err != nil {
		return err
	}
	if _, err := st.ExecContext(ctx, int64(c.Seq), c.Head[:], c.Time.UnixNano(), c.KeyID, c.Signature); err != nil {
		return fmt.Errorf("inserting checkpoint: %w", err)
	}
	return nil
}

// finish completes a request.
func (l *Log) finish(r *request, err error) {
	if err != nil {
		r.rcpt = Receipt{}
	}
	r.err = err
	close(r.done)
	if r.async {
		<-l.slots
	}
}

// closeRetries is how many more times records acknowledged early are tried
// once Close was called and the store keeps failing.
const closeRetries = 3

// run is the writer goroutine: it batches queued requests into one
// transaction each (group commit) until reqs is closed and drained.
func (l *Log) run() {
	defer close(l.stopped)
	if l.opts.WriterNice > 0 {
		// The thread ends with the goroutine (it is never unlocked), so
		// its lowered priority goes nowhere else.
		runtime.LockOSThread()
		if err := lowerThreadPriority(l.opts.WriterNice); err != nil {
			l.opts.Logger.Warn("audit: writer priority not lowered", "err", err)
		}
	}
	defer l.w.close()
	reqs := l.reqs
	var pending []*request // acknowledged early, commit failed: retried first
	var backoff time.Duration
	retriesLeft := closeRetries
	batch := make([]*request, 0, l.opts.MaxBatch)
	g := newGatherer(&l.opts)
	defer g.stop()

	var tick <-chan time.Time
	if l.opts.Signer != nil && l.opts.CheckpointInterval > 0 {
		t := time.NewTicker(max(l.opts.CheckpointInterval/2, time.Millisecond))
		defer t.Stop()
		tick = t.C
	}

	for reqs != nil || len(pending) > 0 {
		clear(batch)
		batch = append(batch[:0], pending...)
		pending = nil
		fresh := false
		switch {
		case len(batch) == 0:
			select {
			case r, ok := <-reqs:
				if !ok {
					reqs = nil
					continue
				}
				batch = append(batch, r)
				fresh = true
			case <-tick:
				l.checkpointNow(false)
				continue
			}
		case backoff > 0:
			timer := time.NewTimer(backoff)
			select {
			case <-timer.C:
			case r, ok := <-reqs:
				if ok {
					batch = append(batch, r)
				} else {
					reqs = nil
				}
			}
			timer.Stop()
		}
		batch, reqs = g.drain(batch, reqs)
		if fresh {
			batch, reqs = g.gather(batch, reqs, l.urgent)
		}

		err := l.commit(batch)
		g.committed()
		if err == nil {
			l.commits.Add(1)
			l.committed.Add(uint64(len(batch)))
			l.failing.Store(false)
			backoff = 0
			for _, r := range batch {
				l.finish(r, nil)
			}
			continue
		}
		l.failing.Store(true)
		for _, r := range batch {
			if r.async {
				pending = append(pending, r)
			} else {
				l.finish(r, err)
			}
		}
		if len(pending) == 0 {
			continue
		}
		l.opts.Logger.Error("audit: commit failed; retrying records acknowledged early", "records", len(pending), "err", err)
		if reqs == nil {
			if retriesLeft == 0 {
				for _, r := range pending {
					l.finish(r, err)
				}
				l.closeErr = fmt.Errorf("audit: %d acknowledged records could not be written: %w", len(pending), err)
				pending = nil
				break
			}
			retriesLeft--
		}
		backoff = min(max(2*backoff, 50*time.Millisecond), 2*time.Second)
	}
	if l.closeErr == nil {
		l.checkpointNow(true)
	}
}

// gatherer decides how many records a group commit takes.
type gatherer struct {
	max         int
	linger      time.Duration
	asyncLinger time.Duration
	timer       *time.Timer
	lastEnd     time.Time // when the last commit ended
}

func newGatherer(o *Options) *gatherer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &gatherer{max: o.MaxBatch, linger: o.Linger, asyncLinger: o.AsyncLinger, timer: t}
}

func (g *gatherer) stop()      { g.timer.Stop() }
func (g *gatherer) committed() { g.lastEnd = time.Now() }

// drain adds what is queued to batch, without waiting, up to the batch
// limit. It returns nil for reqs once reqs is closed and empty.
func (g *gatherer) drain(batch []*request, reqs chan *request) ([]*request, chan *request) {
	for reqs != nil && len(batch) < g.max {
		select {
		case r, ok := <-reqs:
			if !ok {
				return batch, nil
			}
			batch = append(batch, r)
		default:
			return batch, reqs
		}
	}
	return batch, reqs
}

// gather adds to a batch that has just taken its first record what more
// arrives shortly, where that pays, without delaying a lone record:
//
//   - It yields the processor as long as yielding brings more records,
//     for at most Options.Linger. Goroutines ready to run, such as the
//     appenders the previous commit released, then queue their records
//     for this commit instead of the writer committing the first of them
//     alone and the others after it. With no other goroutine ready to
//     run, yielding returns at once and brings nothing.
//   - Then, if the batch holds only records AppendAsync acknowledged
//     early, nobody waits for it: while the log is busy it waits up to
//     Options.AsyncLinger for more, ending the wait as soon as a record
//     somebody waits for arrives.
//
// It does not wait on a timer for records somebody waits for: Go's timers
// fire a millisecond late at best when the process is otherwise idle, so
// even a short timed wait could cost a strict appender a millisecond.
func (g *gatherer) gather(batch []*request, reqs chan *request, urgent <-chan struct{}) ([]*request, chan *request) {
	start := time.Now()
	for g.linger > 0 && reqs != nil && len(batch) < g.max && time.Since(start) < g.linger {
		n := len(batch)
		runtime.Gosched()
		if batch, reqs = g.drain(batch, reqs); len(batch) == n {
			break
		}
	}
	if g.asyncLinger <= 0 || reqs == nil || len(batch) >= g.max || start.Sub(g.lastEnd) >= busyWindow || !allAsync(batch) {
		return batch, reqs
	}
	wait := g.asyncLinger - time.Since(start)
	if wait <= 0 {
		return batch, reqs
	}
	// Sleep through the wait rather than wake for each record that
	// arrives: Append (somebody waits) and a filling queue end it early
	// through urgent. A signal left from a record already taken is
	// dropped first; what arrived meanwhile is looked at again.
	select {
	case <-urgent:
	default:
	}
	n := len(batch)
	if batch, reqs = g.drain(batch, reqs); reqs == nil || len(batch) >= g.max || !allAsync(batch[n:]) {
		return batch, reqs
	}
	g.timer.Reset(wait)
	defer g.timer.Stop()
	select {
	case <-urgent:
	case <-g.timer.C:
	}
	return g.drain(batch, reqs)
}

// allAsync reports whether every request in batch was acknowledged early.
func allAsync(batch []*request) bool {
	for _, r := range batch {
		if !r.async {
			return false
		}
	}
	return true
}

// commit writes batch in one transaction: lock the chain, take its tip,
// append, and sign a checkpoint when one is due. On success each request's
// rcpt is set.
func (l *Log) commit(batch []*request) error {
	l.commitStart.Store(int64(time.Since(l.epoch)) + 1)
	defer l.commitStart.Store(0)
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.CommitTimeout)
	defer cancel()
	l.w.mu.Lock()
	defer l.w.mu.Unlock()
	err := l.w.transact(ctx, func(ctx context.Context, tip chainTip) (chainTip, bool, error) {
		next, err := l.w.insert(ctx, tip, batch)
		if err != nil {
			return tip, false, err
		}
		if now := l.opts.Now(); l.checkpointDue(next, now, false) {
			if next, _, err = l.addCheckpoint(ctx, next, now); err != nil {
				return tip, false, err
			}
		}
		return next, true, nil
	})
	if err != nil {
		return fmt.Errorf("audit: writing records: %w", err)
	}
	return nil
}

// checkpointDue reports whether a checkpoint over tip's head is due.
func (l *Log) checkpointDue(tip chainTip, now time.Time, force bool) bool {
	if l.opts.Signer == nil || tip.seq <= tip.cpSeq {
		return false
	}
	if force {
		return true
	}
	if n := l.opts.CheckpointEvery; n > 0 && tip.seq-tip.cpSeq >= uint64(n) {
		return true
	}
	iv := l.opts.CheckpointInterval
	return iv > 0 && now.Sub(tip.cpTime) >= iv
}

// addCheckpoint signs and inserts a checkpoint over tip's head and returns
// the tip with it, and whether it wrote anything. A signing failure is
// logged and skipped rather than failing the records' commit: the records
// are still chained, and the next batch tries again. l.w.mu must be held,
// in a transaction.
func (l *Log) addCheckpoint(ctx context.Context, tip chainTip, now time.Time) (chainTip, bool, error) {
	c, err := signCheckpoint(l.opts.Signer, tip.seq, tip.hash, now)
	if err != nil {
		l.opts.Logger.Error("audit: checkpoint not written", "seq", tip.seq, "err", err)
		return tip, false, nil
	}
	if err := l.registerKey(ctx, l.w.conn); errors.Is(err, errKeyMismatch) {
		// Recorded keys are a convenience, not a trust anchor: do not
		// stop writing over them. Open refuses this case.
		l.opts.Logger.Error("audit: signing key not recorded", "err", err)
	} else if err != nil {
		return tip, false, err
	}
	if err := l.w.insertCheckpoint(ctx, &c); err != nil {
		return tip, false, err
	}
	tip.cpSeq, tip.cpTime = c.Seq, time.Unix(0, c.Time.UnixNano())
	return tip, true, nil
}

// checkpointNow writes a checkpoint over the current head in its own
// transaction if one is due (or, with force, whenever the head moved past
// the latest checkpoint).
func (l *Log) checkpointNow(force bool) {
	if l.opts.Signer == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.CommitTimeout)
	defer cancel()
	l.w.mu.Lock()
	defer l.w.mu.Unlock()
	err := l.w.transact(ctx, func(ctx context.Context, tip chainTip) (chainTip, bool, error) {
		now := l.opts.Now()
		if !l.checkpointDue(tip, now, force) {
			return tip, false, nil
		}
		return l.addCheckpoint(ctx, tip, now)
	})
	if err != nil {
		l.opts.Logger.Error("audit: checkpoint not written", "err", err)
	}
}
