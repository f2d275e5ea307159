package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a [Log]. The zero value is usable: it writes no
// checkpoints (no Signer) and uses the defaults below.
type Options struct {
	// Signer signs checkpoints. Nil means no checkpoints are written, so
	// truncation of the chain's tail and a rewrite of the whole chain go
	// undetected: the gateway MUST set it.
	Signer Signer
	// CheckpointEvery writes a checkpoint at the end of the batch in which
	// at least this many records were appended since the last one.
	// Zero means 1000; negative disables count-based checkpoints.
	CheckpointEvery int
	// CheckpointInterval writes a checkpoint when the head has moved and
	// the last checkpoint is older than this, even when no more records
	// arrive, bounding the unsigned tail in time. Zero means 10s; negative
	// disables time-based checkpoints.
	CheckpointInterval time.Duration
	// MaxBatch bounds how many records one group commit writes. Zero
	// means 256.
	MaxBatch int
	// Linger bounds how long a group commit keeps gathering records after
	// taking its first one. The writer yields the processor to goroutines
	// that are ready to run, such as the appenders its previous commit
	// released, so that their records join this commit instead of each
	// paying for a commit of its own; it stops as soon as yielding brings
	// nothing more. With no other goroutine ready to run, a lone Append is
	// committed at once: Linger only bounds the wait under load. Zero
	// means 500µs; negative disables gathering (a commit takes what is
	// queued when it starts).
	Linger time.Duration
	// AsyncLinger is how long a commit holding only records that
	// AppendAsync acknowledged early, which nobody waits for, waits for
	// more records while the log is busy (its previous commit ended less
	// than a millisecond before); any record somebody waits for ends the
	// wait at once. It widens by as much the window in which a crash of
	// the process loses records acknowledged early. Zero means 1ms;
	// negative disables it.
	AsyncLinger time.Duration
	// QueueSize bounds how many records AppendAsync may have acknowledged
	// that are not yet durable. Zero means 1024.
	QueueSize int
	// FlushDeadline is how long a commit may run before AppendAsync stops
	// acknowledging early and waits for durability instead, so a slow or
	// failing store turns into errors instead of a growing at-risk queue.
	// Zero means 1s.
	FlushDeadline time.Duration
	// CommitTimeout bounds one group-commit transaction. With SQLite it
	// bounds the wait for a connection and for the database's write lock;
	// once the writer holds the lock, the transaction runs to its end.
	// Zero means 30s.
	CommitTimeout time.Duration
	// WriterNice, when positive, runs the writer goroutine on an OS thread
	// of its own with its scheduling priority lowered by this much (Linux;
	// ignored elsewhere), so that request handling preempts a group
	// commit's CPU work instead of waiting behind it. The writer still
	// gets the processor whenever nothing else needs it, and appenders
	// wait for it when the queue of early acknowledgements is full, so
	// under saturation the load slows to what the log can write.
	WriterNice int
	// ReadOnly opens the database for Query, Export and Verify only: no
	// schema is created, Append fails, and an SQLite path must exist.
	ReadOnly bool
	// Logger receives operational problems that have no caller to return
	// to (a checkpoint that could not be signed, a failed commit of
	// acknowledged records being retried). Nil means slog.Default().
	Logger *slog.Logger
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

func (o *Options) setDefaults() {
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = 1000
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = 10 * time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.Linger == 0 {
		o.Linger = defaultLinger
	}
	if o.AsyncLinger == 0 {
		o.AsyncLinger = defaultAsyncLinger
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.FlushDeadline <= 0 {
		o.FlushDeadline = time.Second
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Receipt identifies a durable record: its sequence number and chain hash.
type Receipt struct {
	Seq  uint64
	Hash Hash
}

// Errors returned by Append and AppendAsync.
var (
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("audit: log closed")
	// ErrReadOnly: the log was opened with Options.ReadOnly.
	ErrReadOnly = errors.New("audit: log opened read-only")
)

// Log is an append-only, hash-chained audit log in SQLite or PostgreSQL.
// Its methods are safe for concurrent use. Appends from any number of
// goroutines are written by one writer goroutine, which batches whatever is
// queued into one transaction (group commit); with PostgreSQL, appenders in
// several processes share one chain, serialised by a row lock.
type Log struct {
	db   *sql.DB
	d    *dialect
	opts Options

	// mu guards closed. Senders hold it for reading while they send on
	// reqs, so Close can close reqs once it holds it for writing.
	mu     sync.RWMutex
	closed bool

	reqs     chan *request
	urgent   chan struct{} // a queued record somebody waits for (see gatherer.gather)
	stopped  chan struct{} // closed when the writer has exited
	closeErr error         // written by the writer before stopped closes

	w           writer        // the writer goroutine's connection, statements and chain tip
	registered  atomic.Value  // string: the signer key id last recorded in audit_keys
	slots       chan struct{} // one per acknowledged, not yet durable async record
	failing     atomic.Bool   // the last commit failed
	epoch       time.Time     // monotonic reference for commitStart
	commitStart atomic.Int64  // 1 + nanoseconds since epoch when the running commit began; 0 when idle
	commits     atomic.Uint64 // successful group commits
	committed   atomic.Uint64 // records in them
}

// Open opens the audit log at dsn, creating its tables unless
// opts.ReadOnly. A dsn starting with postgres:// or postgresql:// selects
// PostgreSQL (any pgx connection URL; add search_path=... to use a schema);
// anything else is an SQLite file path (created if missing) or a file: URI;
// "" means [DefaultDSN]. SQLite runs in WAL mode with synchronous=FULL, so a
// commit is on disk when it returns.
//
// Unless read-only, Open starts the writer goroutine; Close stops it.
func Open(ctx context.Context, dsn string, opts Options) (*Log, error) {
	opts.setDefaults()
	d, source, err := resolveDSN(dsn, opts.ReadOnly)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(d.driver, source)
	if err != nil {
		return nil, fmt.Errorf("audit: opening %s database: %w", d.name, err)
	}
	if d == sqliteDialect {
		// One writer at a time anyway; a few readers beside it.
		db.SetMaxOpenConns(4)
	} else {
		db.SetMaxOpenConns(8)
	}
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("audit: connecting to %s database: %w", d.name, err)
	}
	if opts.ReadOnly {
		err = checkSchema(ctx, db)
	} else {
		err = migrate(ctx, db, d)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	l := &Log{db: db, d: d, opts: opts, stopped: make(chan struct{}), epoch: time.Now()}
	l.w.db, l.w.d = db, d
	if opts.ReadOnly {
		l.closed = true
		close(l.stopped)
		return l, nil
	}
	if err := l.registerKey(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	if d == postgresDialect {
		// An acknowledged record must survive a server crash: with
		// synchronous_commit=off it might not, so each append turns it
		// on for its own transaction. Stronger settings (remote_apply,
		// remote_write) are left as they are.
		var sc string
		if err := db.QueryRowContext(ctx, `SHOW synchronous_commit`).Scan(&sc); err != nil {
			db.Close()
			return nil, fmt.Errorf("audit: reading synchronous_commit: %w", err)
		}
		l.w.forceSync = sc == "off"
	}
	l.reqs = make(chan *request, opts.MaxBatch)
	l.urgent = make(chan struct{}, 1)
	l.slots = make(chan struct{}, opts.QueueSize)
	go l.run()
	return l, nil
}

// hurry ends the writer's wait for more early-acknowledged records (see
// gatherer.gather); a signal already pending stands for this one.
func (l *Log) hurry() {
	select {
	case l.urgent <- struct{}{}:
	default:
	}
}

// Stats are counters of the writer since the log was opened.
type Stats struct {
	Commits uint64 // successful group commits (transactions)
	Records uint64 // records they wrote
}

// Stats returns the writer's counters. Records ÷ Commits is the mean group
// commit size: the fewer records a commit holds, the more each costs.
func (l *Log) Stats() Stats {
	return Stats{Commits: l.commits.Load(), Records: l.committed.Load()}
}

// Backend returns "sqlite" or "postgres".
func (l *Log) Backend() string { return l.d.name }

// request is one record on its way to the writer.
type request struct {
	body  []byte // canonical encoding of every field but Seq
	idx   indexColumns
	async bool // acknowledged before durable; holds a slot
	done  chan struct{}
	rcpt  Receipt
	err   error
}

func (r *request) wait(ctx context.Context) (Receipt, error) {
	select {
	case <-r.done:
		return r.rcpt, r.err
	case <-ctx.Done():
		// The record may still be written: the caller only stops waiting.
		return Receipt{}, fmt.Errorf("audit: waiting for the record to be durable: %w", ctx.Err())
	}
}

// prepare normalizes, validates and encodes rec for the writer.
func (l *Log) prepare(rec *Record) (*request, error) {
	if rec.Time.IsZero() {
		rec.Time = l.opts.Now()
	}
	rec.Seq = 0
	normalize(rec)
	if err := validate(rec); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRecord, err)
	}
	body := appendBody(make([]byte, 0, 512), rec)
	if len(body) > MaxRecordSize {
		return nil, fmt.Errorf("%w: %d bytes encoded, more than %d", ErrInvalidRecord, len(body), MaxRecordSize)
	}
	return &request{body: body, idx: indexOf(rec), done: make(chan struct{})}, nil
}

// enqueue hands r to the writer.
func (l *Log) enqueue(ctx context.Context, r *request) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		if l.reqs == nil {
			return ErrReadOnly
		}
		return ErrClosed
	}
	select {
	case l.reqs <- r:
		if !r.async || len(l.reqs) >= cap(l.reqs)/2 {
			// Somebody waits for this record, or the queue is filling.
			l.hurry()
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: queueing record: %w", ctx.Err())
	}
}

// Append adds rec to the chain and returns once it is durable: committed to
// the database with its sequence number and hash (strict mode). rec.Seq is
// ignored; a zero rec.Time is set to now.
//
// Append fails closed: any error means the record may not have been
// written, and the caller MUST NOT proceed as if it had been (the gateway
// answers 503). When ctx ends first the record may still be written later;
// only the wait is abandoned. A record Append acknowledged survives a crash
// of the process or the machine (SQLite: WAL with synchronous=FULL;
// PostgreSQL: committed with synchronous_commit at least on, which Append
// enforces for its own transactions when the server has it off).
func (l *Log) Append(ctx context.Context, rec Record) (Receipt, error) {
	r, err := l.prepare(&rec)
	if err != nil {
		return Receipt{}, err
	}
	if err := l.enqueue(ctx, r); err != nil {
		return Receipt{}, err
	}
	return r.wait(ctx)
}

// Ticket is a record queued by AppendAsync. Its methods are safe for
// concurrent use.
type Ticket struct{ r *request }

// Done is closed once the record is durable or has finally failed.
func (t *Ticket) Done() <-chan struct{} { return t.r.done }

// Wait waits until the record is durable and returns its receipt, or the
// error that stopped it from being written.
func (t *Ticket) Wait(ctx context.Context) (Receipt, error) { return t.r.wait(ctx) }

// AppendAsync is the fast mode: for the records it allows, it returns as
// soon as the record is queued, before it is durable.
//
// Only decision records (KindDecision) of denials, and of reads (methods
// GET, HEAD, OPTIONS), are acknowledged early. Any other record, and any
// record while the store is failing, while a commit has been running for
// longer than Options.FlushDeadline, or while Options.QueueSize records are
// already acknowledged and not yet durable, is handled as by Append:
// AppendAsync returns only once it is durable (or with the error).
//
// What an early acknowledgement guarantees: the record is valid, holds its
// place in this process's queue, and is committed by the next group commit
// (normally within milliseconds), before any record queued after it, so a
// later successful Append implies it is durable too; if a commit fails it
// is retried, not dropped, until Close. What it does NOT guarantee: the
// record survives a crash of the process before that commit. At most
// QueueSize records are exposed at any time, and the Ticket tells when the
// record is durable (Ticket.Wait also yields the sequence number an outcome
// record refers to in Ref).
func (l *Log) AppendAsync(ctx context.Context, rec Record) (*Ticket, error) {
	r, err := l.prepare(&rec)
	if err != nil {
		return nil, err
	}
	if asyncEligible(&rec) && l.asyncHealthy() {
		select {
		case l.slots <- struct{}{}:
			r.async = true
		default:
		}
	}
	if err := l.enqueue(ctx, r); err != nil {
		if r.async {
			<-l.slots
		}
		return nil, err
	}
	t := &Ticket{r: r}
	if r.async {
		return t, nil
	}
	if _, err := r.wait(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// AcksEarly reports whether AppendAsync would acknowledge a read's
// decision record once queued, were it called now: the log is open, its
// last commit succeeded, no commit has been running for longer than
// Options.FlushDeadline, and the queue of acknowledged records has room. A
// caller that records a read only when its answer arrives asks first, so
// that nothing reaches the upstream while the log is known to be failing.
func (l *Log) AcksEarly() bool {
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	return !closed && l.asyncHealthy() && len(l.slots) < cap(l.slots)
}

// asyncHealthy reports whether early acknowledgement is allowed now.
func (l *Log) asyncHealthy() bool {
	if l.failing.Load() {
		return false
	}
	start := l.commitStart.Load()
	return start == 0 || int64(time.Since(l.epoch))+1-start < int64(l.opts.FlushDeadline)
}

// Close stops accepting records, writes everything queued, signs a final
// checkpoint over the head (when a Signer is set and the head moved), and
// closes the database. It returns an error if acknowledged records could not
// be written. Close is safe to call more than once.
func (l *Log) Close() error {
	l.mu.Lock()
	wasOpen := !l.closed
	l.closed = true
	l.mu.Unlock()
	if wasOpen {
		close(l.reqs)
		l.hurry()
	}
	<-l.stopped
	dbErr := l.db.Close()
	if l.closeErr != nil {
		return l.closeErr
	}
	if dbErr != nil {
		return fmt.Errorf("audit: closing database: %w", dbErr)
	}
	return nil
}
