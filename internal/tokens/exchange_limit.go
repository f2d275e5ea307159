package tokens

import (
	"sync"
	"time"
)

// Limiter is a token bucket per key (a subject): Rate tokens a second up
// to Burst. It is safe for concurrent use. It keeps at most maxBuckets
// keys; when full it forgets buckets that have refilled, and if none has,
// it refuses new keys (fail closed) until one has.
type Limiter struct {
	rate  float64 // tokens per second
	burst float64

	mu sync.Mutex // guards buckets
	// buckets maps a key to its bucket.
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

const maxBuckets = 100_000

// NewLimiter returns a limiter allowing perMinute exchanges a minute per
// key with bursts of burst. perMinute <= 0 returns nil (no limit).
func NewLimiter(perMinute, burst int) *Limiter {
	if perMinute <= 0 {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	return &Limiter{rate: float64(perMinute) / 60, burst: float64(burst), buckets: map[string]*bucket{}}
}

// Allow takes one token from key's bucket at time now. When the bucket is
// empty it reports false and how long until a token is available.
func (l *Limiter) Allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.pruneLocked(now)
			if len(l.buckets) >= maxBuckets {
				return false, time.Second
			}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	if wait < time.Second {
		wait = time.Second
	}
	return false, wait.Round(time.Second)
}

// pruneLocked forgets buckets that are full again. l.mu must be held.
func (l *Limiter) pruneLocked(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}
