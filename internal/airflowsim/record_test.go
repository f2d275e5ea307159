package airflowsim

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

func TestRequestsRecordWhatArrived(t *testing.T) {
	f := newFixture(t, nil)
	f.do("GET", "/api/v1/variables/a%2Fb/c?x=1&x=2", "", basic(testUser, testPassword), header("X-Airgate-User", "mallory"))
	f.do("POST", "/api/v2/dags/team_a_daily/dagRuns", `{"logical_date": null}`, bearer(f.token))
	f.do("GET", "/api/v2/dags", "", bearer("bad"))
	f.do("GET", "/api/v2/monitor/health", "")
	f.do("GET", "/elsewhere", "")

	reqs := f.srv.Requests()
	if len(reqs) != 5 {
		t.Fatalf("Requests() = %d entries, want 5", len(reqs))
	}
	r := reqs[0]
	if r.Method != "GET" || r.Path != "/api/v1/variables/a/b/c" || r.RawPath != "/api/v1/variables/a%2Fb/c" {
		t.Errorf("path = %q raw %q", r.Path, r.RawPath)
	}
	if r.RawQuery != "x=1&x=2" || strings.Join(r.Query["x"], ",") != "1,2" {
		t.Errorf("query = %q %v", r.RawQuery, r.Query)
	}
	if r.Header.Get("X-Airgate-User") != "mallory" || r.Identity.User != testUser {
		t.Errorf("header %q identity %+v", r.Header.Get("X-Airgate-User"), r.Identity)
	}
	if r.Received != testNow {
		t.Errorf("Received = %v, want %v", r.Received, testNow)
	}
	if got := reqs[1]; string(got.Body) != `{"logical_date": null}` || got.Identity != (Identity{Subject: "alice", Role: "admin"}) {
		t.Errorf("trigger recorded as body %q identity %+v", got.Body, got.Identity)
	}
	for i, want := range []string{"/api/v2/dags", "/api/v2/monitor/health", "/elsewhere"} {
		if got := reqs[2+i]; got.Path != want || got.Identity != (Identity{}) {
			t.Errorf("request %d = %s identity %+v, want %s with no identity", 2+i, got.Path, got.Identity, want)
		}
	}

	// The copy is the caller's.
	reqs[0].Header.Set("X-Airgate-User", "changed")
	reqs[0].Query.Set("x", "9")
	reqs[1].Body[0] = '!'
	again := f.srv.Requests()
	if again[0].Header.Get("X-Airgate-User") != "mallory" || again[0].Query.Get("x") != "1" || again[1].Body[0] != '{' {
		t.Error("changing the result of Requests changed the record")
	}

	f.srv.Reset()
	if n := len(f.srv.Requests()); n != 0 {
		t.Errorf("after Reset, Requests() = %d entries", n)
	}
}

func TestRequestsBoundTheBody(t *testing.T) {
	f := newFixture(t, nil)
	big := `{"key": "big", "value": "` + strings.Repeat("x", 100<<10) + `"}`
	_, resp, _ := f.v1("POST", "/variables", big)
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	r := f.srv.Requests()[0]
	if len(r.Body) != 64<<10 || !r.BodyTruncated || !bytes.HasPrefix([]byte(big), r.Body) {
		t.Errorf("recorded body of %d bytes, truncated %v", len(r.Body), r.BodyTruncated)
	}
	huge := bytes.Repeat([]byte("x"), 2<<20)
	req, err := http.NewRequest("POST", f.http.URL+"/api/v1/variables", bytes.NewReader(huge))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(testUser, testPassword)
	resp, err = f.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB body: status = %d, want 413", resp.StatusCode)
	}
}

func TestRecordLimit(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.RecordLimit = 3 })
	for _, p := range []string{"/a", "/b", "/c", "/d", "/e"} {
		f.do("GET", p, "")
	}
	var got []string
	for _, r := range f.srv.Requests() {
		got = append(got, r.Path)
	}
	if strings.Join(got, " ") != "/c /d /e" {
		t.Errorf("kept %v, want the latest three", got)
	}
	f.srv.Reset()
	f.do("GET", "/f", "")
	if reqs := f.srv.Requests(); len(reqs) != 1 || reqs[0].Path != "/f" {
		t.Errorf("after Reset kept %v", reqs)
	}

	none := newFixture(t, func(o *Options) { o.RecordLimit = -1 })
	none.do("GET", "/api/v1/health", "")
	if n := len(none.srv.Requests()); n != 0 {
		t.Errorf("RecordLimit -1 kept %d requests", n)
	}
}
