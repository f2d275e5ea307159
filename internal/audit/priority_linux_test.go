package audit

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
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
// thread's priority changes, records are written as before, and the
// thread ends with the log.
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
	// A locked goroutine that ends on the process's main thread leaves
	// that thread parked for good, never running anything else: it may
	// keep the writer's priority.
	mainTID := strconv.Itoa(os.Getpid())
	niced := func() (n int) {
		for tid, v := range threadNices(t) {
			if tid == mainTID && v == want {
				continue
			}
			switch v {
			case want:
				n++
			case base:
			default:
				t.Errorf("thread %s has nice %d, want %d", tid, v, base)
			}
		}
		return n
	}
	// waitNone waits for the writer threads of logs closed before (by this
	// test run earlier, say) to end.
	waitNone := func(when string) {
		deadline := time.Now().Add(5 * time.Second)
		for niced() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: a thread at nice %d remains", when, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitNone("before opening the log")
	mainBefore := threadNices(t)[mainTID] == want
	l := openLog(t, filepath.Join(t.TempDir(), "audit.db"), Options{WriterNice: 7})
	if _, err := l.Append(context.Background(), sampleRecord(1)); err != nil {
		t.Fatal(err)
	}
	// The writer's thread: a new one, or the main thread.
	if n, main := niced(), !mainBefore && threadNices(t)[mainTID] == want; n+btoi(main) != 1 {
		t.Errorf("%d threads at nice %d, want exactly the writer's", n+btoi(main), want)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	waitNone("after closing the log")
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
