package audit

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// threadNices returns the nice value of each thread of this process.
func threadNices(t *testing.T) map[string]int {
	t.Helper()
	dirs, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Skip("no /proc/self/task:", err)
	}
	out := map[string]int{}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", d.Name(), "stat"))
		if err != nil {
			continue // the thread ended
		}
		// Fields after the command (which may hold spaces): state is
		// field 3, nice field 19.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if n, err := strconv.Atoi(f[16]); err == nil {
			out[d.Name()] = n
		}
	}
	return out
}

// The writer runs on a thread of its own at a lower priority; no other
// thread's priority changes, and records are written as before.
func TestWriterNice(t *testing.T) {
	cur, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	base := 20 - cur // the raw syscall returns 20 - nice
	want := min(base+7, 19)
	if want == base {
		t.Skipf("already at nice %d", base)
	}
	before := threadNices(t)
	l := openLog(t, filepath.Join(t.TempDir(), "audit.db"), Options{WriterNice: 7})
	if _, err := l.Append(context.Background(), sampleRecord(1)); err != nil {
		t.Fatal(err)
	}
	niced := 0
	for tid, n := range threadNices(t) {
		switch {
		case n == want:
			niced++
		case n != base:
			t.Errorf("thread %s has nice %d, want %d", tid, n, base)
		}
		if b, ok := before[tid]; ok && b != base {
			t.Errorf("thread %s had nice %d before the log opened", tid, b)
		}
	}
	if niced != 1 {
		t.Errorf("%d threads at nice %d, want exactly the writer's", niced, want)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
