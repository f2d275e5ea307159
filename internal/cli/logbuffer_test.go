package cli

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeLog records each write it is given.
type writeLog struct {
	mu     sync.Mutex
	writes []string
	err    error
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func (w *writeLog) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.writes...)
}

func TestLineBuffer(t *testing.T) {
	t.Run("lines wait for the interval, then go in one write", func(t *testing.T) {
		out := &writeLog{}
		b := newLineBuffer(out, 50*time.Millisecond)
		for i := range 3 {
			b.Write([]byte(strings.Repeat("x", i+1) + "\n"))
		}
		if got := out.all(); len(got) != 0 {
			t.Fatalf("written before the interval: %q", got)
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(out.all()) == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := out.all(); len(got) != 1 || got[0] != "x\nxx\nxxx\n" {
			t.Errorf("writes = %q, want the three lines in one", got)
		}
	})
	t.Run("a full buffer is written at once; Close writes the rest", func(t *testing.T) {
		out := &writeLog{}
		b := newLineBuffer(out, time.Hour)
		line := []byte(strings.Repeat("y", 1023) + "\n")
		for range maxBuffered / len(line) {
			b.Write(line)
		}
		if got := out.all(); len(got) != 1 || len(got[0]) != maxBuffered {
			t.Fatalf("after %d bytes: %d writes", maxBuffered, len(got))
		}
		b.Write([]byte("last\n"))
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		got := out.all()
		if len(got) != 2 || got[1] != "last\n" {
			t.Errorf("Close wrote %q", got[1:])
		}
		b.Write([]byte("after close\n"))
		if got := out.all(); len(got) != 3 || got[2] != "after close\n" {
			t.Errorf("a line after Close was not written at once: %q", got)
		}
	})
	t.Run("a write error is reported, not lost", func(t *testing.T) {
		broken := errors.New("disk full")
		out := &writeLog{err: broken}
		b := newLineBuffer(out, time.Hour)
		b.Write(bytes.Repeat([]byte("z"), maxBuffered))
		if _, err := b.Write([]byte("next\n")); !errors.Is(err, broken) {
			t.Errorf("Write after a failed flush = %v, want %v", err, broken)
		}
	})
}
