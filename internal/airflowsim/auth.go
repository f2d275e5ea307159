package airflowsim

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// tokenCookie is the cookie Airflow 3's UI keeps its JWT in.
const tokenCookie = "_token"

// maxJWKSBody bounds a fetched or read key set.
const maxJWKSBody = 1 << 20

// authenticate checks the caller of a non-public API route: basic auth on
// v1, a JWT on v2. denied is the answer for a rejected caller.
func (s *Server) authenticate(api string, r *http.Request) (who Identity, denied *reply) {
	if api == APIv1 {
		user, ok := s.checkBasic(r)
		if !ok {
			rep := v1ProblemReply(http.StatusUnauthorized, "Unauthorized", werkzeugUnauthorized)
			rep.header = http.Header{"Www-Authenticate": {"Basic"}}
			return Identity{}, &rep
		}
		return Identity{User: user}, nil
	}
	claims, err := s.tokens.verifyRequest(r)
	if err != nil {
		rep := reply{status: http.StatusForbidden, body: v2Error{Detail: "Invalid JWT token"}}
		switch {
		case errors.Is(err, errNoToken):
			rep = reply{status: http.StatusUnauthorized, body: v2Error{Detail: "Not authenticated"}}
		case errors.Is(err, errTokenExpired):
			rep = reply{status: http.StatusUnauthorized, body: v2Error{Detail: "Token Expired"}}
		}
		return Identity{}, &rep
	}
	return Identity{Subject: claims.sub, Role: claims.role}, nil
}

// checkBasic is Airflow 2's basic_auth backend against the one service
// account: both the username and the current password must match.
func (s *Server) checkBasic(r *http.Request) (string, bool) {
	user, pass, ok := r.BasicAuth()
	if !ok || user == "" || pass == "" || s.username == "" {
		return "", false
	}
	s.mu.Lock()
	want := s.st.password
	s.mu.Unlock()
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(s.username))
	passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(want))
	if userOK&passOK != 1 {
		return "", false
	}
	s.mu.Lock()
	s.st.account.loginCount++
	at := s.now().UTC().Truncate(time.Microsecond)
	s.st.account.lastLogin = &at
	s.mu.Unlock()
	return user, true
}

// Reasons a JWT is refused. Only errTokenExpired and errNoToken change
// the answer (401 instead of 403), as in Airflow's resolve_user_from_token.
var (
	errNoToken      = errors.New("airflowsim: no token")
	errTokenExpired = errors.New("airflowsim: token expired")
	errTokenInvalid = errors.New("airflowsim: invalid token")
	errUnknownKey   = errors.New("airflowsim: no trusted key with this kid")
)

// tokenClaims are the verified claims the double uses.
type tokenClaims struct {
	sub, role string
}

// keySource finds a trusted verification key by kid.
type keySource interface {
	key(ctx context.Context, kid string) (*jose.JSONWebKey, error)
}

// tokenVerifier is Airflow 3's JWTValidator configured with
// trusted_jwks_url (or a static key set).
type tokenVerifier struct {
	keys     keySource
	algs     []jose.SignatureAlgorithm
	audience string
	issuer   string
	leeway   time.Duration
	jwksURL  string
	now      func() time.Time
}

func newTokenVerifier(opts Options, now func() time.Time) *tokenVerifier {
	tv := &tokenVerifier{
		algs:     opts.Algorithms,
		audience: opts.Audience,
		issuer:   opts.Issuer,
		leeway:   opts.Leeway,
		jwksURL:  opts.JWKSURL,
		now:      now,
	}
	if tv.algs == nil {
		tv.algs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}
	}
	if tv.audience == "" {
		tv.audience = DefaultAudience
	}
	if tv.leeway == 0 {
		tv.leeway = DefaultLeeway
	}
	switch {
	case opts.JWKSURL != "":
		refresh := opts.JWKSRefreshInterval
		if refresh == 0 {
			refresh = DefaultJWKSRefreshInterval
		}
		client := opts.HTTPClient
		if client == nil {
			client = http.DefaultClient
		}
		tv.keys = &remoteKeys{url: opts.JWKSURL, client: client, now: now, refresh: refresh, retry: 10 * time.Second}
	case opts.KeySet != nil:
		set := *opts.KeySet
		set.Keys = append([]jose.JSONWebKey(nil), opts.KeySet.Keys...)
		tv.keys = staticKeys{set: &set}
	default:
		tv.keys = staticKeys{set: &jose.JSONWebKeySet{}}
	}
	return tv
}

// token picks the credential the way Airflow 3.1 does: the _token cookie
// first (its refresh middleware resolves the user from it before any
// header is looked at), then an Authorization: Bearer header.
func token(r *http.Request) string {
	if c, err := r.Cookie(tokenCookie); err == nil && c.Value != "" {
		return c.Value
	}
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if ok && strings.EqualFold(scheme, "bearer") {
		return strings.TrimSpace(cred)
	}
	return ""
}

func (tv *tokenVerifier) verifyRequest(r *http.Request) (tokenClaims, error) {
	raw := token(r)
	if raw == "" {
		return tokenClaims{}, errNoToken
	}
	return tv.verify(r.Context(), raw)
}

