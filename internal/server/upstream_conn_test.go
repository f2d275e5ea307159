package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is an httptest server that counts the connections it
// accepted.
func countingServer(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// baseRecorder is the fallback transport; it counts what it was given.
type baseRecorder struct {
	n    atomic.Int64
	base http.RoundTripper
}

func (b *baseRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	b.n.Add(1)
	return b.base.RoundTrip(r)
}

func newTestDirect(t *testing.T, rawURL string, timeout time.Duration) (*directTransport, *baseRecorder) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	base := &baseRecorder{base: &http.Transport{}}
	d := newDirectTransport(base, hostPort(u), timeout, 4)
	t.Cleanup(d.CloseIdleConnections)
	return d, base
}

func fetch(t *testing.T, rt http.RoundTripper, method, url string, body io.Reader) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func TestDirectTransportReusesConnections(t *testing.T) {
	srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part one,"))
			w.(http.Flusher).Flush()
			w.Write([]byte("part two"))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/not-modified":
			w.Header().Set("ETag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"path":%q,"method":%q}`, r.URL.Path, r.Method)
		}
	}))
	d, base := newTestDirect(t, srv.URL, time.Second)
	for i := range 20 {
		path := []string{"/dags/a", "/chunked", "/empty", "/not-modified"}[i%4]
		code, _, body := fetch(t, d, "GET", srv.URL+path, nil)
		want := map[string]string{"/dags/a": `{"path":"/dags/a","method":"GET"}`, "/chunked": "part one,part two"}[path]
		if body != want || code >= 400 {
			t.Fatalf("GET %s = %d %q, want %q", path, code, body, want)
		}
	}
	if code, h, body := fetch(t, d, "HEAD", srv.URL+"/dags/a", nil); code != 200 || body != "" || h.Get("Content-Type") != "application/json" {
		t.Errorf("HEAD = %d %q %v", code, body, h)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("21 sequential requests opened %d connections, want 1", n)
	}
	if n := base.n.Load(); n != 0 {
		t.Errorf("%d body-less reads went to the fallback transport", n)
	}

	// Requests with a body, other methods and upgrades take the fallback.
	if code, _, body := fetch(t, d, "POST", srv.URL+"/dags/a/dagRuns", strings.NewReader(`{}`)); code != 200 || !strings.Contains(body, `"POST"`) {
		t.Errorf("POST = %d %s", code, body)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/ws", nil)
	req.Header.Set("Connection", "keep-alive, Upgrade")
	if direct(req) {
		t.Error("an upgrade request was sent on a pooled connection")
	}
	if n := base.n.Load(); n != 1 {
		t.Errorf("fallback transport saw %d requests, want 1 (the POST)", n)
	}
}

// rawUpstream serves each connection with fn, on a plain TCP listener.
func rawUpstream(t *testing.T, fn func(c net.Conn, br *bufio.Reader)) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				fn(c, bufio.NewReader(c))
			}()
		}
	}()
	return "http://" + ln.Addr().String(), &conns
}

func readRequest(br *bufio.Reader) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, req.Body)
	return true
}

// Airflow closing an idle keep-alive connection costs the next request
// nothing but a new connection.
func TestDirectTransportRetriesOnClosedIdleConnection(t *testing.T) {
	// Answers one request per connection, advertising keep-alive, then
	// closes it: what a server whose keep-alive timeout passed does.
	u, conns := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		if readRequest(br) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	d, _ := newTestDirect(t, u, time.Second)
	for i := range 3 {
		if code, _, body := fetch(t, d, "GET", u+"/x", nil); code != 200 || body != "ok" {
			t.Fatalf("request %d = %d %q", i, code, body)
		}
		time.Sleep(20 * time.Millisecond) // let the close arrive
	}
	if n := conns.Load(); n < 3 {
		t.Errorf("%d connections for 3 requests on one-shot connections", n)
	}
}

