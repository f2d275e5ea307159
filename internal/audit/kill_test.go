package audit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// killChildEnv, when set, makes TestKillUnderLoad act as the child: append
// to the log at this DSN until killed.
const killChildEnv = "AIRGATE_AUDIT_KILL_CHILD"

// TestKillUnderLoad runs a child process that appends from many goroutines
// and prints every acknowledged record, SIGKILLs it mid-load, then checks
// that the chain is intact and holds every acknowledged record.
func TestKillUnderLoad(t *testing.T) {
	if dsn := os.Getenv(killChildEnv); dsn != "" {
		killChild(dsn)
		return
	}
	key := testKey(30)
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.dsn(t)
		// Create the schema first so that the child starts appending at
		// once.
		l := openLog(t, dsn, Options{})
		l.Close()

		cmd := exec.Command(os.Args[0], "-test.run=^TestKillUnderLoad$")
		cmd.Env = append(os.Environ(), killChildEnv+"="+dsn)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[uint64]Hash{}
		sc := bufio.NewScanner(out)
		killed := false
		var loadStart time.Time
		deadline := time.Now().Add(20 * time.Second)
		for sc.Scan() {
			seq, h, err := parseAck(sc.Text())
			if err != nil {
				t.Errorf("child wrote %q: %v", sc.Text(), err)
				continue
			}
			acked[seq] = h
			if loadStart.IsZero() {
				loadStart = time.Now()
			}
			// Kill mid-load, while the child keeps appending: after
			// half a second of load and a few hundred records.
			if !killed && (len(acked) >= 300 && time.Since(loadStart) > 500*time.Millisecond || time.Now().After(deadline)) {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() {
			t.Fatalf("child ended with %v, want killed by SIGKILL; stderr:\n%s", err, stderr.String())
		}
		if len(acked) < 300 {
			t.Fatalf("only %d records acknowledged before the kill", len(acked))
		}

		ro := openLog(t, dsn, Options{ReadOnly: true})
		rep := mustVerify(t, ro, key.KeySet())
		stored := map[uint64]Hash{}
		if err := ro.Query(context.Background(), Filter{}, func(e Entry) error { stored[e.Seq] = e.Hash; return nil }); err != nil {
			t.Fatal(err)
		}
		for seq, h := range acked {
			if got, ok := stored[seq]; !ok || got != h {
				t.Errorf("acknowledged record %d (%s) lost after the kill: stored %v %s", seq, h.Short(), ok, got.Short())
			}
		}
		t.Logf("%s: %d acknowledged, %d stored, %d checkpoints, last at %d", b.name, len(acked), rep.Records, rep.Checkpoints, rep.LastCheckpoint)

		// The chain goes on after the crash.
		w := openLog(t, dsn, Options{Signer: key})
		r, err := w.Append(context.Background(), sampleRecord(1))
		if err != nil || r.Seq != rep.Records+1 {
			t.Fatalf("Append after the crash = %+v, %v; want seq %d", r, err, rep.Records+1)
		}
		mustVerify(t, w, key.KeySet())
	})
}

func parseAck(line string) (uint64, Hash, error) {
	var h Hash
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "ack" {
		return 0, h, errors.New("not an ack line")
	}
	seq, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, h, err
	}
	return seq, h, h.UnmarshalText([]byte(f[2]))
}

// killChild appends from 8 goroutines until the process is killed, writing
// "ack SEQ HASH" to stdout for each record Append acknowledged.
func killChild(dsn string) {
	l, err := Open(context.Background(), dsn, Options{
		Signer: testKey(30), CheckpointEvery: 50, CheckpointInterval: 20 * time.Millisecond, Logger: quietLogger,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	for w := range 8 {
		go func() {
			for i := w; ; i += 8 {
				r, err := l.Append(context.Background(), sampleRecord(i))
				if err != nil {
					fmt.Fprintln(os.Stderr, "child: append:", err)
					os.Exit(4)
				}
				mu.Lock()
				// One write per line, straight to the pipe: nothing
				// acknowledged sits in a buffer when the kill comes.
				os.Stdout.WriteString("ack " + strconv.FormatUint(r.Seq, 10) + " " + r.Hash.String() + "\n")
				mu.Unlock()
			}
		}()
	}
	select {}
}
