package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSessionDefaults(t *testing.T) {
	c, err := Parse(strings.NewReader(validYAML))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Session
	if s.CookieName != "airgate" || s.Lifetime.D() != 8*time.Hour || s.RefreshMargin.D() != 5*time.Minute ||
		s.RevocationCache.D() != 5*time.Second || s.Contact == "" || len(s.Scopes) != 0 || s.PostLogoutRedirectURI != "" {
		t.Errorf("session defaults = %+v", s)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
}

func TestSessionValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want string // "" means valid
	}{
		{"all set", "session: {cookie_name: ag, lifetime: 12h, refresh_margin: 10m, scopes: [openid, offline_access, 'api://airgate/access_as_user'], contact: 'ops (#help)', revocation_cache: 2s, post_logout_redirect_uri: 'https://airflow.example.com/oauth2/callback'}", ""},
		{"cookie name with a prefix", "session: {cookie_name: __Host-ag}", `session.cookie_name: "__Host-ag" must not carry`},
		{"cookie name with a semicolon", "session: {cookie_name: 'a;b'}", `session.cookie_name: "a;b" must be 1 to 32`},
		{"empty cookie name", "session: {cookie_name: ''}", "session.cookie_name"},
		{"lifetime too short", "session: {lifetime: 1m}", `session.lifetime: "1m0s" must be between 5m and 168h`},
		{"lifetime too long", "session: {lifetime: 200h}", "session.lifetime"},
		{"margin past lifetime", "session: {lifetime: 10m, refresh_margin: 10m}", "session.refresh_margin"},
		{"negative margin", "session: {refresh_margin: -1s}", "session.refresh_margin"},
		{"scope with a space", "session: {scopes: ['openid profile']}", `session.scopes[0]: "openid profile" is not a scope`},
		{"revocation cache too long", "session: {revocation_cache: 5m}", "session.revocation_cache"},
		{"zero revocation cache", "session: {revocation_cache: 0s}", "session.revocation_cache"},
		{"plain http post-logout URI outside dev", "session: {post_logout_redirect_uri: 'http://airflow.example.com/'}", "session.post_logout_redirect_uri"},
		{"contact too long", "session: {contact: '" + strings.Repeat("x", 201) + "'}", "session.contact"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(validYAML + tc.yaml + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate() = %v does not wrap ErrInvalid", err)
			}
		})
	}
}