// An answer followed by bytes nobody asked for (at once, or while the
// connection is idle), or one that asks to close, never leaves its
// connection in use.
func TestDirectTransportDropsSuspectConnections(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	const forged = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"
	for _, tc := range []struct {
		name, answer, late string
		pause              time.Duration // between the client's requests
	}{
		{name: "trailing bytes", answer: ok + forged},
		{name: "bytes while idle", answer: ok, late: forged, pause: 60 * time.Millisecond},
		{name: "connection close", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, conns := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
				for readRequest(br) {
					io.WriteString(c, tc.answer)
					if tc.late != "" {
						time.Sleep(20 * time.Millisecond)
						io.WriteString(c, tc.late)
					}
				}
			})
			d, _ := newTestDirect(t, u, time.Second)
			for i := range 3 {
				if code, _, body := fetch(t, d, "GET", u+"/x", nil); code != 200 || body != "ok" {
					t.Fatalf("request %d = %d %q (an answer meant for nobody was read)", i, code, body)
				}
				time.Sleep(tc.pause)
			}
			if n := conns.Load(); n != 3 {
				t.Errorf("%d connections for 3 requests, want 3 (none reused)", n)
			}
		})
	}
}

func TestDirectTransportSkipsInformationalAnswers(t *testing.T) {
	u, _ := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for readRequest(br) {
			io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
		}
	})
	d, _ := newTestDirect(t, u, time.Second)
	if code, _, body := fetch(t, d, "GET", u+"/x", nil); code != 200 || body != "done" {
		t.Errorf("= %d %q", code, body)
	}
}

// A hanging upstream times out as a net.Error the proxy answers with 504;
// a caller going away ends the wait at once with its context's error.
func TestDirectTransportTimeoutAndCancel(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	u, _ := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		readRequest(br)
		<-hold
	})
	d, _ := newTestDirect(t, u, 200*time.Millisecond)
	req, _ := http.NewRequest("GET", u+"/x", nil)
	_, err := d.RoundTrip(req)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !isTimeout(err) {
		t.Errorf("hanging upstream: err = %v, want a timeout", err)
	}

	d2, _ := newTestDirect(t, u, 0)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(ctx, "GET", u+"/x", nil)
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err = d2.RoundTrip(req)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Errorf("cancelled caller: err = %v after %s", err, time.Since(start))
	}
}

// A body closed before its end closes its connection instead of reading
// the rest (a task log can be long) or pooling it mid-answer.
func TestDirectTransportEarlyCloseDropsConnection(t *testing.T) {
	srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/long" {
			for range 64 {
				w.Write([]byte(strings.Repeat("log line\n", 512)))
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Write([]byte("ok"))
	}))
	d, _ := newTestDirect(t, srv.URL, time.Second)
	req, _ := http.NewRequest("GET", srv.URL+"/long", nil)
	resp, err := d.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code, _, body := fetch(t, d, "GET", srv.URL+"/short", nil); code != 200 || body != "ok" {
		t.Errorf("after an early close: %d %q", code, body)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (the half-read one not reused)", n)
	}
}

// A reused connection whose answer times out is not tried again: the
// caller waits one timeout, and Airflow sees the request once.
func TestDirectTransportTimeoutIsNotRetried(t *testing.T) {
	var requests atomic.Int64
	hold := make(chan struct{})
	defer close(hold)
	u, _ := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for readRequest(br) {
			if requests.Add(1) == 1 {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				continue
			}
			<-hold
			return
		}
	})
	const timeout = 300 * time.Millisecond
	d, _ := newTestDirect(t, u, timeout)
	if code, _, body := fetch(t, d, "GET", u+"/x", nil); code != 200 || body != "ok" {
		t.Fatalf("first request = %d %q", code, body)
	}
	req, _ := http.NewRequest("GET", u+"/x", nil)
	start := time.Now()
	_, err := d.RoundTrip(req)
	if !isTimeout(err) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if took := time.Since(start); took > timeout*3/2 {
		t.Errorf("took %s for a %s timeout (tried again?)", took, timeout)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("upstream saw %d requests, want 2", n)
	}
}
