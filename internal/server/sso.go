package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/sync/singleflight"

	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/secrets"
	"github.com/airgate/airgate/internal/session"
	"github.com/airgate/airgate/internal/sqlstore"
)

// Browser single sign-on: the OpenID Connect authorization code flow with
// PKCE (S256), state and nonce against Entra ID, sealed session cookies,
// silent refresh, sign-out here and at Entra, and revocation (sso_*.go).
//
//	GET  /oauth2/authorize?rd=/path   start: seal state, nonce and PKCE
//	                                  verifier in a short-lived cookie,
//	                                  redirect to Entra's authorize endpoint
//	GET  /oauth2/callback             check state, redeem the code (client
//	                                  secret + verifier), verify the ID token
//	                                  (go-oidc, nonce) and the access token
//	                                  (the gateway's Entra verifier), set the
//	                                  session, go back to rd
//	GET|POST /oauth2/sign_out         end the session here (revoked on every
//	                                  replica) and at Entra
//	POST /-/admin/sessions/revoke     end a user's sessions (Admin only)

// ssoState is what browser sign-in keeps for the life of the process: the
// revocation list in the state database.
type ssoState struct {
	db    *sqlstore.DB
	store *session.Store
}

// openSSOState opens the state database (the audit database's DSN: one
// SQLite file, or the PostgreSQL database replicas share) and its
// revocation table.
func openSSOState(ctx context.Context, cfg *config.Config, o Options) (*ssoState, error) {
	db, err := sqlstore.Open(ctx, cfg.Path(cfg.Audit.DB))
	if err != nil {
		return nil, fmt.Errorf("server: state database: %w", err)
	}
	st, err := session.OpenStore(ctx, db, session.StoreOptions{CacheTTL: cfg.Session.RevocationCache.D(), Now: o.Now})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("server: %w", err)
	}
	return &ssoState{db: db, store: st}, nil
}

func (s *ssoState) close() {
	if s != nil {
		s.db.Close()
	}
}

// sessionKeys adapts the keyring to session.Keys: the current session key
// seals, any published one opens.
type sessionKeys struct{ ring *secrets.Keyring }

func (k sessionKeys) SealingKey() (string, []byte, error) {
	key, err := k.ring.Current(secrets.UseSession)
	if err != nil {
		return "", nil, err
	}
	return key.ID, key.Secret(), nil
}

func (k sessionKeys) OpeningKey(id string) ([]byte, bool) {
	for _, key := range k.ring.Published(secrets.UseSession) {
		if key.ID == id {
			return key.Secret(), true
		}
	}
	return nil, false
}

// ssoRuntime is browser sign-in under one configuration. It is nil when
// entra.client_secret is not set (no sign-in; bearer tokens only).
type ssoRuntime struct {
	clientID   string
	secret     string
	issuer     string   // <authority>/<tenant>/v2.0
	scopes     []string // asked at sign-in and refresh
	publicURL  string   // "" derives the base URL from each request
	postLogout string   // "" means <base>/oauth2/callback
	lifetime   time.Duration
	margin     time.Duration
	contact    string
	client     *http.Client // Entra
	mgr        *session.Manager
	csrf       *http.CrossOriginProtection
	now        func() time.Time

	sf   singleflight.Group // discovery and refreshes
	prov atomic.Pointer[oidcProvider]

	// cred is the rotated client secret, when rotation stores it
	// (rotation_credentials.go).
	cred *versionedSecret
}

// oidcProvider is Entra's discovered configuration.
type oidcProvider struct {
	authURL, tokenURL, endSession string
	verifier                      *oidc.IDTokenVerifier
}

// buildSSO derives browser sign-in from cfg; nil when it is not configured.
func (s *Server) buildSSO(cfg *config.Config, o Options, client *http.Client) (*ssoRuntime, error) {
	secret, err := cfg.Read(cfg.Entra.ClientSecret)
	if errors.Is(err, config.ErrNoSecret) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("server: entra.client_secret (needed for browser sign-in): %w", err)
	}
	sc := cfg.Session
	sr := &ssoRuntime{
		clientID:   cfg.Entra.ClientID,
		secret:     secret,
		cred:       s.ssoCredential(),
		issuer:     strings.TrimSuffix(cfg.Entra.Authority, "/") + "/" + cfg.Entra.TenantID + "/v2.0",
		scopes:     sc.Scopes,
		publicURL:  strings.TrimSuffix(cfg.PublicURL, "/"),
		postLogout: sc.PostLogoutRedirectURI,
		lifetime:   sc.Lifetime.D(),
		margin:     sc.RefreshMargin.D(),
		contact:    sc.Contact,
		client:     client,
		csrf:       http.NewCrossOriginProtection(),
		now:        o.Now,
	}
	if len(sr.scopes) == 0 {
		api := cfg.Entra.ClientID
		for _, a := range cfg.Entra.Audiences {
			if strings.HasPrefix(a, "api://") {
				api = strings.TrimSuffix(a, "/")
				break
			}
		}
		sr.scopes = []string{"openid", "profile", "offline_access", api + "/access_as_user"}
	}
	// Cookies are Secure outside dev mode; in dev mode when the public URL
	// is https.
	secure := !cfg.Dev || strings.HasPrefix(sr.publicURL, "https://")
	if sr.publicURL != "" {
		if err := sr.csrf.AddTrustedOrigin(sr.publicURL); err != nil {
			return nil, fmt.Errorf("server: public_url as a trusted origin: %w", err)
		}
	}
	sr.mgr, err = session.New(session.Options{Keys: sessionKeys{s.keys}, CookieName: sc.CookieName, Secure: secure, Now: o.Now})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return sr, nil
}

