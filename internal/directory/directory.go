// Package directory reads group memberships from Microsoft Graph, for the
// decisions the token alone cannot answer: direct (non-nested) membership,
// which Entra's transitive groups claim hides, and the groups of users whose
// token carries the overage indicator instead of a groups claim.
//
// Lookups are cached per user for a TTL and shared between concurrent
// callers. When Graph cannot be reached, a cached answer up to MaxStale old is
// used; with nothing cached the lookup fails, and the caller MUST deny (fail
// closed).
package directory

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

	"golang.org/x/sync/singleflight"
)

// Options configure a Resolver.
type Options struct {
	// GraphURL is the Graph base URL, e.g. https://graph.microsoft.com/v1.0.
	GraphURL string
	// HTTPClient makes Graph calls and MUST add an app-only Graph token
	// (e.g. an oauth2 client-credentials transport). Required.
	HTTPClient *http.Client
	// TTL is how long an answer is fresh. Default 5m.
	TTL time.Duration
	// MaxStale is how long past its TTL an answer may still be used while
	// Graph is failing. Default 1h. Zero after defaulting means never.
	MaxStale time.Duration
	// MaxEntries bounds the cache. Default 50,000 users.
	MaxEntries int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Resolver answers membership questions through Graph. It is safe for
// concurrent use.
type Resolver struct {
	opts  Options
	base  string
	group singleflight.Group

	mu sync.Mutex // guards the fields below
	// cache maps kind + " " + object id to an entry.
	cache map[string]entry

	statsMu sync.Mutex // guards stats
	stats   Stats
}

type entry struct {
	groups  []string
	fetched time.Time
}

// Stats counts cache and Graph activity, for metrics.
type Stats struct {
	Hits, Misses, GraphCalls, GraphErrors, StaleServed uint64
}

// New returns a Resolver.
func New(o Options) (*Resolver, error) {
	if o.HTTPClient == nil {
		return nil, errors.New("directory: an HTTP client with Graph credentials is required")
	}
	u, err := url.Parse(o.GraphURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("directory: bad Graph URL %q", o.GraphURL)
	}
	if o.TTL <= 0 {
		o.TTL = 5 * time.Minute
	}
	if o.MaxStale == 0 {
		o.MaxStale = time.Hour
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 50000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Resolver{opts: o, base: strings.TrimSuffix(o.GraphURL, "/"), cache: map[string]entry{}}, nil
}

// Stats returns a snapshot of the counters.
func (r *Resolver) Stats() Stats {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	return r.stats
}

func (r *Resolver) count(f func(*Stats)) {
	r.statsMu.Lock()
	f(&r.stats)
	r.statsMu.Unlock()
}

// DirectGroups returns the object ids of the groups the user or service
// principal is a direct member of (Graph memberOf). The slice is shared:
// callers MUST NOT modify it.
func (r *Resolver) DirectGroups(ctx context.Context, objectID string) ([]string, error) {
	return r.lookup(ctx, "direct", objectID, "/users/"+url.PathEscape(objectID)+"/memberOf?$select=id&$top=999")
}

// TransitiveGroups returns the object ids of every group the user is a
// member of, directly or through nesting (Graph transitiveMemberOf), for
// tokens with the groups overage indicator. The slice is shared.
func (r *Resolver) TransitiveGroups(ctx context.Context, objectID string) ([]string, error) {
	return r.lookup(ctx, "transitive", objectID, "/users/"+url.PathEscape(objectID)+"/transitiveMemberOf?$select=id&$top=999")
}

// Invalidate drops the cached answers for one object id (after an admin
// changes memberships, or when a session is revoked).
func (r *Resolver) Invalidate(objectID string) {
	r.mu.Lock()
	delete(r.cache, "direct "+objectID)
	delete(r.cache, "transitive "+objectID)
	r.mu.Unlock()
}

// ErrUnavailable wraps every failure to obtain an answer; the caller denies.
var ErrUnavailable = errors.New("directory: memberships unavailable")

func (r *Resolver) lookup(ctx context.Context, kind, objectID, path string) ([]string, error) {
	if objectID == "" {
		return nil, fmt.Errorf("%w: no object id", ErrUnavailable)
	}
	key := kind + " " + objectID
	now := r.opts.Now()
	r.mu.Lock()
	e, ok := r.cache[key]
	r.mu.Unlock()
	if ok && now.Sub(e.fetched) < r.opts.TTL {
		r.count(func(s *Stats) { s.Hits++ })
		return e.groups, nil
	}
	r.count(func(s *Stats) { s.Misses++ })
	ch := r.group.DoChan(key, func() (any, error) {
		// The fetch outlives any one caller's context, so a cancelled
		// request does not fail the others waiting on it.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		groups, err := r.fetchAll(fctx, r.base+path)
		if err != nil {
			return nil, err
		}
		r.store(key, groups)
		return groups, nil
	})
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, ctx.Err())
	case res := <-ch:
		if res.Err == nil {
			return res.Val.([]string), nil
		}
		if ok && now.Sub(e.fetched) < r.opts.TTL+r.opts.MaxStale {
			r.count(func(s *Stats) { s.StaleServed++ })
			return e.groups, nil
		}
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, res.Err)
	}
}

