package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// dagMeta is what airgate knows of one DAG from Airflow itself.
type dagMeta struct {
	ID   string
	Tags []string
	// Schedule is the schedule as Airflow reports it: v1 schedule_interval
	// (JSON), v2 timetable_summary.
	Schedule json.RawMessage
}

// dagCache lists Airflow's DAGs with airgate's own upstream credential, for
// tag selectors, for expanding "every permitted DAG" into ids, and for
// schedules. It refreshes at most every ttl, and on a miss at most every
// minMiss, so unknown DAG ids cannot flood Airflow.
type dagCache struct {
	client  *http.Client
	base    *url.URL
	version int
	auth    func(*http.Request) error
	ttl     time.Duration
	minMiss time.Duration
	now     func() time.Time
	sf      singleflight.Group

	mu sync.RWMutex // guards the fields below
	// dags maps DAG id to its metadata.
	dags     map[string]dagMeta
	fetched  time.Time
	lastMiss time.Time
}

// maxDAGPages bounds one refresh (100 DAGs a page).
const maxDAGPages = 200

func (c *dagCache) snapshot(ctx context.Context) (map[string]dagMeta, error) {
	c.mu.RLock()
	dags, fetched := c.dags, c.fetched
	c.mu.RUnlock()
	if dags != nil && c.now().Sub(fetched) < c.ttl {
		return dags, nil
	}
	if err := c.refresh(ctx); err != nil {
		if dags != nil {
			return dags, nil // serve the last list while Airflow is down
		}
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.dags, nil
}

// lookup returns one DAG's metadata, refreshing once on a miss (rate-limited).
func (c *dagCache) lookup(ctx context.Context, id string) (dagMeta, bool, error) {
	dags, err := c.snapshot(ctx)
	if err != nil {
		return dagMeta{}, false, err
	}
	if m, ok := dags[id]; ok {
		return m, true, nil
	}
	c.mu.Lock()
	allowed := c.now().Sub(c.lastMiss) >= c.minMiss
	if allowed {
		c.lastMiss = c.now()
	}
	c.mu.Unlock()
	if !allowed {
		return dagMeta{}, false, nil
	}
	if err := c.refresh(ctx); err != nil {
		return dagMeta{}, false, err
	}
	c.mu.RLock()
	m, ok := c.dags[id]
	c.mu.RUnlock()
	return m, ok, nil
}

// ids returns every known DAG id, sorted.
func (c *dagCache) ids(ctx context.Context) ([]string, error) {
	dags, err := c.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(dags))
	for id := range dags {
		out = append(out, id)
	}
	sort.Strings(out)
	return out, nil
}

func (c *dagCache) refresh(ctx context.Context) error {
	_, err, _ := c.sf.Do("refresh", func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		dags, err := c.fetch(fctx)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.dags, c.fetched = dags, c.now()
		c.mu.Unlock()
		return nil, nil
	})
	return err
}

type dagPage struct {
	DAGs []struct {
		DAGID            string                  `json:"dag_id"`
		Tags             []struct{ Name string } `json:"tags"`
		ScheduleInterval json.RawMessage         `json:"schedule_interval"`
		TimetableSummary json.RawMessage         `json:"timetable_summary"`
	} `json:"dags"`
	TotalEntries int `json:"total_entries"`
}

func (c *dagCache) fetch(ctx context.Context) (map[string]dagMeta, error) {
	dags := map[string]dagMeta{}
	path := "/api/v2/dags"
	if c.version == 2 {
		path = "/api/v1/dags"
	}
	for page := 0; page < maxDAGPages; page++ {
		u := *c.base
		u.Path = joinPath(c.base.Path, path)
		u.RawQuery = fmt.Sprintf("limit=100&offset=%d", page*100)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, err
		}
		if err := c.auth(req); err != nil {
			return nil, err
		}
		resp, err := c.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("listing DAGs: %w", err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("listing DAGs: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("listing DAGs: Airflow answered %d", resp.StatusCode)
		}
		var p dagPage
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, fmt.Errorf("listing DAGs: %w", err)
		}
		for _, d := range p.DAGs {
			m := dagMeta{ID: d.DAGID, Schedule: d.TimetableSummary}
			if c.version == 2 {
				m.Schedule = d.ScheduleInterval
			}
			for _, t := range d.Tags {
				m.Tags = append(m.Tags, t.Name)
			}
			dags[d.DAGID] = m
		}
		if len(p.DAGs) == 0 || (page+1)*100 >= p.TotalEntries {
			return dags, nil
		}
	}
	return nil, fmt.Errorf("listing DAGs: more than %d pages", maxDAGPages)
}

func joinPath(base, p string) string {
	if base == "" || base == "/" {
		return p
	}
	if base[len(base)-1] == '/' {
		base = base[:len(base)-1]
	}
	return base + p
}
