package directory

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/airgate/airgate/internal/idp"
)

// emulator starts the Entra emulator with the demo tenant and returns it
// with a Graph client for the airgate app.
func emulator(t *testing.T) (*idp.Server, idp.ReadyInfo, *http.Client) {
	t.Helper()
	srv, err := idp.New(idp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := srv.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	base := srv.HTTPClient()
	app := info.Apps["airgate"]
	cc := clientcredentials.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, TokenURL: info.TokenEndpoint,
		Scopes: []string{"https://graph.microsoft.com/.default"}}
	ctx := context.WithValue(context.Background(), oauth2HTTPClient, base)
	return srv, info, cc.Client(ctx)
}

// countingTransport counts Graph calls and can be switched off.
type countingTransport struct {
	base  http.RoundTripper
	calls atomic.Int64
	down  atomic.Bool
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.calls.Add(1)
	if c.down.Load() {
		return nil, errors.New("graph unreachable")
	}
	return c.base.RoundTrip(r)
}

func TestResolverAgainstEmulator(t *testing.T) {
	_, info, client := emulator(t)
	ct := &countingTransport{base: client.Transport}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	r, err := New(Options{GraphURL: info.Graph, HTTPClient: &http.Client{Transport: ct}, TTL: time.Minute, MaxStale: time.Hour, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	direct, err := r.DirectGroups(ctx, idp.DemoCarolID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(direct, []string{idp.DemoGroupPlatformID}) {
		t.Errorf("carol's direct groups = %v, want only platform-engineers", direct)
	}
	trans, err := r.TransitiveGroups(ctx, idp.DemoCarolID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(trans, idp.DemoGroupAdminsID) || !slices.Contains(trans, idp.DemoGroupPlatformID) {
		t.Errorf("carol's transitive groups = %v, want airflow-admins through nesting", trans)
	}
	dave, err := r.DirectGroups(ctx, idp.DemoDaveID)
	if err != nil || !slices.Contains(dave, idp.DemoGroupAdminsID) {
		t.Errorf("dave's direct groups = %v, %v", dave, err)
	}

	// frank is in 210 groups: paging must bring them all.
	frank, err := r.TransitiveGroups(ctx, idp.DemoFrankID)
	if err != nil {
		t.Fatal(err)
	}
	if len(frank) != idp.DemoFrankBulkGroupCount+1 || !slices.Contains(frank, idp.DemoGroupTeamAOperatorsID) {
		t.Errorf("frank has %d groups, want %d including team A operators", len(frank), idp.DemoFrankBulkGroupCount+1)
	}

	// Cached within the TTL: no Graph call.
	calls := ct.calls.Load()
	if _, err := r.DirectGroups(ctx, idp.DemoCarolID); err != nil || ct.calls.Load() != calls {
		t.Errorf("cached lookup called Graph (%d -> %d), err %v", calls, ct.calls.Load(), err)
	}

	// Graph down: a stale answer is served within MaxStale, nothing is
	// invented for a user never seen, and past MaxStale the lookup fails.
	ct.down.Store(true)
	now = now.Add(2 * time.Minute)
	if g, err := r.DirectGroups(ctx, idp.DemoCarolID); err != nil || !slices.Equal(g, direct) {
		t.Errorf("stale lookup = %v, %v; want the cached groups", g, err)
	}
	if _, err := r.DirectGroups(ctx, idp.DemoBobID); !errors.Is(err, ErrUnavailable) {
		t.Errorf("uncached lookup with Graph down = %v, want ErrUnavailable", err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := r.DirectGroups(ctx, idp.DemoCarolID); !errors.Is(err, ErrUnavailable) {
		t.Errorf("lookup past MaxStale = %v, want ErrUnavailable", err)
	}
	if s := r.Stats(); s.StaleServed == 0 || s.GraphErrors == 0 || s.Hits == 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestResolverRefusesForeignNextLink(t *testing.T) {
	srv := http.NewServeMux()
	srv.HandleFunc("/v1.0/users/u/memberOf", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"value":[{"@odata.type":"#microsoft.graph.group","id":"g1"}],"@odata.nextLink":"https://evil.example/steal"}`))
	})
	ts := newTestServer(t, srv)
	r, err := New(Options{GraphURL: ts + "/v1.0", HTTPClient: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.DirectGroups(context.Background(), "u"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("DirectGroups with a foreign nextLink = %v, want ErrUnavailable", err)
	}
}

func TestResolverNeedsCredentials(t *testing.T) {
	_, info, _ := emulator(t)
	r, err := New(Options{GraphURL: info.Graph, HTTPClient: &http.Client{Transport: &http.Transport{}}})
	if err != nil {
		t.Fatal(err)
	}
	// No Graph token (and an untrusted CA): the lookup fails closed.
	if _, err := r.DirectGroups(context.Background(), idp.DemoAliceID); !errors.Is(err, ErrUnavailable) {
		t.Errorf("DirectGroups without credentials = %v, want ErrUnavailable", err)
	}
}
