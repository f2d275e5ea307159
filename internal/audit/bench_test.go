package audit

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/airgate/airgate/internal/audit/audittest"
)

// The durable (strict) append path: every Append returns only after its
// group commit is on disk (SQLite WAL, synchronous=FULL) or committed
// (PostgreSQL), with concurrent appenders as a gateway has.

func BenchmarkAppendSQLite(b *testing.B) {
	benchAppend(b, filepath.Join(b.TempDir(), "bench.db"), 16)
}

func BenchmarkAppendSQLiteSerial(b *testing.B) {
	benchAppend(b, filepath.Join(b.TempDir(), "bench.db"), 0)
}

func BenchmarkAppendPostgres(b *testing.B) {
	benchAppend(b, audittest.PostgresDSN(b), 16)
}

// benchAppend appends with parallelism*GOMAXPROCS goroutines, or from one
// goroutine when parallelism is 0.
func benchAppend(b *testing.B, dsn string, parallelism int) {
	l := openLog(b, dsn, Options{Signer: testKey(50)})
	ctx := context.Background()
	rec := sampleRecord(1)
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
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
