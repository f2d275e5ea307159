package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// dagBody is what the upstream answers to GET /api/v{1,2}/dags/{dag_id}:
// Airflow's DAG object, about 300 bytes.
const dagBody = `{"dag_id":"team_a_etl","description":"Nightly ETL for team A","fileloc":"/opt/airflow/dags/team_a_etl.py","is_active":true,"is_paused":false,"owners":["team-a"],"schedule_interval":{"__type":"CronExpression","value":"0 2 * * *"},"tags":[{"name":"team-a"}],"max_active_runs":16,"next_dagrun":"2024-05-02T02:00:00+00:00"}` + "\n"

// dagListBody answers the DAG list airgate reads with its own credential
// (only for tag selectors and batch requests, which this benchmark does
// not send).
const dagListBody = `{"dags":[{"dag_id":"team_a_etl","tags":[{"name":"team-a"}]}],"total_entries":1}` + "\n"

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// upstreamStats is what the upstream's control endpoint reports.
type upstreamStats struct {
	Accepted int64 `json:"accepted"`
	Requests int64 `json:"requests"`
}

// runUpstream serves a minimal, fast Airflow double: a fixed DAG object
// for any DAG, with keep-alive. A second listener reports how many
// connections and requests the first one saw.
func runUpstream(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to serve on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	cl := &countingListener{Listener: ln}
	ctl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var requests atomic.Int64
	body, list := []byte(dagBody), []byte(dagListBody)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		hd := w.Header()
		hd["Content-Type"] = []string{"application/json"}
		p := r.URL.Path
		if strings.HasSuffix(p, "/dags") {
			_, _ = w.Write(list)
			return
		}
		if strings.HasSuffix(p, "/health") {
			_, _ = w.Write([]byte(`{"metadatabase":{"status":"healthy"}}`))
			return
		}
		_, _ = w.Write(body)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	ctlSrv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(upstreamStats{Accepted: cl.accepted.Load(), Requests: requests.Load()})
	})}
	return serveChild(ctx, []*http.Server{srv, ctlSrv}, []net.Listener{cl, ctl})
}

// runReference serves the reference: a bare httputil.ReverseProxy to the
// upstream with a tuned connection pool, and nothing else.
func runReference(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("reference", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to serve on")
	upstream := fs.String("upstream", "", "upstream base URL")
	idle := fs.Int("max-idle", 1024, "idle upstream connections kept (per host)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	up, err := url.Parse(*upstream)
	if err != nil || up.Host == "" {
		return fmt.Errorf("-upstream %q: not a URL", *upstream)
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        *idle,
		MaxIdleConnsPerHost: *idle,
		IdleConnTimeout:     90 * time.Second,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			pr.SetXForwarded()
		},
		Transport: tr,
		// wrk drops its connections at the end of a run; the requests
		// in flight then fail with "context canceled": not news.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	return serveChild(ctx, []*http.Server{srv}, []net.Listener{ln})
}

// runRelay serves the floor of any proxy on this machine: a TCP relay
// that copies bytes between each client connection and an upstream
// connection of its own, without parsing HTTP. What it adds at one request
// at a time is the cost of the two extra loopback hops alone.
func runRelay(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to serve on")
	upstream := fs.String("upstream", "", "upstream host:port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(*upstream); err != nil {
		return fmt.Errorf("-upstream %q: not host:port", *upstream)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	ctx = untilParentGone(ctx)
	fmt.Println(ln.Addr().String())
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go relay(ctx, c, *upstream)
	}
}

// relay copies between c and a new connection to upstream until either
// side closes.
func relay(ctx context.Context, c net.Conn, upstream string) {
	defer c.Close()
	u, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", upstream)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(u, c)
	go pipe(c, u)
	select {
	case <-done: // one side closed: close both, which ends the other copy
	case <-ctx.Done():
	}
}

// untilParentGone returns a context that also ends when stdin reaches EOF:
// the harness holds a child's stdin open while it needs the child.
func untilParentGone(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		var b [1]byte
		for {
			if _, err := os.Stdin.Read(b[:]); err != nil {
				cancel()
				return
			}
		}
	}()
	return ctx
}

// serveChild prints the listeners' addresses on one line of stdout (the
// harness reads it), serves until ctx ends or stdin closes (the harness
// went away), and shuts down.
func serveChild(ctx context.Context, srvs []*http.Server, lns []net.Listener) error {
	ctx = untilParentGone(ctx)
	errc := make(chan error, len(srvs))
	addrs := make([]string, len(lns))
	for i, s := range srvs {
		addrs[i] = lns[i].Addr().String()
		go func() { errc <- s.Serve(lns[i]) }()
	}
	fmt.Println(strings.Join(addrs, " "))
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer scancel()
	for _, s := range srvs {
		_ = s.Shutdown(sctx)
	}
	return nil
}