// maxDiscovery bounds Entra's discovery document.
const maxDiscovery = 1 << 20

// provider returns Entra's configuration, discovering it once (and again
// after a failure).
func (sr *ssoRuntime) provider(ctx context.Context) (*oidcProvider, error) {
	if p := sr.prov.Load(); p != nil {
		return p, nil
	}
	ch := sr.sf.DoChan("discover", func() (any, error) {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		p, err := sr.discover(dctx)
		if err == nil {
			sr.prov.Store(p)
		}
		return p, err
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*oidcProvider), nil
	}
}

func (sr *ssoRuntime) discover(ctx context.Context) (*oidcProvider, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, sr.issuer+"/.well-known/openid-configuration", nil)
	if err != nil {
		return nil, err
	}
	resp, err := sr.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching Entra's OpenID configuration: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscovery+1))
	if err != nil || len(body) > maxDiscovery {
		return nil, fmt.Errorf("reading Entra's OpenID configuration: too large or unreadable")
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("Entra's OpenID configuration answered %d", resp.StatusCode)
	}
	var doc struct {
		Issuer     string `json:"issuer"`
		AuthURL    string `json:"authorization_endpoint"`
		TokenURL   string `json:"token_endpoint"`
		JWKSURL    string `json:"jwks_uri"`
		EndSession string `json:"end_session_endpoint"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decoding Entra's OpenID configuration: %w", err)
	}
	if doc.Issuer != sr.issuer {
		return nil, fmt.Errorf("Entra's OpenID configuration names issuer %q, want %q", doc.Issuer, sr.issuer)
	}
	for name, u := range map[string]string{"authorization_endpoint": doc.AuthURL, "token_endpoint": doc.TokenURL, "jwks_uri": doc.JWKSURL} {
		if pu, err := url.Parse(u); err != nil || pu.Host == "" || (pu.Scheme != "https" && pu.Scheme != "http") {
			return nil, fmt.Errorf("Entra's OpenID configuration has no valid %s", name)
		}
	}
	pc := oidc.ProviderConfig{IssuerURL: doc.Issuer, AuthURL: doc.AuthURL, TokenURL: doc.TokenURL, JWKSURL: doc.JWKSURL, Algorithms: []string{oidc.RS256}}
	// The key set keeps this context for its own fetches: only the client
	// value, no deadline.
	prov := pc.NewProvider(oidc.ClientContext(context.Background(), sr.client))
	return &oidcProvider{
		authURL:    doc.AuthURL,
		tokenURL:   doc.TokenURL,
		endSession: doc.EndSession,
		verifier:   prov.Verifier(&oidc.Config{ClientID: sr.clientID, SupportedSigningAlgs: []string{oidc.RS256}, Now: sr.now}),
	}, nil
}

// baseURL is the gateway's external origin as the browser sees it: the
// configured public_url, else the scheme and host of the request, taken
// from forwarding headers only when a trusted proxy sent them.
func (sr *ssoRuntime) baseURL(rt *runtime, r *http.Request) (string, error) {
	if sr.publicURL != "" {
		return sr.publicURL, nil
	}
	host := rt.trusted.forwardedHost(r)
	u, err := url.Parse("http://" + host)
	if host == "" || err != nil || u.Host != host || u.User != nil || u.Path != "" || strings.ContainsAny(host, " /\\@?#") {
		return "", errors.New("the request's host is not a valid host name")
	}
	return rt.trusted.forwardedProto(r) + "://" + host, nil
}

// randomToken returns n random bytes, base64url.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// safeReturnTo accepts only a same-origin absolute path to go back to after
// sign-in: no scheme, no host, no "//" or "/\" (which browsers read as
// another host), no control characters. Anything else becomes "/".
func safeReturnTo(rd string) string {
	if rd == "" || len(rd) > 2048 || rd[0] != '/' {
		return "/"
	}
	if len(rd) > 1 && (rd[1] == '/' || rd[1] == '\\') {
		return "/"
	}
	for _, c := range rd {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(rd)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	// Paths under airgate's own sign-in routes would loop.
	if strings.HasPrefix(u.Path, "/oauth2/") {
		return "/"
	}
	return rd
}
