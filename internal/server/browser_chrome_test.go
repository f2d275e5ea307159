package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's Chromium. Without it the browser tests skip,
// except in CI (CI=true), where they fail: CI installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("AIRGATE_CHROMIUM"), "chromium", "/usr/bin/chromium"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("Chromium is not installed, and CI must run the browser tests: apt-get install -y chromium")
	}
	t.Skip("Chromium is not installed (apt-get install -y chromium); skipping the real-browser tests")
	return ""
}

// leafSPKI returns the base64 SHA-256 of the public key of the emulator's
// TLS certificate, for Chromium's --ignore-certificate-errors-spki-list:
// Chromium then trusts exactly that key (and nothing else it would not
// trust anyway), which is narrower than trusting the emulator's CA for every
// name or ignoring certificate errors altogether.
func leafSPKI(t *testing.T, s *stack) string {
	t.Helper()
	pemBytes, err := os.ReadFile(s.info.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no CA in the emulator's CA file")
	}
	u, err := url.Parse(s.info.AuthorityHost)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: pool, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS to the emulator: %v", err)
	}
	defer conn.Close()
	sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// chrome is one headless Chromium for a whole test.
type chrome struct {
	t   *testing.T
	ctx context.Context // the browser's context: new tabs derive from it
}

// startChrome starts Chromium with a fresh profile, trusting the TLS keys
// of the given emulators.
func startChrome(t *testing.T, spki []string) *chrome {
	t.Helper()
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(spki, ",")),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	start := time.Now()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium (%s): %v", path, err)
	}
	t.Logf("Chromium started in %v", time.Since(start).Round(time.Millisecond))
	return &chrome{t: t, ctx: ctx}
}

// tab is one user's browser: a new tab in its own browser context (its own
// cookies, like a fresh incognito window).
type tab struct {
	c   *chrome
	t   *testing.T
	ctx context.Context
}

func (c *chrome) newTab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(c.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{c: c, t: t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	return tb
}

// do runs steps with a deadline.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(tb.ctx, chromedp.Location())
		body, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 400) : ""`))
		tb.t.Fatalf("%s: %v (at %s: %q)", what, err, loc, body)
	}
}

// text returns the text of the first element matching a CSS selector.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		tb.t.Fatalf("reading %s: %v", sel, err)
	}
	return strings.TrimSpace(v)
}

// bodyText returns the page's visible text.
func (tb *tab) bodyText() string {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		tb.t.Fatal(err)
	}
	return v
}

func (tb *tab) location() string {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Location())
	if err != nil {
		tb.t.Fatal(err)
	}
	return v
}

// signIn opens a gateway URL, is sent to the emulator's sign-in page,
// picks the user (ticking "Require MFA" when asked) and waits for the page
// it lands on: the UI stand-in or an airgate page.
func (tb *tab) signIn(gwURL, path, user string, mfa bool) {
	tb.t.Helper()
	tb.do("opening "+path, chromedp.Navigate(gwURL+path), chromedp.WaitVisible(chromedp.CSS("#accounts")))
	if !strings.HasPrefix(tb.location(), "https://") {
		tb.t.Fatalf("the sign-in page is not the emulator's: %s", tb.location())
	}
	if mfa {
		tb.do("ticking Require MFA", chromedp.Click(chromedp.CSS("#mfa")))
	}
	button := chromedp.Search(fmt.Sprintf(`//button[normalize-space(text())=%q]`, upn(user)))
	tb.do("picking "+user, chromedp.Click(button, chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS("#identity, #summary, #title")))
}

// fetchResult is what a fetch from the page saw.
type fetchResult struct {
	Status int    `json:"status"`
	Type   string `json:"type"`
	Body   string `json:"body"`
}

// fetch calls the gateway from the page's JavaScript, as Airflow's UI
// does: same origin, the session cookie rides along.
func (tb *tab) fetch(method, path, body string) fetchResult {
	tb.t.Helper()
	init := map[string]any{"method": method, "headers": map[string]string{"Accept": "application/json"}}
	if body != "" {
		init["body"] = body
		init["headers"] = map[string]string{"Accept": "application/json", "Content-Type": "application/json"}
	}
	ib, _ := json.Marshal(init)
	pb, _ := json.Marshal(path)
	js := fmt.Sprintf(`fetch(%s, %s).then(async r => ({status: r.status, type: r.headers.get("Content-Type") || "", body: await r.text()}))`, pb, ib)
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.Evaluate[fetchResult](js, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("fetch %s %s: %v", method, path, err)
	}
	return res
}

// navigate opens a gateway URL in the tab and waits for it to load.
func (tb *tab) navigate(u string) int {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
	if err != nil {
		tb.t.Fatalf("navigating to %s: %v", u, err)
	}
	return int(resp.Status)
}
