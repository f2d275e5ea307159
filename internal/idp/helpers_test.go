package idp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"html"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// startServer starts an emulator for the test and stops it at cleanup.
func startServer(t *testing.T, opts Options) (*Server, ReadyInfo) {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	info, err := s.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, info
}

// startTenant starts an emulator for a YAML tenant in dev mode.
func startTenant(t *testing.T, yamlDoc string, opts Options) (*Server, ReadyInfo) {
	t.Helper()
	ten, err := ParseTenant(strings.NewReader(yamlDoc))
	if err != nil {
		t.Fatalf("ParseTenant() = %v", err)
	}
	opts.Tenant, opts.Dev = ten, true
	return startServer(t, opts)
}

func newClient(t *testing.T, info ReadyInfo) *Client {
	t.Helper()
	c, err := NewClient(info)
	if err != nil {
		t.Fatalf("NewClient() = %v", err)
	}
	return c
}

// claimsOf decodes a JWT's payload without verifying it.
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("payload: %v", err)
	}
	return c
}

// headerOf decodes a JWT's header.
func headerOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("header: %v", err)
	}
	return h
}

func strs(v any) []string {
	var out []string
	if a, ok := v.([]any); ok {
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// postForm posts a form to the emulator and decodes the JSON reply.
func postForm(t *testing.T, s *Server, target string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := s.HTTPClient().PostForm(target, form)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// wantSTSError checks an Entra-shaped token endpoint error.
func wantSTSError(t *testing.T, status int, body map[string]any, wantStatus int, wantError string, wantCode int) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("status = %d, want %d (body %v)", status, wantStatus, body)
	}
	if body["error"] != wantError {
		t.Errorf("error = %v, want %s", body["error"], wantError)
	}
	prefix := "AADSTS" + strconv.Itoa(wantCode) + ": "
	desc, _ := body["error_description"].(string)
	if !strings.HasPrefix(desc, prefix) {
		t.Errorf("error_description = %q, want prefix %q", desc, prefix)
	}
	for _, part := range []string{"\r\nTrace ID: ", "\r\nCorrelation ID: ", "\r\nTimestamp: "} {
		if !strings.Contains(desc, part) {
			t.Errorf("error_description lacks %q", part)
		}
	}
	codes, _ := body["error_codes"].([]any)
	if len(codes) != 1 || codes[0] != float64(wantCode) {
		t.Errorf("error_codes = %v, want [%d]", body["error_codes"], wantCode)
	}
	for _, k := range []string{"timestamp", "trace_id", "correlation_id"} {
		if s, _ := body[k].(string); s == "" {
			t.Errorf("%s missing", k)
		}
	}
	if !isGUID(body["trace_id"].(string)) || !isGUID(body["correlation_id"].(string)) {
		t.Errorf("trace_id/correlation_id are not GUIDs: %v %v", body["trace_id"], body["correlation_id"])
	}
}

// clock is an adjustable clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

// newTestCert makes a self-signed RSA certificate for client assertions.
func newTestCert(t *testing.T, cn string) (*x509.Certificate, *rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// countingTransport counts requests whose path ends in suffix.
type countingTransport struct {
	base   http.RoundTripper
	suffix string
	n      atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, c.suffix) {
		c.n.Add(1)
	}
	return c.base.RoundTrip(r)
}

// verifier returns a go-oidc verifier for issuer and audience that
// discovers the emulator's metadata and keys over HTTPS.
func verifier(t *testing.T, hc *http.Client, issuer, audience string) *oidc.IDTokenVerifier {
	t.Helper()
	p, err := oidc.NewProvider(oidc.ClientContext(t.Context(), hc), issuer)
	if err != nil {
		t.Fatalf("oidc.NewProvider(%s) = %v", issuer, err)
	}
	return p.Verifier(&oidc.Config{ClientID: audience})
}

// mustVerify verifies tok with go-oidc and returns its claims.
func mustVerify(t *testing.T, v *oidc.IDTokenVerifier, tok string) map[string]any {
	t.Helper()
	idt, err := v.Verify(oidc.ClientContext(t.Context(), nil), tok)
	if err != nil {
		t.Fatalf("go-oidc Verify() = %v", err)
	}
	var c map[string]any
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	formActionTestRE = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	requestTestRE    = regexp.MustCompile(`name="request" value="([^"]*)"`)
)

// authorize GETs the authorize endpoint with params and returns the
// response (not following redirects) and its body.
func authorize(t *testing.T, s *Server, endpoint string, params url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := s.HTTPClient().Get(endpoint + "?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, sb.String()
}

// pickUser submits the sign-in page as a user would by clicking the
// button for userName, and returns the redirect's Location.
func pickUser(t *testing.T, s *Server, endpoint, page, userName string, mfa bool) *url.URL {
	t.Helper()
	action := formActionTestRE.FindStringSubmatch(page)
	req := requestTestRE.FindStringSubmatch(page)
	if action == nil || req == nil {
		t.Fatalf("no sign-in form in page:\n%s", page)
	}
	base, _ := url.Parse(endpoint)
	target, _ := base.Parse(html.UnescapeString(action[1]))
	form := url.Values{"request": {html.UnescapeString(req[1])}, "user": {userName}}
	if mfa {
		form.Set("mfa", "on")
	}
	resp, err := s.HTTPClient().PostForm(target.String(), form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("sign-in POST status = %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// pkce returns a verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = randomToken(32)
	return verifier, s256(verifier)
}

func ioCopy(w *strings.Builder, r *http.Response) (int64, error) {
	b := make([]byte, 32<<10)
	var n int64
	for {
		k, err := r.Body.Read(b)
		w.Write(b[:k])
		n += int64(k)
		if err != nil {
			return n, nil
		}
	}
}
