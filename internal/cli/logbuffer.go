package cli

import (
	"io"
	"sync"
	"time"
)

// lineBuffer gathers whole log lines (each Write is one line from a
// slog handler) and writes them to w in batches: when maxBuffered bytes
// are waiting, within every flush interval, and on Close. One write
// system call then carries many request lines instead of one each, and
// none is made while a request is being answered. Lines a crash catches
// in the buffer (at most an interval's worth) are lost: the audit log,
// not this one, is the record of requests.
type lineBuffer struct {
	w     io.Writer
	every time.Duration

	mu      sync.Mutex
	buf     []byte
	pending *time.Timer // the next timed flush, when lines are waiting
	closed  bool
	err     error // the last write error, returned by the next Write
}

const maxBuffered = 32 << 10

func newLineBuffer(w io.Writer, every time.Duration) *lineBuffer {
	return &lineBuffer{w: w, every: every}
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return b.w.Write(p)
	}
	if err := b.err; err != nil {
		b.err = nil
		return 0, err
	}
	b.buf = append(b.buf, p...)
	switch {
	case len(b.buf) >= maxBuffered:
		b.flushLocked()
	case b.pending == nil:
		b.pending = time.AfterFunc(b.every, b.flush)
	}
	return len(p), nil
}

func (b *lineBuffer) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
}

func (b *lineBuffer) flushLocked() {
	if b.pending != nil {
		b.pending.Stop()
		b.pending = nil
	}
	if len(b.buf) == 0 {
		return
	}
	if _, err := b.w.Write(b.buf); err != nil {
		b.err = err
	}
	if cap(b.buf) > 4*maxBuffered {
		b.buf = nil // a burst of long lines: do not keep its buffer
	} else {
		b.buf = b.buf[:0]
	}
}

// Close writes what is waiting; later lines are written at once.
func (b *lineBuffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	b.closed = true
	err := b.err
	b.err = nil
	return err
}
