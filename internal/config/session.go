package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Session configures browser single sign-on: the OpenID Connect
// authorization code flow (with PKCE) against Entra ID, and the sealed
// session cookies that follow it. Browser sign-in is available when
// entra.client_secret is set; bearer-token callers are unaffected.
type Session struct {
	// CookieName is the base name of airgate's cookies: the session is
	// <name>_session_0, _1 ... (split when large), a sign-in in progress
	// <name>_login_<id>. Outside dev mode the cookies are Secure and the
	// names get the __Host- prefix. Default "airgate".
	CookieName string `yaml:"cookie_name"`
	// Lifetime is how long a session lasts after sign-in, however often
	// its tokens are refreshed; then the user signs in again. Default 8h,
	// at most 7 days.
	Lifetime Duration `yaml:"lifetime"`
	// RefreshMargin is how long before the Entra access token expires that
	// airgate redeems the refresh token it keeps sealed in the session
	// (silent refresh). Default 5m.
	RefreshMargin Duration `yaml:"refresh_margin"`
	// Scopes are the scopes asked at sign-in. Default "openid profile
	// offline_access" plus <api>/access_as_user, where <api> is the first
	// entra.audiences entry that is an App ID URI (api://...), else the
	// client id. offline_access is needed for silent refresh.
	Scopes []string `yaml:"scopes"`
	// Contact says whom to ask for access on access-denied pages, e.g.
	// "the Data Platform team (#airflow-help)". Default "your Airflow
	// platform team".
	Contact string `yaml:"contact"`
	// RevocationCache is how long a replica may use its copy of the
	// revoked-session list before reading it again from the state
	// database: a revocation takes effect on every replica within it.
	// Default 5s, at most 1m.
	RevocationCache Duration `yaml:"revocation_cache"`
	// PostLogoutRedirectURI is where Entra sends the browser after
	// sign-out. It must be a registered redirect URI of airgate's app.
	// Default <public URL>/oauth2/callback, which then shows a
	// signed-out page.
	PostLogoutRedirectURI string `yaml:"post_logout_redirect_uri"`
}

// Session defaults.
const (
	defaultSessionLifetime = 8 * time.Hour
	maxSessionLifetime     = 7 * 24 * time.Hour
	defaultRefreshMargin   = 5 * time.Minute
	defaultRevocationCache = 5 * time.Second
)

// defaultSession returns the session section's defaults.
func defaultSession() Session {
	return Session{
		CookieName:      "airgate",
		Lifetime:        Duration(defaultSessionLifetime),
		RefreshMargin:   Duration(defaultRefreshMargin),
		Contact:         "your Airflow platform team",
		RevocationCache: Duration(defaultRevocationCache),
	}
}

// cookieNameRE allows what survives every browser and proxy in a cookie
// name: letters, digits, '-' and '_'.
var cookieNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// validateSession checks the session section.
func (c *Config) validateSession(errs *[]error) {
	s := c.Session
	bad := func(field string, value any, msg string) {
		*errs = append(*errs, &FieldError{Field: "session." + field, Value: value, Msg: msg})
	}
	if !cookieNameRE.MatchString(s.CookieName) {
		bad("cookie_name", s.CookieName, "must be 1 to 32 letters, digits, '-' or '_'")
	} else if strings.HasPrefix(strings.ToLower(s.CookieName), "__host-") || strings.HasPrefix(strings.ToLower(s.CookieName), "__secure-") {
		bad("cookie_name", s.CookieName, "must not carry a __Host-/__Secure- prefix: airgate adds it")
	}
	if d := s.Lifetime.D(); d < 5*time.Minute || d > maxSessionLifetime {
		bad("lifetime", d.String(), "must be between 5m and 168h")
	}
	if d := s.RefreshMargin.D(); d < 0 || d >= s.Lifetime.D() || d > time.Hour {
		bad("refresh_margin", d.String(), "must be between 0 and 1h and shorter than the lifetime")
	}
	for i, sc := range s.Scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n\"\\") {
			bad(fmt.Sprintf("scopes[%d]", i), sc, "is not a scope (no spaces or quotes)")
		}
	}
	if len(s.Contact) > 200 {
		bad("contact", s.Contact[:40]+"...", "is longer than 200 characters")
	}
	if d := s.RevocationCache.D(); d <= 0 || d > time.Minute {
		bad("revocation_cache", d.String(), "must be between 1ns and 1m")
	}
	if s.PostLogoutRedirectURI != "" {
		c.checkURL(errs, "session.post_logout_redirect_uri", s.PostLogoutRedirectURI, true)
	}
}