// verify checks a compact JWS the way PyJWT does for Airflow: a kid is
// required, the signature must verify with the trusted key of that kid
// under an allowed algorithm, exp, iat and nbf must be present, iat and
// nbf may not lie in the future and exp not in the past (each with the
// leeway), aud must contain the audience and, if configured, iss must
// match. Airflow resolves the user from sub (and, for the simple auth
// manager, role), so sub is required here.
func (tv *tokenVerifier) verify(ctx context.Context, raw string) (tokenClaims, error) {
	jws, err := jose.ParseSignedCompact(raw, tv.algs)
	if err != nil {
		return tokenClaims{}, fmt.Errorf("%w: %v", errTokenInvalid, err)
	}
	if len(jws.Signatures) != 1 {
		return tokenClaims{}, errTokenInvalid
	}
	hdr := jws.Signatures[0].Protected
	if hdr.KeyID == "" {
		return tokenClaims{}, fmt.Errorf("%w: missing kid", errTokenInvalid)
	}
	key, err := tv.keys.key(ctx, hdr.KeyID)
	if err != nil {
		// Airflow raises KeyError here, which its handler does not map;
		// the double answers it like any other invalid token.
		return tokenClaims{}, fmt.Errorf("%w: %w", errTokenInvalid, err)
	}
	if (key.Algorithm != "" && key.Algorithm != hdr.Algorithm) || key.Use == "enc" {
		return tokenClaims{}, fmt.Errorf("%w: key does not allow %s", errTokenInvalid, hdr.Algorithm)
	}
	payload, err := jws.Verify(key.Public())
	if err != nil {
		return tokenClaims{}, fmt.Errorf("%w: %v", errTokenInvalid, err)
	}
	return tv.checkClaims(payload)
}

func (tv *tokenVerifier) checkClaims(payload []byte) (tokenClaims, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return tokenClaims{}, fmt.Errorf("%w: claims are not a JSON object", errTokenInvalid)
	}
	times := map[string]float64{}
	for _, name := range []string{"exp", "iat", "nbf"} {
		n, isNum := claims[name].(json.Number)
		f, err := strconv.ParseFloat(string(n), 64)
		if !isNum || err != nil {
			return tokenClaims{}, fmt.Errorf("%w: missing or malformed %s", errTokenInvalid, name)
		}
		times[name] = f
	}
	now := float64(tv.now().UnixNano()) / 1e9
	leeway := tv.leeway.Seconds()
	switch {
	case times["iat"] > now+leeway:
		return tokenClaims{}, fmt.Errorf("%w: issued in the future", errTokenInvalid)
	case times["nbf"] > now+leeway:
		return tokenClaims{}, fmt.Errorf("%w: not yet valid", errTokenInvalid)
	case times["exp"] <= now-leeway:
		return tokenClaims{}, errTokenExpired
	}
	if tv.issuer != "" {
		if iss, _ := claims["iss"].(string); iss != tv.issuer {
			return tokenClaims{}, fmt.Errorf("%w: wrong issuer", errTokenInvalid)
		}
	}
	if !hasAudience(claims["aud"], tv.audience) {
		return tokenClaims{}, fmt.Errorf("%w: wrong audience", errTokenInvalid)
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return tokenClaims{}, fmt.Errorf("%w: no subject", errTokenInvalid)
	}
	role, _ := claims["role"].(string)
	return tokenClaims{sub: sub, role: role}, nil
}

func hasAudience(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, v := range a {
			if s, ok := v.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

// staticKeys is a fixed trusted key set.
type staticKeys struct{ set *jose.JSONWebKeySet }

func (k staticKeys) key(_ context.Context, kid string) (*jose.JSONWebKey, error) {
	keys := k.set.Key(kid)
	if len(keys) == 0 {
		return nil, errUnknownKey
	}
	return &keys[0], nil
}

// remoteKeys is Airflow 3's JWKS class: an http(s) key set fetched on
// first use and again only once refresh has passed since the last
// successful fetch (and retry since the last attempt); an unknown kid
// never triggers a fetch. A local file is read once.
type remoteKeys struct {
	url     string
	client  *http.Client
	now     func() time.Time
	refresh time.Duration
	retry   time.Duration

	fetchMu sync.Mutex // serializes fetches

	mu          sync.Mutex // guards the fields below
	set         *jose.JSONWebKeySet
	fetchedAt   time.Time
	lastAttempt time.Time
}

func (k *remoteKeys) key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	if k.due() {
		k.fetchMu.Lock()
		if k.due() { // another request may have fetched meanwhile
			k.fetch(ctx)
		}
		k.fetchMu.Unlock()
	}
	k.mu.Lock()
	set := k.set
	k.mu.Unlock()
	if set == nil {
		return nil, errors.New("airflowsim: trusted JWKS never loaded")
	}
	return staticKeys{set: set}.key(ctx, kid)
}

func (k *remoteKeys) remote() bool {
	return strings.HasPrefix(k.url, "http://") || strings.HasPrefix(k.url, "https://")
}

// due is Airflow's _should_fetch_jwks.
func (k *remoteKeys) due() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.set == nil {
		return !k.remote() || k.lastAttempt.IsZero() || k.now().Sub(k.lastAttempt) > k.retry
	}
	if !k.remote() {
		return false
	}
	now := k.now()
	return now.Sub(k.fetchedAt) > k.refresh && now.Sub(k.lastAttempt) > k.retry
}

// fetch loads the key set; on failure the previous set stays in use.
func (k *remoteKeys) fetch(ctx context.Context) {
	k.mu.Lock()
	k.lastAttempt = k.now()
	k.mu.Unlock()
	var body []byte
	var err error
	if k.remote() {
		body, err = k.get(ctx)
	} else {
		body, err = readFileLimited(k.url, maxJWKSBody)
	}
	if err != nil {
		return
	}
	var set jose.JSONWebKeySet
	if json.Unmarshal(body, &set) != nil {
		return
	}
	k.mu.Lock()
	k.set, k.fetchedAt = &set, k.now()
	k.mu.Unlock()
}

func (k *remoteKeys) get(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching keys: %s", resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxJWKSBody))
}

func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}
