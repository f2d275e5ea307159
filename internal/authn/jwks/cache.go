package jwks

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero fields of [Options].
const (
	DefaultMinRefreshInterval = 30 * time.Second
	DefaultRetryInterval      = 5 * time.Second
	DefaultTTL                = 24 * time.Hour
	DefaultMinTTL             = 5 * time.Minute
	DefaultMaxTTL             = 24 * time.Hour
	DefaultFetchTimeout       = 10 * time.Second
	DefaultMaxKeySets         = 1000
)

var (
	// ErrKeyNotFound means the key set was fetched (or a fetch was
	// rate-limited) and holds no key with the requested kid.
	ErrKeyNotFound = errors.New("jwks: key not found")
	// ErrUnavailable means no key of the set has ever been fetched and the
	// last attempt failed, so no answer about any kid can be given. Errors
	// wrapping it carry the fetch failure.
	ErrUnavailable = errors.New("jwks: keys unavailable")
)

// Key is one public signing key of a key set. Keys are shared between
// callers and MUST NOT be modified.
type Key struct {
	// KeyID is the key's kid.
	KeyID string
	// Algorithm is the key's alg member, empty when the set gives none.
	Algorithm string
	// Issuer is Microsoft Entra's non-standard issuer member, possibly a
	// template containing {tenantid}; empty when absent.
	Issuer string
	// Public is an *rsa.PublicKey or an *ecdsa.PublicKey.
	Public crypto.PublicKey
}

// Options configure a [Cache]. The zero value of each field selects the
// default named in its comment.
type Options struct {
	// HTTPClient fetches key sets; default a client with no overall
	// timeout (FetchTimeout bounds each fetch).
	HTTPClient *http.Client
	// MinRefreshInterval is the least time between the starts of two
	// fetches of a set that has keys, whether forced by an unknown kid or
	// by expiry (default 30 s). An unknown kid seen sooner is answered with
	// ErrKeyNotFound without a fetch.
	MinRefreshInterval time.Duration
	// RetryInterval is the least time between two attempts for a set that
	// has never been fetched successfully (default 5 s), so that an outage
	// at start-up is retried soon but not once per request.
	RetryInterval time.Duration
	// DefaultTTL applies when the response has no Cache-Control max-age
	// (default 24 h). Microsoft Entra rolls keys rarely and publishes new
	// keys well before signing with them.
	DefaultTTL time.Duration
	// MinTTL and MaxTTL bound the TTL taken from max-age (defaults 5 min
	// and 24 h). Up to a tenth of the TTL is taken off at random so that
	// replicas do not refresh in step.
	MinTTL, MaxTTL time.Duration
	// FetchTimeout bounds one fetch (default 10 s).
	FetchTimeout time.Duration
	// MaxKeySets bounds the number of URLs cached (default 1000); past it
	// the least recently used idle set is dropped.
	MaxKeySets int
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.MinRefreshInterval <= 0 {
		o.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = DefaultRetryInterval
	}
	if o.DefaultTTL <= 0 {
		o.DefaultTTL = DefaultTTL
	}
	if o.MinTTL <= 0 {
		o.MinTTL = DefaultMinTTL
	}
	if o.MaxTTL <= 0 {
		o.MaxTTL = DefaultMaxTTL
	}
	if o.MaxTTL < o.MinTTL {
		o.MaxTTL = o.MinTTL
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = DefaultFetchTimeout
	}
	if o.MaxKeySets <= 0 {
		o.MaxKeySets = DefaultMaxKeySets
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Stats are cumulative counters of a [Cache], for metrics.
type Stats struct {
	// Refreshes and RefreshFailures count completed fetches.
	Refreshes       uint64
	RefreshFailures uint64
	// RateLimited counts unknown-kid lookups answered without a fetch
	// because the last one was too recent.
	RateLimited uint64
	// KeySets is the number of URLs currently cached.
	KeySets int
}

// Cache is a set of remote key sets keyed by URL. It is safe for
// concurrent use. Fetches run on the cache's own context, not the caller's,
// so a cancelled request never aborts a fetch other requests wait for;
// [Cache.Close] stops them.
type Cache struct {
	opts   Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // fetch goroutines

	refreshes, failures, rateLimited atomic.Uint64
	loaded                           atomic.Bool

	closeMu sync.Mutex // guards closed and every wg.Add
	closed  bool

	mu   sync.RWMutex // guards sets
	sets map[string]*keySet
}

// keySet is the cached state of one URL.
type keySet struct {
	url      string
	lastUsed atomic.Int64 // Unix nanoseconds of the last lookup

	mu          sync.RWMutex // guards the fields below
	keys        map[string]*Key
	expiry      time.Time // zero until the first successful fetch
	lastAttempt time.Time // start of the last fetch
	lastErr     error     // error of the last fetch, nil if it succeeded
	inflight    *call     // the running fetch, if any
}

// call is one fetch; done is closed when it has finished and the set has
// been updated.
type call struct {
	done chan struct{}
	err  error // written before done is closed
}

// New returns an empty cache. Call Close to stop fetches in flight.
func New(opts Options) *Cache {
	ctx, cancel := context.WithCancel(context.Background())
	return &Cache{opts: opts.withDefaults(), ctx: ctx, cancel: cancel, sets: map[string]*keySet{}}
}

// Key returns the key with id kid from the key set at url.
//
// A cached key is returned at once; if the set's TTL has run out, a
// refresh starts in the background. For an unknown kid Key waits for a
// fetch (joining one already running) unless the last fetch started less
// than MinRefreshInterval ago, and returns ErrKeyNotFound if the key is
// still unknown. When the set has never been fetched successfully and the
// fetch fails, the error wraps ErrUnavailable. If ctx ends first, Key
// returns ctx.Err(); the fetch continues for other callers.
func (c *Cache) Key(ctx context.Context, url, kid string) (*Key, error) {
	s := c.set(url)
	now := c.opts.Now()
	s.lastUsed.Store(now.UnixNano())

	s.mu.RLock()
	k := s.keys[kid]
	stale := k != nil && !now.Before(s.expiry)
	s.mu.RUnlock()
	if k != nil {
		if stale {
			c.startFetch(s, now) // background: the caller does not wait
		}
		return k, nil
	}

	cl := c.startFetch(s, now)
	if cl == nil {
		c.rateLimited.Add(1)
		return nil, s.missErr(kid)
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-cl.done:
	}
	s.mu.RLock()
	k = s.keys[kid]
	s.mu.RUnlock()
	if k != nil {
		return k, nil
	}
	return nil, s.missErr(kid)
}

// missErr is the error for a kid not in the set: ErrUnavailable if the set
// has no keys at all, else ErrKeyNotFound.
func (s *keySet) missErr(kid string) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.expiry.IsZero() {
		if s.lastErr != nil {
			return fmt.Errorf("%w: fetching %s: %w", ErrUnavailable, s.url, s.lastErr)
		}
		return fmt.Errorf("%w: %s not fetched yet", ErrUnavailable, s.url)
	}
	return ErrKeyNotFound
}

// Ready makes sure the key set at url has been fetched successfully at
// least once, fetching it now if needed (subject to RetryInterval). It
// returns nil when keys are cached, else an error wrapping ErrUnavailable
// or ctx.Err(). Use it for readiness checks and to warm the cache.
func (c *Cache) Ready(ctx context.Context, url string) error {
	s := c.set(url)
	s.mu.RLock()
	ok := !s.expiry.IsZero()
	s.mu.RUnlock()
	if ok {
		return nil
	}
	if cl := c.startFetch(s, c.opts.Now()); cl != nil {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-cl.done:
		}
	}
	if err := s.missErr(""); errors.Is(err, ErrUnavailable) {
		return err
	}
	return nil
}

