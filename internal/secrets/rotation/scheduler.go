package rotation

import (
	"context"
	"sync"
	"time"
)

// Scheduler runs Manager.Tick on a ticker until Close. Several replicas may
// each run one: the per-secret lock lets one of them rotate a secret at a
// time, and the back-off recorded after a failure is shared.
type Scheduler struct {
	m        *Manager
	interval time.Duration
	cancel   context.CancelFunc
	done     chan struct{}
	once     sync.Once
	// ticked, when set (tests), receives each pass's results.
	ticked func([]Result)
}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	// Interval between passes; default 1m. Each wait is jittered ±20% so
	// replicas started together do not tick together.
	Interval time.Duration
	// Ticked, when set, is called with each pass's results (tests).
	Ticked func([]Result)
}

// Start runs a first pass at once, then one per interval, until ctx ends
// or Close is called.
func Start(ctx context.Context, m *Manager, o SchedulerOptions) *Scheduler {
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Scheduler{m: m, interval: o.Interval, cancel: cancel, done: make(chan struct{}), ticked: o.Ticked}
	go s.run(ctx)
	return s
}

func (s *Scheduler) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		results := s.m.Tick(ctx)
		if s.ticked != nil {
			s.ticked(results)
		}
		t.Reset(jitter(s.interval))
	}
}

// Close stops the scheduler and waits for a pass in progress to end (its
// context is cancelled, so network calls return promptly; an interrupted
// rotation leaves its intent for the next run).
func (s *Scheduler) Close() error {
	s.once.Do(func() {
		s.cancel()
		<-s.done
	})
	return nil
}