func (r *Resolver) store(key string, groups []string) {
	now := r.opts.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cache) >= r.opts.MaxEntries {
		// Evict what is past use first, then arbitrary entries.
		for k, e := range r.cache {
			if now.Sub(e.fetched) >= r.opts.TTL+r.opts.MaxStale {
				delete(r.cache, k)
			}
		}
		for k := range r.cache {
			if len(r.cache) < r.opts.MaxEntries {
				break
			}
			delete(r.cache, k)
		}
	}
	r.cache[key] = entry{groups: groups, fetched: now}
}

// maxPages bounds paging through one membership list.
const maxPages = 100

// maxBody bounds one Graph response.
const maxBody = 4 << 20

type page struct {
	Value []struct {
		ID   string `json:"id"`
		Type string `json:"@odata.type"`
	} `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

func (r *Resolver) fetchAll(ctx context.Context, next string) ([]string, error) {
	groups := []string{}
	base, _ := url.Parse(r.base)
	for i := 0; next != ""; i++ {
		if i == maxPages {
			return nil, fmt.Errorf("more than %d pages of memberships", maxPages)
		}
		// Follow nextLink only to the configured Graph host: a response
		// must not steer the Graph token elsewhere.
		u, err := url.Parse(next)
		if err != nil || u.Scheme != base.Scheme || u.Host != base.Host {
			return nil, fmt.Errorf("refusing nextLink to another host")
		}
		p, err := r.get(ctx, next)
		if err != nil {
			return nil, err
		}
		for _, v := range p.Value {
			// memberOf also lists directory roles and administrative
			// units; only groups can be mapped.
			if v.Type == "#microsoft.graph.group" {
				groups = append(groups, v.ID)
			}
		}
		next = p.NextLink
	}
	return groups, nil
}

func (r *Resolver) get(ctx context.Context, u string) (*page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	r.count(func(s *Stats) { s.GraphCalls++ })
	resp, err := r.opts.HTTPClient.Do(req)
	if err != nil {
		r.count(func(s *Stats) { s.GraphErrors++ })
		return nil, fmt.Errorf("calling Graph: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		r.count(func(s *Stats) { s.GraphErrors++ })
		return nil, fmt.Errorf("reading Graph response: %w", err)
	}
	if len(body) > maxBody {
		r.count(func(s *Stats) { s.GraphErrors++ })
		return nil, fmt.Errorf("Graph response larger than %d bytes", maxBody)
	}
	if resp.StatusCode != http.StatusOK {
		r.count(func(s *Stats) { s.GraphErrors++ })
		var ge struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		_ = json.Unmarshal(body, &ge)
		return nil, fmt.Errorf("Graph answered %d %s", resp.StatusCode, ge.Error.Code)
	}
	var p page
	if err := json.Unmarshal(body, &p); err != nil {
		r.count(func(s *Stats) { s.GraphErrors++ })
		return nil, fmt.Errorf("decoding Graph response: %w", err)
	}
	return &p, nil
}