// Loaded reports whether any key set has ever been fetched successfully.
func (c *Cache) Loaded() bool { return c.loaded.Load() }

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	c.mu.RLock()
	n := len(c.sets)
	c.mu.RUnlock()
	return Stats{
		Refreshes:       c.refreshes.Load(),
		RefreshFailures: c.failures.Load(),
		RateLimited:     c.rateLimited.Load(),
		KeySets:         n,
	}
}

// Close cancels fetches in flight and waits for them to end. Afterwards the
// cache still answers from the keys it holds but fetches nothing.
func (c *Cache) Close() error {
	c.closeMu.Lock()
	c.closed = true
	c.closeMu.Unlock()
	c.cancel()
	c.wg.Wait()
	return nil
}

// set returns the entry for url, creating it if needed.
func (c *Cache) set(url string) *keySet {
	c.mu.RLock()
	s := c.sets[url]
	c.mu.RUnlock()
	if s != nil {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.sets[url]; s != nil {
		return s
	}
	if len(c.sets) >= c.opts.MaxKeySets {
		c.evictLocked()
	}
	s = &keySet{url: url}
	c.sets[url] = s
	return s
}

// evictLocked drops the least recently used set with no fetch in flight.
// c.mu must be held (lock order: Cache.mu, then keySet.mu).
func (c *Cache) evictLocked() {
	var victim string
	oldest := int64(0)
	for u, s := range c.sets {
		s.mu.RLock()
		busy := s.inflight != nil
		s.mu.RUnlock()
		if busy {
			continue
		}
		if t := s.lastUsed.Load(); victim == "" || t < oldest {
			victim, oldest = u, t
		}
	}
	if victim != "" {
		delete(c.sets, victim)
	}
}

// startFetch returns the fetch in flight for s, or starts one unless the
// last one started too recently, in which case it returns nil.
func (c *Cache) startFetch(s *keySet, now time.Time) *call {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight != nil {
		return s.inflight
	}
	interval := c.opts.MinRefreshInterval
	if s.expiry.IsZero() {
		interval = c.opts.RetryInterval
	}
	if !s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < interval {
		return nil
	}
	// Lock order: keySet.mu, then closeMu. Adding under closeMu keeps
	// wg.Add from racing with Close's wg.Wait.
	c.closeMu.Lock()
	closed := c.closed
	if !closed {
		c.wg.Add(1)
	}
	c.closeMu.Unlock()
	if closed {
		return nil
	}
	cl := &call{done: make(chan struct{})}
	s.inflight = cl
	s.lastAttempt = now
	go c.fetch(s, cl)
	return cl
}

// fetch runs one fetch of s on the cache's context and publishes the
// result: keys replace the cached ones only on success.
func (c *Cache) fetch(s *keySet, cl *call) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.FetchTimeout)
	keys, ttl, err := fetchKeys(ctx, c.opts.HTTPClient, s.url)
	cancel()
	now := c.opts.Now()

	s.mu.Lock()
	if err == nil {
		s.keys = keys
		s.expiry = now.Add(c.ttl(ttl))
		s.lastErr = nil
		c.refreshes.Add(1)
		c.loaded.Store(true)
	} else {
		s.lastErr = err
		c.failures.Add(1)
	}
	s.inflight = nil
	cl.err = err
	s.mu.Unlock()
	close(cl.done)
}

// ttl bounds the advertised freshness lifetime and takes up to a tenth off
// at random.
func (c *Cache) ttl(advertised time.Duration) time.Duration {
	t := c.opts.DefaultTTL
	if advertised >= 0 {
		t = min(max(advertised, c.opts.MinTTL), c.opts.MaxTTL)
	}
	if j := int64(t / 10); j > 0 {
		t -= time.Duration(rand.Int64N(j))
	}
	return t
}
