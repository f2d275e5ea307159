package tokens

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := NewLimiter(60, 2) // one a second, bursts of two
	now := testNow
	for i := 0; i < 2; i++ {
		if ok, _ := l.Allow("s", now); !ok {
			t.Fatalf("burst request %d refused", i)
		}
	}
	ok, wait := l.Allow("s", now)
	if ok || wait != time.Second {
		t.Fatalf("third request = %v, retry after %s; want refused, 1s", ok, wait)
	}
	if ok, _ := l.Allow("other", now); !ok {
		t.Error("another key shares the bucket")
	}
	if ok, _ := l.Allow("s", now.Add(time.Second)); !ok {
		t.Error("refilled token refused")
	}
	if ok, _ := l.Allow("s", now.Add(time.Second)); ok {
		t.Error("bucket refilled more than the rate")
	}
	if NewLimiter(0, 5) != nil {
		t.Error("NewLimiter(0) is not nil (off)")
	}
}

func TestLimiterBounded(t *testing.T) {
	l := NewLimiter(60, 1)
	for i := 0; i < maxBuckets; i++ {
		l.Allow(itoa(i), testNow)
	}
	// Full of empty buckets: a new key is refused rather than growing.
	if ok, _ := l.Allow("new", testNow); ok {
		t.Error("a new key was admitted past the bound with no bucket refilled")
	}
	// Once buckets have refilled they are forgotten and room is made.
	if ok, _ := l.Allow("new", testNow.Add(time.Second)); !ok {
		t.Error("no room made after buckets refilled")
	}
	if len(l.buckets) > maxBuckets {
		t.Errorf("%d buckets", len(l.buckets))
	}
}
