package server

import (
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/idp"
)

// testClock is a settable clock shared by the emulator, the Airflow double
// and the gateway.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

// newTestClock starts a minute ahead: the emulator dates its generated
// secrets by the real clock, and they must be valid at once.
func newTestClock() *testClock {
	return &testClock{t: time.Now().Add(time.Minute).Truncate(time.Second)}
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newClockStack is newStack with one clock for every party and the
// emulator's token lifetimes fixed, for tests of expiry and refresh.
func newClockStack(t *testing.T, version int, clk *testClock, idpOpts idp.Options, edit func(*config.Config)) *stack {
	t.Helper()
	return newStackWith(t, version, stackOptions{idp: idpOpts, now: clk.now, edit: edit})
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// replica starts a second gateway on the stack's configuration (same
// keyring and state database), as a second replica behind a load
// balancer, and returns its URL.
func (s *stack) replica(now func() time.Time) string {
	s.t.Helper()
	gw, err := New(context.Background(), s.cfg, Options{Logger: testLogger(), Now: now})
	if err != nil {
		s.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	hs := &http.Server{Handler: gw.Handler()}
	go hs.Serve(ln)
	s.t.Cleanup(func() {
		hs.Close()
		gw.Close()
	})
	return "http://" + ln.Addr().String()
}

// goBrowser is a scripted browser: a cookie jar, the emulator's CA, and
// redirects followed like a browser's navigation.
type goBrowser struct {
	t      *testing.T
	s      *stack
	jar    *cookiejar.Jar
	client *http.Client
	// last is the URL of the last page reached.
	last *url.URL
}

func (s *stack) browser() *goBrowser {
	s.t.Helper()
	jar, _ := cookiejar.New(nil)
	base := s.idp.HTTPClient()
	b := &goBrowser{t: s.t, s: s, jar: jar}
	b.client = &http.Client{Transport: base.Transport, Jar: jar, Timeout: 30 * time.Second}
	return b
}

// page is a response as the browser saw it.
type page struct {
	status int
	url    *url.URL
	header http.Header
	body   string
}

// navigate GETs a URL as a top-level navigation (Accept: text/html) and
// follows redirects.
func (b *goBrowser) navigate(rawURL string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

func (b *goBrowser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	b.last = resp.Request.URL
	return page{resp.StatusCode, resp.Request.URL, resp.Header, string(body)}
}

// fetch calls the gateway like the UI's JavaScript: same-origin, JSON.
func (b *goBrowser) fetch(method, path, body string) page {
	b.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.s.gwURL+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", b.s.gwURL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return b.do(req)
}

var (
	requestFieldRE = regexp.MustCompile(`name="request" value="([^"]+)"`)
	formActionRE   = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// pickUser submits the emulator's sign-in page (the browser must be on
// it) as user, with or without MFA, and follows the redirects back.
func (b *goBrowser) pickUser(p page, user string, mfa bool) page {
	b.t.Helper()
	if !strings.Contains(p.body, `id="accounts"`) {
		b.t.Fatalf("not on the sign-in page (%s, %d): %.300s", p.url, p.status, p.body)
	}
	req := requestFieldRE.FindStringSubmatch(p.body)
	action := formActionRE.FindStringSubmatch(p.body)
	if req == nil || action == nil {
		b.t.Fatalf("sign-in page without its form: %.300s", p.body)
	}
	form := url.Values{"request": {html.UnescapeString(req[1])}, "user": {user}}
	if mfa {
		form.Set("mfa", "on")
	}
	target := p.url.ResolveReference(&url.URL{Path: html.UnescapeString(action[1])})
	r, err := http.NewRequest(http.MethodPost, target.String(), strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", "text/html")
	return b.do(r)
}

// signIn opens path on the gateway, signs in as user at the emulator and
// returns the page it lands on.
func (b *goBrowser) signIn(path, user string, mfa bool) page {
	b.t.Helper()
	p := b.navigate(b.s.gwURL + path)
	return b.pickUser(p, user, mfa)
}

// cookies returns the gateway's cookies in the jar.
func (b *goBrowser) cookies() []*http.Cookie {
	u, _ := url.Parse(b.s.gwURL)
	return b.jar.Cookies(u)
}

// setCookies replaces the gateway's cookies in the jar.
func (b *goBrowser) setCookies(cs []*http.Cookie) {
	u, _ := url.Parse(b.s.gwURL)
	for _, c := range b.jar.Cookies(u) {
		b.jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: "", Path: "/", MaxAge: -1}})
	}
	var set []*http.Cookie
	for _, c := range cs {
		set = append(set, &http.Cookie{Name: c.Name, Value: c.Value, Path: "/"})
	}
	b.jar.SetCookies(u, set)
}

func upn(name string) string { return name + "@" + idp.DemoDomain }

// uiUser reads the user the Airflow UI stand-in says it received.
func uiUser(t *testing.T, version int, body string) string {
	t.Helper()
	id := "header-user"
	if version == 3 {
		id = "jwt-sub"
	}
	m := regexp.MustCompile(`id="` + id + `">([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the UI page names no user (#%s): %.400s", id, body)
	}
	return html.UnescapeString(m[1])
}

// auditRecords reads every audit record of the stack (closing nothing).
func (s *stack) auditRecords() []audit.Record {
	s.t.Helper()
	lg, err := audit.Open(context.Background(), s.cfg.Audit.DB, audit.Options{ReadOnly: true})
	if err != nil {
		s.t.Fatal(err)
	}
	defer lg.Close()
	var out []audit.Record
	if err := lg.Query(context.Background(), audit.Filter{}, func(e audit.Entry) error {
		out = append(out, e.Record)
		return nil
	}); err != nil {
		s.t.Fatal(err)
	}
	return out
}

func (p page) String() string { return fmt.Sprintf("%d %s: %.300s", p.status, p.url, p.body) }
