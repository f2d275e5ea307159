package audit

import (
	"context"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/audit/audittest"
)

// The durable append path: every Append returns only after its group
// commit is on disk (SQLite WAL, synchronous=FULL) or committed
// (PostgreSQL). Each benchmark reports records/s, the process's CPU time per
// record (cpu-µs/rec, user and system, from getrusage: it counts the
// appenders' encoding as well as the writer) and records per commit.
//
//	go test ./internal/audit -run '^$' -bench 'Append' -benchmem

// BenchmarkAppendSQLite: 16×GOMAXPROCS strict appenders, as a loaded
// strict-mode gateway has.
func BenchmarkAppendSQLite(b *testing.B) {
	benchAppend(b, sqliteBenchDSN(b), 16)
}

// BenchmarkAppendSQLiteSerial: one appender in a tight loop; each Append
// waits for its own commit.
func BenchmarkAppendSQLiteSerial(b *testing.B) {
	benchAppend(b, sqliteBenchDSN(b), 0)
}

// BenchmarkAppendSQLiteOneAtATime: one Append at a time with the log idle
// in between (a lightly loaded gateway); reports the Append's latency,
// which group commit must not lengthen.
func BenchmarkAppendSQLiteOneAtATime(b *testing.B) {
	benchOneAtATime(b, sqliteBenchDSN(b))
}

// BenchmarkAppendSQLiteMixed: a fast-mode gateway under load: each of
// 16×GOMAXPROCS workers appends a decision with AppendAsync (acknowledged
// early for reads) and then its outcome with Append.
func BenchmarkAppendSQLiteMixed(b *testing.B) {
	benchMixed(b, sqliteBenchDSN(b), 16)
}

func BenchmarkAppendPostgres(b *testing.B) {
	benchAppend(b, audittest.PostgresDSN(b), 16)
}

func BenchmarkAppendPostgresSerial(b *testing.B) {
	benchAppend(b, audittest.PostgresDSN(b), 0)
}

func BenchmarkAppendPostgresOneAtATime(b *testing.B) {
	benchOneAtATime(b, audittest.PostgresDSN(b))
}

func BenchmarkAppendPostgresMixed(b *testing.B) {
	benchMixed(b, audittest.PostgresDSN(b), 16)
}

func sqliteBenchDSN(b *testing.B) string { return filepath.Join(b.TempDir(), "bench.db") }

// benchAppend appends with parallelism*GOMAXPROCS goroutines, or from one
// goroutine when parallelism is 0.
func benchAppend(b *testing.B, dsn string, parallelism int) {
	l := openLog(b, dsn, Options{Signer: testKey(50)})
	ctx := context.Background()
	rec := sampleRecord(1)
	m := startMeter(l)
	b.ReportAllocs()
	b.ResetTimer()
	if parallelism == 0 {
		for b.Loop() {
			if _, err := l.Append(ctx, rec); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := l.Append(ctx, rec); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	m.report(b, b.N)
}

// benchMixed runs parallelism*GOMAXPROCS workers, each appending a decision
// (a read, so AppendAsync acknowledges it early) and then an outcome
// (durable), as the gateway's fast mode does per request. b.N counts
// requests; the records figures count both records.
func benchMixed(b *testing.B, dsn string, parallelism int) {
	l := openLog(b, dsn, Options{Signer: testKey(51)})
	ctx := context.Background()
	decision := sampleRecord(0) // an allowed GET
	outcome := sampleRecord(3)
	m := startMeter(l)
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(parallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.AppendAsync(ctx, decision); err != nil {
				b.Error(err)
				return
			}
			if _, err := l.Append(ctx, outcome); err != nil {
				b.Error(err)
				return
			}
		}
	})
	m.report(b, 2*b.N)
}

// benchOneAtATime appends one record at a time, waiting 2ms between
// appends so that the log is idle when each one arrives, and reports the
// mean and 99th percentile latency of Append.
func benchOneAtATime(b *testing.B, dsn string) {
	l := openLog(b, dsn, Options{Signer: testKey(52)})
	ctx := context.Background()
	rec := sampleRecord(1)
	var lat []time.Duration
	var total time.Duration
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		time.Sleep(2 * time.Millisecond)
		b.StartTimer()
		start := time.Now()
		if _, err := l.Append(ctx, rec); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		lat = append(lat, d)
		total += d
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(total.Microseconds())/float64(len(lat)), "µs/append")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// meter measures CPU time and commits over a benchmark.
type meter struct {
	l       *Log
	cpu     time.Duration
	commits uint64
	start   time.Time
}

func startMeter(l *Log) *meter {
	return &meter{l: l, cpu: processCPU(), commits: commitCount(l), start: time.Now()}
}

func (m *meter) report(b *testing.B, records int) {
	b.StopTimer()
	el := time.Since(m.start)
	cpu := processCPU() - m.cpu
	commits := commitCount(m.l) - m.commits
	b.ReportMetric(float64(records)/el.Seconds(), "records/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(records), "cpu-µs/rec")
	if commits > 0 {
		b.ReportMetric(float64(records)/float64(commits), "rec/commit")
	}
}

// processCPU returns the user and system CPU time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// commitCount returns how many group commits l has made.
func commitCount(l *Log) uint64 { return l.Stats().Commits }
