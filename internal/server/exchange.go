package server

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/authn"
	"github.com/airgate/airgate/internal/catalog"
	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/identity"
	"github.com/airgate/airgate/internal/secrets"
	"github.com/airgate/airgate/internal/tokens"
)

// exchangeRuntime is the RFC 8693 token exchange of one runtime: the
// exchanger, the verifier of the tokens it issues, and the state store of
// revocations and used subject tokens. It is immutable after
// buildExchange.
type exchangeRuntime struct {
	x         *tokens.Exchanger
	verifier  *tokens.Verifier
	store     *tokens.Store
	issuer    string
	audiences []string
	maxTTL    time.Duration
	skew      time.Duration
	// requireClient makes every exchange authenticate its client (an
	// actor token or client credentials).
	requireClient bool
	// clients maps a client id to the SHA-256 of its secret.
	clients map[string][sha256.Size]byte
}

// KindTokenRevocation records a revocation made through /oauth2/revoke.
const KindTokenRevocation audit.Kind = "token-revocation"

// ReasonScopeNotGranted denies a request made with an exchanged token
// whose scope does not cover it.
const ReasonScopeNotGranted = "scope-not-granted"

// buildExchange sets rt.bearer, the verifier of bearer tokens: the Entra
// verifier alone, or, with the exchange enabled, authn.Multi routing
// airgate's own issuer to the exchanged-token verifier. It opens the
// exchange's state store, which rt.close closes.
func (s *Server) buildExchange(rt *runtime, cfg *config.Config, o Options) error {
	rt.bearer = rt.verifier
	e := cfg.Exchange
	if !e.Enabled {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := tokens.OpenStore(ctx, cfg.ExchangeStateDB(), tokens.StoreOptions{
		MaxStale: e.RevocationMaxStaleness.D(),
		Now:      o.Now,
	})
	if err != nil {
		return fmt.Errorf("server: exchange state: %w", err)
	}
	ex := &exchangeRuntime{
		store:         store,
		issuer:        cfg.IssuerURL(),
		audiences:     e.Audiences,
		maxTTL:        e.MaxTTL.D(),
		skew:          cfg.Entra.ClockSkew.D(),
		requireClient: e.RequireClientAuth,
		clients:       map[string][sha256.Size]byte{},
	}
	for i, cl := range e.Clients {
		secret, err := cfg.Read(cl.Secret)
		if err != nil {
			store.Close()
			return fmt.Errorf("server: exchange.clients[%d].secret: %w", i, err)
		}
		ex.clients[cl.ID] = sha256.Sum256([]byte(secret))
	}
	api := catalog.V2
	if cfg.Upstream.AirflowVersion == 2 {
		api = catalog.V1
	}
	xo := tokens.ExchangeOptions{
		Issuer:        ex.issuer,
		Audiences:     e.Audiences,
		MaxTTL:        ex.maxTTL,
		ScheduleGrace: e.ScheduleGrace.D(),
		API:           api,
		Catalog:       rt.cat,
		Keys:          keySource{s.keys},
		Authorizer:    exchangeAuthorizer{rt},
		DAGs:          dagSchedules{rt.dags},
		Limiter:       tokens.NewLimiter(e.RateLimit.PerMinute, e.RateLimit.Burst),
		AllowedActors: e.AllowedActors,
		Now:           o.Now,
	}
	if e.SingleUseSubjectTokens {
		xo.Used = store
	}
	if ex.x, err = tokens.NewExchanger(xo); err != nil {
		store.Close()
		return fmt.Errorf("server: %w", err)
	}
	if ex.verifier, err = tokens.NewVerifier(tokens.VerifyOptions{
		Issuer:      ex.issuer,
		Audiences:   e.Audiences,
		Keys:        tokenKeys{ring: s.keys, now: o.Now},
		Revocations: store,
		ClockSkew:   ex.skew,
		Fingerprint: authn.Fingerprint,
		Now:         o.Now,
	}); err != nil {
		store.Close()
		return fmt.Errorf("server: %w", err)
	}
	rt.exchange = ex
	rt.bearer = &authn.Multi{
		ByIssuer: map[string]authn.TokenVerifier{ex.issuer: exchangedVerifier{ex.verifier}},
		Fallback: rt.verifier,
	}
	return nil
}

// close stops the exchange's background work; nil-safe.
func (ex *exchangeRuntime) close() {
	if ex != nil {
		ex.store.Close()
	}
}

// exchangedVerifier adapts the exchanged-token verifier to authn's
// contract: rejections become *authn.Error with the same code, so the
// pipeline answers 401 for them; a revocation check that could not run
// stays a plain error (503).
type exchangedVerifier struct{ v *tokens.Verifier }

func (e exchangedVerifier) Verify(ctx context.Context, raw string) (*identity.Principal, error) {
	p, err := e.v.Verify(ctx, raw)
	var ve *tokens.VerifyError
	if errors.As(err, &ve) {
		return nil, &authn.Error{Code: authn.Code(ve.Code), Err: ve.Err}
	}
	return p, err
}

// tokenKeys adapts the keyring to tokens.KeyLookup: published token keys
// only.
type tokenKeys struct {
	ring *secrets.Keyring
	now  func() time.Time
}

func (k tokenKeys) VerificationKey(kid string) (crypto.PublicKey, string, bool) {
	key, ok := k.ring.Lookup(kid)
	if !ok || key.Use != secrets.UseToken || (!key.UnpublishAt.IsZero() && !k.now().Before(key.UnpublishAt)) {
		return nil, "", false
	}
	return key.Public(), key.Alg, true
}

// dagSchedules adapts the DAG cache to tokens.DAGSource.
type dagSchedules struct{ c *dagCache }

func (d dagSchedules) DAGs(ctx context.Context) (map[string]json.RawMessage, error) {
	dags, err := d.c.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(dags))
	for id, m := range dags {
		out[id] = m.Schedule
	}
	return out, nil
}

