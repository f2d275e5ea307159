package idp

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSignInPageAllowsTheRedirect: browsers apply the sign-in page's
// form-action to the redirect that follows the form post, so the
// application's (validated) redirect origin must be allowed; other origins
// stay forbidden.
func TestSignInPageAllowsTheRedirect(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sum := sha256.Sum256([]byte(strings.Repeat("v", 50)))
	q := url.Values{
		"client_id":             {info.Apps["airgate"].ClientID},
		"response_type":         {"code"},
		"redirect_uri":          {"http://127.0.0.1:4567/oauth2/callback"},
		"scope":                 {"openid"},
		"state":                 {"s"},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	resp, err := s.HTTPClient().Get(info.AuthorizeEndpoint + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize = %d", resp.StatusCode)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "form-action 'self' http://127.0.0.1:4567") || strings.Contains(csp, "*") {
		t.Errorf("Content-Security-Policy = %q, want form-action limited to the emulator and the redirect origin", csp)
	}
}
