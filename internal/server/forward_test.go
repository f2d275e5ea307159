package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/config"
)

// seenRequest is what the upstream double saw of one request.
type seenRequest struct {
	uri    string
	header http.Header
}

// directUpstream is an Airflow double for forwardDirect's tests: it
// records each request and answers as the X-Test-Case header says.
func directUpstream(t *testing.T) (*httptest.Server, func() []seenRequest) {
	t.Helper()
	var mu sync.Mutex
	var seen []seenRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, seenRequest{uri: r.RequestURI, header: r.Header.Clone()})
		mu.Unlock()
		switch r.Header.Get("X-Test-Case") {
		case "hop":
			w.Header().Set("X-Request-Id", "airflows-own-id")
			w.Header().Set("Connection", "X-Internal")
			w.Header().Set("X-Internal", "for the proxy only")
			w.Header().Set("Keep-Alive", "timeout=5")
			fmt.Fprint(w, `{"dag_id":"team_a_daily"}`)
		case "trailer":
			w.Header().Set("Trailer", "X-Checksum")
			w.Write([]byte("body"))
			w.Header().Set("X-Checksum", "abc")
		case "truncated":
			// Promise more than is sent, then drop the connection.
			conn, bw, _ := w.(http.Hijacker).Hijack()
			bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: application/json\r\n\r\n{\"dag_id\":")
			bw.Flush()
			conn.Close()
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"dag_id":"team_a_daily"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seenRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]seenRequest(nil), seen...)
	}
}

func TestForwardDirect(t *testing.T) {
	up, seen := directUpstream(t)
	s := newStack(t, 2, func(c *config.Config) { c.Upstream.URL = up.URL })
	alice := s.userToken("alice", false)
	last := func() seenRequest {
		t.Helper()
		all := seen()
		if len(all) == 0 {
			t.Fatal("nothing reached the upstream")
		}
		return all[len(all)-1]
	}

	t.Run("path and query go out exactly as sent", func(t *testing.T) {
		r := s.do("GET", "/api/v1/dags/team_a_daily?fields=dag_id%2Cis_paused&x=%7E1", alice, "", nil)
		if r.status != 200 {
			t.Fatalf("= %d %s", r.status, r.body)
		}
		if got := last().uri; got != "/api/v1/dags/team_a_daily?fields=dag_id%2Cis_paused&x=%7E1" {
			t.Errorf("upstream saw %q", got)
		}
	})

	t.Run("hop-by-hop headers dropped both ways", func(t *testing.T) {
		r := s.do("GET", "/api/v1/dags/team_a_daily", alice, "", map[string]string{
			"X-Test-Case": "hop",
			"Connection":  "X-Custom, keep-alive",
			"X-Custom":    "for airgate only",
			"Keep-Alive":  "timeout=5",
			"Te":          "trailers, deflate",
			"User-Agent":  "airflow-client/2.10",
		})
		if r.status != 200 {
			t.Fatalf("= %d %s", r.status, r.body)
		}
		h := last().header
		for _, k := range []string{"X-Custom", "Keep-Alive", "Connection"} {
			if v := h.Values(k); len(v) != 0 {
				t.Errorf("upstream got %s: %q", k, v)
			}
		}
		if te := h.Get("Te"); te != "trailers" {
			t.Errorf("upstream got TE %q, want trailers", te)
		}
		if h.Get("Authorization") == "Bearer "+alice || h.Get("Authorization") == "" {
			t.Errorf("upstream got Authorization %q, want airgate's credential", h.Get("Authorization"))
		}
		if ua := h.Values("User-Agent"); len(ua) != 1 || ua[0] != "airflow-client/2.10" {
			t.Errorf("upstream got User-Agent %q, want the client's", ua)
		}
		for _, k := range []string{"X-Internal", "Keep-Alive"} {
			if v := r.header.Values(k); len(v) != 0 {
				t.Errorf("client got %s: %q", k, v)
			}
		}
		if ids := r.header.Values("X-Request-Id"); len(ids) != 1 || ids[0] != h.Get("X-Request-Id") {
			t.Errorf("client got request ids %q, want airgate's (%q) alone", ids, h.Get("X-Request-Id"))
		}
	})

	t.Run("trailers relayed", func(t *testing.T) {
		req, _ := http.NewRequest("GET", s.gwURL+"/api/v1/dags/team_a_daily", nil)
		req.Header.Set("Authorization", "Bearer "+alice)
		req.Header.Set("X-Test-Case", "trailer")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "body" || resp.Trailer.Get("X-Checksum") != "abc" {
			t.Errorf("body %q, trailer %v", b, resp.Trailer)
		}
	})

	t.Run("a truncated answer ends the client's connection", func(t *testing.T) {
		resp := rawGet(t, s.gwURL, "/api/v1/dags/team_a_daily", "Authorization: Bearer "+alice+"\r\nX-Test-Case: truncated\r\n")
		b, err := io.ReadAll(resp.Body)
		if err == nil {
			t.Errorf("read a complete answer (%d %q) from a truncated one", resp.StatusCode, b)
		}
	})

	t.Run("a path starting // never goes out as an absolute URL", func(t *testing.T) {
		// The catalogue refuses empty segments, API or UI; were one to
		// be let through, originForm keeps it off the direct path.
		before := len(seen())
		for _, p := range []string{"//evil.example/api/v1/dags/team_a_daily", "//evil.example/home"} {
			resp := rawGet(t, s.gwURL, p, "Authorization: Bearer "+alice+"\r\n")
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s = %d, want 404", p, resp.StatusCode)
			}
		}
		for _, r := range seen()[before:] {
			t.Errorf("upstream saw request target %q", r.uri)
		}
		for path, want := range map[string]bool{"/api/v1/dags": true, "/": true, "//evil.example/x": false, "": false, "*": false} {
			if got := originForm(path); got != want {
				t.Errorf("originForm(%q) = %v, want %v", path, got, want)
			}
		}
	})

	t.Run("no User-Agent stays none", func(t *testing.T) {
		resp := rawGet(t, s.gwURL, "/api/v1/dags/team_a_daily", "Authorization: Bearer "+alice+"\r\n")
		resp.Body.Close()
		if ua := last().header.Values("User-Agent"); resp.StatusCode != 200 || len(ua) != 0 {
			t.Errorf("= %d; upstream got User-Agent %q, want none", resp.StatusCode, ua)
		}
	})
}

// rawGet sends GET target to the gateway at base, as written, with
// exactly the given header lines (each ending in CRLF) and nothing else,
// not even a User-Agent, and reads the answer's head.
func rawGet(t *testing.T, base, target, headers string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", target, headers)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