func (d dagSchedules) DAG(ctx context.Context, id string) (json.RawMessage, bool, error) {
	m, ok, err := d.c.lookup(ctx, id)
	return m.Schedule, ok, err
}

// maxExchangeBody bounds a token endpoint request body.
const maxExchangeBody = 64 << 10

// oauthError is an RFC 6749 §5.2 error response.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeOAuthError(w http.ResponseWriter, status int, code tokens.ErrorCode, desc string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	b, _ := json.Marshal(oauthError{Error: string(code), Description: desc})
	_, _ = w.Write(append(b, '\n'))
}

// exchangeResponse is the RFC 8693 §2.2.1 response.
type exchangeResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	Scope           string `json:"scope"`
}

// exchangeAttempt collects what the audit record of one exchange says.
type exchangeAttempt struct {
	id       string
	start    time.Time
	rt       *runtime
	r        *http.Request
	subject  *identity.Principal
	actor    *identity.Principal
	clientID string
	scope    string
	audience string
	subjFP   string
}

// serveExchange is POST /oauth2/token with the token-exchange grant.
func (s *Server) serveExchange(w http.ResponseWriter, r *http.Request) {
	rt := s.rt.Load()
	at := &exchangeAttempt{id: s.ids.next(), start: rt.now(), rt: rt, r: r}
	w.Header().Set("X-Request-Id", at.id)
	ex := rt.exchange
	if ex == nil {
		writeOAuthError(w, http.StatusNotFound, tokens.ErrUnsupportedGrantType, "token exchange is not enabled on this gateway")
		return
	}
	fail := func(status int, e *tokens.Error) {
		s.auditExchange(at, nil, e)
		if e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
		}
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="airgate"`)
		}
		writeOAuthError(w, status, e.Code, e.Description)
	}
	bad := func(code tokens.ErrorCode, reason, desc string) {
		status := http.StatusBadRequest
		if code == tokens.ErrInvalidClient {
			status = http.StatusUnauthorized
		}
		fail(status, &tokens.Error{Code: code, Description: desc, Reasons: []string{reason}})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, http.StatusMethodNotAllowed, tokens.ErrInvalidRequest, "the token endpoint takes POST")
		return
	}
	form, err := readForm(w, r)
	if err != nil {
		bad(tokens.ErrInvalidRequest, "bad-request-body", err.Error())
		return
	}
	at.scope = truncateString(form.Get("scope"), 1024)
	if gt := form.Get("grant_type"); gt != tokens.GrantTypeTokenExchange {
		bad(tokens.ErrUnsupportedGrantType, "grant-type-unsupported", "grant_type must be "+tokens.GrantTypeTokenExchange)
		return
	}

	// Client authentication.
	clientID, authenticated, cerr := ex.authenticateClient(r, form)
	if cerr != "" {
		bad(tokens.ErrInvalidClient, "client-auth-failed", cerr)
		return
	}
	if authenticated {
		at.clientID = clientID
	}

	subjectToken, subjectType := form.Get("subject_token"), form.Get("subject_token_type")
	if subjectToken == "" || subjectType == "" {
		bad(tokens.ErrInvalidRequest, "subject-token-missing", "subject_token and subject_token_type are required")
		return
	}
	if !acceptedTokenType(subjectType) {
		bad(tokens.ErrInvalidRequest, "token-type-unsupported", "subject_token_type must be "+tokens.TokenTypeAccessToken+" or "+tokens.TokenTypeJWT)
		return
	}
	actorToken, actorType := form.Get("actor_token"), form.Get("actor_token_type")
	if (actorToken == "") != (actorType == "") {
		bad(tokens.ErrInvalidRequest, "actor-token-incomplete", "actor_token and actor_token_type go together")
		return
	}
	if actorToken != "" && !acceptedTokenType(actorType) {
		bad(tokens.ErrInvalidRequest, "token-type-unsupported", "actor_token_type must be "+tokens.TokenTypeAccessToken+" or "+tokens.TokenTypeJWT)
		return
	}
	if ex.requireClient && !authenticated && actorToken == "" {
		bad(tokens.ErrInvalidClient, "client-auth-required", "this gateway requires the exchanging party to authenticate: send an actor_token or client credentials")
		return
	}

	at.subjFP = authn.Fingerprint(subjectToken)
	sub, status, e := ex.verifyEntra(r.Context(), rt, subjectToken, "subject")
	if e != nil {
		if status == http.StatusServiceUnavailable {
			s.log.Error("exchange: subject token check could not run", "request_id", at.id)
		}
		fail(status, e)
		return
	}
	at.subject = sub
	var act *identity.Principal
	if actorToken != "" {
		if act, status, e = ex.verifyEntra(r.Context(), rt, actorToken, "actor"); e != nil {
			fail(status, e)
			return
		}
		at.actor = act
	}

	var ttl time.Duration
	if v := form.Get("requested_ttl"); v != "" {
		if ttl, err = parseTTL(v); err != nil {
			bad(tokens.ErrInvalidRequest, "bad-ttl", "requested_ttl must be a number of seconds or a duration such as 15m")
			return
		}
	}
	aud, tgtErr := ex.target(form)
	if tgtErr != "" {
		bad(tokens.ErrInvalidTarget, "target-invalid", tgtErr)
		return
	}
	at.audience = aud
	sum := sha256.Sum256([]byte(subjectToken))
	xctx := context.WithValue(r.Context(), exchangeIPKey{}, rt.trusted.clientAddr(r))
	grant, err := ex.x.Exchange(xctx, tokens.ExchangeRequest{
		Subject:            sub,
		SubjectTokenHash:   hex.EncodeToString(sum[:]),
		Actor:              act,
		ClientID:           at.clientID,
		Scope:              form.Get("scope"),
		Audience:           aud,
		RequestedTTL:       ttl,
		RequestedTokenType: form.Get("requested_token_type"),
	})
	var te *tokens.Error
	switch {
	case errors.As(err, &te):
		status := http.StatusBadRequest
		switch te.Code {
		case tokens.ErrInvalidClient:
			status = http.StatusUnauthorized
		case tokens.ErrTemporarilyUnavailable:
			status = http.StatusTooManyRequests
		}
		fail(status, te)
		return
	case err != nil:
		s.log.Error("exchange could not be completed", "request_id", at.id, "err", err.Error())
		fail(http.StatusServiceUnavailable, &tokens.Error{Code: tokens.ErrTemporarilyUnavailable,
			Description: "the exchange could not be completed right now; retry later", Reasons: []string{"exchange-unavailable"}})
		return
	}
	// The grant is recorded durably before the token leaves: no token
	// exists that the audit log does not know.
	if !s.auditExchange(at, grant, nil) {
		s.metrics.auditErrs.Inc()
		writeOAuthError(w, http.StatusServiceUnavailable, tokens.ErrTemporarilyUnavailable, "the audit log cannot record this exchange, so no token is issued")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	b, _ := json.Marshal(exchangeResponse{
		AccessToken:     grant.Token,
		IssuedTokenType: grant.IssuedTokenType,
		TokenType:       "Bearer",
		ExpiresIn:       grant.ExpiresIn(),
		Scope:           grant.Scope.String(),
	})
	_, _ = w.Write(append(b, '\n'))
}

// readForm reads a bounded application/x-www-form-urlencoded body and
// refuses repeated parameters (RFC 6749 §3.2). The query string is
// ignored: credentials never travel in URLs.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, errors.New("the body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxExchangeBody))
	if err != nil {
		return nil, fmt.Errorf("the body could not be read or is larger than %d bytes", maxExchangeBody)
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errors.New("the body is not valid form encoding")
	}
	for k, v := range form {
		if len(v) > 1 {
			return nil, fmt.Errorf("parameter %q is repeated", truncateString(k, 40))
		}
	}
	return form, nil
}

func acceptedTokenType(t string) bool {
	return t == tokens.TokenTypeAccessToken || t == tokens.TokenTypeJWT
}

// authenticateClient checks client credentials sent with HTTP Basic
// (RFC 6749 §2.3.1) or as client_id and client_secret. It returns the
// client id and whether credentials were sent and are right; a non-empty
// problem means they were sent and are wrong. A client_id alone
// authenticates nothing.
func (ex *exchangeRuntime) authenticateClient(r *http.Request, form url.Values) (id string, ok bool, problem string) {
	user, pass, basic := r.BasicAuth()
	postID, postSecret := form.Get("client_id"), form.Get("client_secret")
	switch {
	case basic && postSecret != "":
		return "", false, "send client credentials once: HTTP Basic or the body, not both"
	case basic:
		// RFC 6749 §2.3.1: both are form-urlencoded in the header.
		if u, err := url.QueryUnescape(user); err == nil {
			user = u
		}
		if p, err := url.QueryUnescape(pass); err == nil {
			pass = p
		}
		id = user
	case postSecret != "":
		id, pass = postID, postSecret
	default:
		return "", false, ""
	}
	want, known := ex.clients[id]
	got := sha256.Sum256([]byte(pass))
	// Compare even for unknown clients, so that timing does not tell.
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !known {
		return "", false, "client authentication failed"
	}
	return id, true, ""
}

// verifyEntra verifies a subject or actor token with the Entra verifier
// only: airgate's own tokens are not exchanged again.
func (ex *exchangeRuntime) verifyEntra(ctx context.Context, rt *runtime, raw, role string) (*identity.Principal, int, *tokens.Error) {
	if iss, ok := peekIssuer(raw); ok && iss == ex.issuer {
		return nil, http.StatusBadRequest, &tokens.Error{Code: tokens.ErrInvalidGrant, Reasons: []string{role + "-token-is-airgate"},
			Description: "the " + role + " token is an airgate token: exchange the Microsoft Entra ID token instead"}
	}
	p, err := rt.verifier.Verify(ctx, raw)
	if err == nil {
		return p, 0, nil
	}
	code := authn.CodeOf(err)
	if code == "" {
		return nil, http.StatusServiceUnavailable, &tokens.Error{Code: tokens.ErrTemporarilyUnavailable, Reasons: []string{"keys-unavailable"},
			Description: "Microsoft Entra ID tokens cannot be checked right now; retry later"}
	}
	return nil, http.StatusBadRequest, &tokens.Error{Code: tokens.ErrInvalidGrant, Reasons: []string{role + "-token-rejected", string(code)},
		Description: "the " + role + " token was rejected (" + string(code) + ")"}
}

// target returns the requested audience: audience (at most one), or a
// resource naming one of the audiences or airgate's issuer.
func (ex *exchangeRuntime) target(form url.Values) (string, string) {
	aud, res := form.Get("audience"), form.Get("resource")
	if res != "" {
		switch {
		case strings.TrimSuffix(res, "/") == ex.issuer:
		case containsString(ex.audiences, res) && (aud == "" || aud == res):
			aud = res
		default:
			return "", "resource must be airgate's issuer or one of its audiences"
		}
	}
	return aud, ""
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseTTL reads requested_ttl: whole seconds, or a Go duration.
func parseTTL(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 || n > 366*24*3600 {
			return 0, errors.New("out of range")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, errors.New("not a positive duration")
	}
	return d, nil
}

func truncateString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// auditExchange appends the token-exchange record of a grant or a refusal
// durably and reports whether it was written.
func (s *Server) auditExchange(at *exchangeAttempt, g *tokens.Grant, e *tokens.Error) bool {
	rec := audit.Record{
		Kind:             audit.KindTokenExchange,
		Time:             at.start,
		RequestID:        at.id,
		SourceIP:         addrString(at.rt.trusted.clientAddr(at.r)),
		Method:           at.r.Method,
		Path:             requestPath(at.r),
		TokenFingerprint: at.subjFP,
		Detail:           map[string]string{},
	}
	if at.subject != nil {
		rec.Principal = exchangeAuditPrincipal(at.subject, at.actor)
	}
	if at.actor != nil {
		rec.Detail["actor_app_id"] = at.actor.AppID
		rec.Detail["actor_object_id"] = at.actor.ObjectID
	}
	if at.clientID != "" {
		rec.Detail["client_id"] = at.clientID
	}
	if at.scope != "" {
		rec.Detail["requested_scope"] = at.scope
	}
	if at.audience != "" {
		rec.Detail["audience"] = at.audience
	}
	if g != nil {
		rec.Decision = audit.DecisionAllow
		rec.Reasons = []string{"granted"}
		rec.ExchangeID = g.ID
		rec.Detail["scope"] = g.Scope.String()
		rec.Detail["audience"] = g.Audience
		rec.Detail["expires_in"] = strconv.FormatInt(g.ExpiresIn(), 10)
		rec.Detail["expires_at"] = g.Expiry.UTC().Format(time.RFC3339)
		rec.Detail["lifetime"] = g.Lifetime
	} else {
		rec.Decision = audit.DecisionDeny
		rec.Reasons = e.Reasons
		rec.Detail["error"] = string(e.Code)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(at.r.Context()), 10*time.Second)
	defer cancel()
	if _, err := s.audit.Append(ctx, rec); err != nil {
		s.log.Error("audit: token-exchange record not written", "request_id", at.id, "err", err.Error())
		return false
	}
	return true
}

// exchangeAuditPrincipal records the subject as it authenticated (user or
// app) and the actor's app id.
func exchangeAuditPrincipal(sub, act *identity.Principal) audit.Principal {
	ap := auditPrincipal(sub)
	if act != nil {
		ap.Actor = act.Name()
	}
	return ap
}

// peekIssuer returns a compact JWS's unverified iss, only to tell airgate's
// own tokens apart.
func peekIssuer(raw string) (string, bool) {
	c, _, _, _, err := tokens.Decode(raw)
	if err != nil || c.Issuer == "" {
		return "", false
	}
	return c.Issuer, true
}

// serveRevoke is POST /oauth2/revoke (RFC 7009) for exchanged tokens: the
// holder of a token may revoke it. The answer is 200 whether or not the
// token was valid (RFC 7009 §2.2); the revocation holds on this replica at
// once and on the others within the configured staleness.
func (s *Server) serveRevoke(w http.ResponseWriter, r *http.Request) {
	rt := s.rt.Load()
	id := s.ids.next()
	w.Header().Set("X-Request-Id", id)
	ex := rt.exchange
	if ex == nil {
		writeOAuthError(w, http.StatusNotFound, tokens.ErrInvalidRequest, "token exchange is not enabled on this gateway")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, http.StatusMethodNotAllowed, tokens.ErrInvalidRequest, "the revocation endpoint takes POST")
		return
	}
	form, err := readForm(w, r)
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, tokens.ErrInvalidRequest, err.Error())
		return
	}
	raw := form.Get("token")
	if raw == "" {
		writeOAuthError(w, http.StatusBadRequest, tokens.ErrInvalidRequest, "token is required")
		return
	}
	p, err := ex.verifier.Verify(r.Context(), raw)
	var ve *tokens.VerifyError
	switch {
	case errors.As(err, &ve):
		// Invalid, expired or already revoked: nothing to do.
		w.WriteHeader(http.StatusOK)
		return
	case err != nil:
		s.log.Error("revocation: token check could not run", "request_id", id, "err", err.Error())
		writeOAuthError(w, http.StatusServiceUnavailable, tokens.ErrTemporarilyUnavailable, "revocations cannot be recorded right now")
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if err := ex.store.RevokeJTI(ctx, p.Exchange.ID, "revoked by its holder", ex.maxTTL+ex.skew); err != nil {
		s.log.Error("revocation not recorded", "request_id", id, "err", err.Error())
		writeOAuthError(w, http.StatusServiceUnavailable, tokens.ErrTemporarilyUnavailable, "revocations cannot be recorded right now")
		return
	}
	rec := audit.Record{
		Kind:             KindTokenRevocation,
		Time:             rt.now(),
		RequestID:        id,
		Principal:        auditPrincipal(p),
		SourceIP:         addrString(rt.trusted.clientAddr(r)),
		Method:           r.Method,
		Path:             requestPath(r),
		Decision:         audit.DecisionAllow,
		Reasons:          []string{"revoked-by-holder"},
		TokenFingerprint: p.TokenFingerprint,
		ExchangeID:       p.Exchange.ID,
	}
	if _, err := s.audit.Append(ctx, rec); err != nil {
		s.metrics.auditErrs.Inc()
		s.log.Error("audit: token-revocation record not written", "request_id", id, "err", err.Error())
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// discovery is airgate's authorization server metadata (RFC 8414), also
// served as an OpenID discovery document for clients that look there.
type discovery struct {
	Issuer                                 string   `json:"issuer"`
	JWKSURI                                string   `json:"jwks_uri"`
	TokenEndpoint                          string   `json:"token_endpoint"`
	RevocationEndpoint                     string   `json:"revocation_endpoint"`
	GrantTypesSupported                    []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported      []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported []string `json:"revocation_endpoint_auth_methods_supported"`
	ResponseTypesSupported                 []string `json:"response_types_supported"`
	TokenTypesSupported                    []string `json:"airgate_subject_token_types_supported"`
	ScopeActionsSupported                  []string `json:"airgate_scope_actions_supported"`
	AudiencesSupported                     []string `json:"airgate_audiences_supported"`
	SigningAlgValuesSupported              []string `json:"access_token_signing_alg_values_supported"`
}

// serveDiscovery answers /.well-known/oauth-authorization-server and
// /.well-known/openid-configuration.
func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) {
	ex := s.rt.Load().exchange
	if ex == nil {
		writeError(w, http.StatusNotFound, CodeNotFound, "token exchange is not enabled on this gateway", "", nil, nil)
		return
	}
	actions := make([]string, len(tokens.Actions))
	for i, a := range tokens.Actions {
		actions[i] = string(a)
	}
	d := discovery{
		Issuer:                                 ex.issuer,
		JWKSURI:                                ex.issuer + "/.well-known/jwks.json",
		TokenEndpoint:                          ex.issuer + "/oauth2/token",
		RevocationEndpoint:                     ex.issuer + "/oauth2/revoke",
		GrantTypesSupported:                    []string{tokens.GrantTypeTokenExchange},
		TokenEndpointAuthMethodsSupported:      []string{"none", "client_secret_basic", "client_secret_post"},
		RevocationEndpointAuthMethodsSupported: []string{"none"},
		ResponseTypesSupported:                 []string{},
		TokenTypesSupported:                    []string{tokens.TokenTypeAccessToken, tokens.TokenTypeJWT},
		ScopeActionsSupported:                  actions,
		AudiencesSupported:                     ex.audiences,
		SigningAlgValuesSupported:              []string{"ES256"},
	}
	if ex.requireClient {
		d.TokenEndpointAuthMethodsSupported = []string{"client_secret_basic", "client_secret_post"}
	}
	b, _ := json.MarshalIndent(d, "", "  ")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(append(b, '\n'))
}
