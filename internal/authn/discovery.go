package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	discoveryRetry   = 5 * time.Second  // least time between failed attempts per tenant
	discoveryTimeout = 10 * time.Second // bound on one fetch
	discoveryMax     = 1000             // tenants remembered
	maxDiscoveryBody = 1 << 20
)

// discovery resolves a tenant's key set URL from its v2 OpenID discovery
// document, once per tenant, single-flight. It is safe for concurrent use.
type discovery struct {
	template string   // discovery URL template
	issuer   template // expected v2 issuer
	client   *http.Client
	now      func() time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // fetch goroutines

	mu      sync.Mutex // guards the fields below
	entries map[string]*discoEntry
	closed  bool
}

type discoEntry struct {
	jwksURL     string        // set once resolved
	lastAttempt time.Time     // start of the last fetch
	err         error         // error of the last fetch
	inflight    chan struct{} // closed when the running fetch is done
}

func newDiscovery(tmpl string, issuer template, client *http.Client, now func() time.Time) *discovery {
	ctx, cancel := context.WithCancel(context.Background())
	return &discovery{
		template: tmpl, issuer: issuer, client: client, now: now,
		ctx: ctx, cancel: cancel, entries: map[string]*discoEntry{},
	}
}

// jwksURL returns the key set URL of tenant tid (a validated GUID). Its
// errors wrap ErrKeysUnavailable, or are ctx.Err().
func (d *discovery) jwksURL(ctx context.Context, tid string) (string, error) {
	d.mu.Lock()
	e := d.entries[tid]
	if e == nil {
		if len(d.entries) >= discoveryMax {
			d.evictLocked()
		}
		e = &discoEntry{}
		d.entries[tid] = e
	}
	if e.jwksURL != "" {
		d.mu.Unlock()
		return e.jwksURL, nil
	}
	if e.inflight == nil {
		now := d.now()
		if d.closed || !e.lastAttempt.IsZero() && now.Sub(e.lastAttempt) < discoveryRetry {
			err := e.err
			d.mu.Unlock()
			if err == nil {
				err = errors.New("discovery closed")
			}
			return "", fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
		}
		e.inflight = make(chan struct{})
		e.lastAttempt = now
		d.wg.Add(1)
		go d.fetch(tid, e, e.inflight)
	}
	ch := e.inflight
	d.mu.Unlock()

	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-ch:
	}
	d.mu.Lock()
	u, err := e.jwksURL, e.err
	d.mu.Unlock()
	if u == "" {
		return "", fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	return u, nil
}

// evictLocked forgets one tenant with no fetch in flight. d.mu must be held.
func (d *discovery) evictLocked() {
	for tid, e := range d.entries {
		if e.inflight == nil {
			delete(d.entries, tid)
			return
		}
	}
}

func (d *discovery) fetch(tid string, e *discoEntry, done chan struct{}) {
	defer d.wg.Done()
	ctx, cancel := context.WithTimeout(d.ctx, discoveryTimeout)
	u, err := d.get(ctx, tid)
	cancel()
	d.mu.Lock()
	e.jwksURL, e.err, e.inflight = u, err, nil
	d.mu.Unlock()
	close(done)
}

func (d *discovery) get(ctx context.Context, tid string) (string, error) {
	docURL := strings.ReplaceAll(d.template, TenantPlaceholder, tid)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, docURL, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetching discovery document: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetching discovery document %s: unexpected status %d", docURL, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoveryBody+1))
	if err != nil {
		return "", fmt.Errorf("reading discovery document %s: %w", docURL, err)
	}
	if len(body) > maxDiscoveryBody {
		return "", fmt.Errorf("discovery document %s larger than %d bytes", docURL, maxDiscoveryBody)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("decoding discovery document %s: %w", docURL, err)
	}
	// The document must be the tenant's own (OpenID Connect Discovery §4.3).
	if !d.issuer.matches(doc.Issuer, tid) {
		return "", fmt.Errorf("discovery document %s: issuer %q is not %q", docURL, doc.Issuer, d.issuer.fill(tid))
	}
	ju, err := url.Parse(doc.JWKSURI)
	if err != nil || ju.Host == "" || !(ju.Scheme == "https" || ju.Scheme == req.URL.Scheme) {
		return "", fmt.Errorf("discovery document %s: jwks_uri %q is not an https URL", docURL, doc.JWKSURI)
	}
	return ju.String(), nil
}

// close stops fetches in flight and waits for them.
func (d *discovery) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
}
