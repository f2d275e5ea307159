// Package server is airgate's composition root: it builds the request
// pipeline from the configuration (route catalogue, Entra token
// verification, Graph memberships, policy decision, audit, upstream
// credentials, reverse proxy), serves it with operational endpoints, and
// swaps in a new configuration atomically on reload.
package server

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/authn"
	"github.com/airgate/airgate/internal/authz"
	"github.com/airgate/airgate/internal/authz/policy"
	"github.com/airgate/airgate/internal/catalog"
	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/directory"
	"github.com/airgate/airgate/internal/secrets"
	"github.com/airgate/airgate/internal/tokens"
)

// Server is a running gateway. Its configuration-derived state lives in an
// immutable runtime snapshot swapped atomically by Reload; process-wide
// resources (the audit log, the keyring, metrics) live on the Server.
type Server struct {
	log     *slog.Logger
	reqLog  *slog.Logger // each request's line (Options.RequestLogger)
	metrics *metrics
	ids     requestIDs
	audit   *audit.Log
	keys    *secrets.Keyring
	rot     *rotationState // secret rotation and re-read sources (rotation.go)
	sso     *ssoState      // browser sessions' revocation list (sso.go)
	rt      atomic.Pointer[runtime]
	// outcomeMu guards closing; outcomes tracks outcome records still
	// being written, so Close flushes them before closing the audit log.
	outcomeMu sync.Mutex
	closing   bool
	outcomes  sync.WaitGroup

	closeOnce sync.Once
}

// Options are process-wide settings that do not come from the config file.
type Options struct {
	// Logger receives structured operator logs; default JSON on stderr.
	Logger *slog.Logger
	// RequestLogger receives the line logged for each request (log.requests);
	// default Logger.
	RequestLogger *slog.Logger
	// HTTPClient overrides the client for Entra and Graph (tests); default
	// one trusting the system roots plus entra.ca_file.
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// runtime is everything derived from one configuration. It is immutable
// after build; readers never lock.
type runtime struct {
	cfg        *config.Config
	cat        *catalog.Catalog
	verifier   *authn.Verifier
	engine     *authz.Engine
	pol        *policy.Policy
	dir        *directory.Resolver // nil when no mapping needs Graph
	needDirect bool                // some group mapping counts direct membership
	upstream   *url.URL
	proxy      *httputil.ReverseProxy
	transport  *http.Transport
	// forward is the proxy's transport: transport, or a directTransport
	// over it for a plain-HTTP upstream (then direct is set, and
	// body-less reads skip the reverse proxy: forward.go).
	forward http.RoundTripper
	direct  bool
	// upstreamRT is forward with the Airflow 2 credential's retry: what
	// the proxy and forwardDirect send with.
	upstreamRT http.RoundTripper
	trusted    trustedProxies
	minter     *tokens.AirflowMinter // Airflow 3
	basicAuth  *upstreamCred         // Airflow 2: the service account, re-read from the rotation store
	dags       *dagCache
	// airflowKeys are Airflow's own public keys, published with airgate's.
	airflowKeys []jose.JSONWebKey
	sso         *ssoRuntime
	now         func() time.Time
	logReqs     bool
	// bearer verifies bearer tokens: verifier, or authn.Multi routing
	// airgate's own issuer to exchange's verifier (exchange.go).
	bearer   authn.TokenVerifier
	exchange *exchangeRuntime // nil when the token exchange is off
}

// New builds a server from a validated configuration: it opens the keyring
// and the audit log and builds the first runtime.
func New(ctx context.Context, cfg *config.Config, o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: levelOf(cfg.Log.Level)}))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{log: o.Logger, reqLog: o.RequestLogger, metrics: newMetrics()}
	if s.reqLog == nil {
		s.reqLog = o.Logger
	}
	keys, err := secrets.Open(secrets.FileStore{Path: cfg.Path(cfg.Keys.File)}, secrets.Options{Now: o.Now})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.keys = keys
	auditKey, err := keys.Current(secrets.UseAudit)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	lg, err := audit.Open(ctx, cfg.Path(cfg.Audit.DB), audit.Options{
		Signer:             auditSigner{auditKey},
		CheckpointEvery:    cfg.Audit.CheckpointEvery,
		CheckpointInterval: cfg.Audit.CheckpointInterval.D(),
		WriterNice:         auditWriterNice,
		Logger:             o.Logger,
		Now:                o.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("server: opening audit log: %w", err)
	}
	s.audit = lg
	if err := s.startRotation(ctx, cfg, o); err != nil {
		lg.Close()
		return nil, err
	}
	rt, err := s.build(cfg, o)
	if err != nil {
		s.stopRotation()
		lg.Close()
		return nil, err
	}
	if s.sso, err = openSSOState(ctx, cfg, o); err != nil {
		rt.close()
		s.stopRotation()
		lg.Close()
		return nil, err
	}
	s.rt.Store(rt)
	s.registerGauges()
	return s, nil
}

// auditWriterNice lowers the audit writer thread's priority: requests are
// handled first, group commits in the time between (see
// audit.Options.WriterNice).
const auditWriterNice = 10

// auditSigner adapts the keyring's audit key to audit.Signer.
type auditSigner struct{ k *secrets.Key }

func (a auditSigner) KeyID() string { return a.k.ID }

// Public lets the audit log record the verifying key beside its checkpoints.
func (a auditSigner) Public() crypto.PublicKey { return a.k.Public() }
func (a auditSigner) Sign(msg []byte) ([]byte, error) {
	return a.k.Signer().Sign(nil, msg, cryptoHashNone{})
}

// AuditKeys returns the public keys that verify audit checkpoints.
func (s *Server) AuditKeys() audit.KeySet { return auditKeySet(s.keys) }

// build derives a runtime from cfg. It has no effect on the running server.
func (s *Server) build(cfg *config.Config, o Options) (*runtime, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rt := &runtime{cfg: cfg, cat: catalog.Default(), now: o.Now, logReqs: cfg.Log.Requests == nil || *cfg.Log.Requests}
	for _, p := range cfg.TrustedProxies {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			a, _ := netip.ParseAddr(p)
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		rt.trusted = append(rt.trusted, pfx)
	}

	// Entra and Graph.
	idpClient := o.HTTPClient
	if idpClient == nil {
		c, err := clientWithCA(cfg.Path(cfg.Entra.CAFile))
		if err != nil {
			return nil, fmt.Errorf("server: entra.ca_file: %w", err)
		}
		idpClient = c
	}
	tenants := append([]string{cfg.Entra.TenantID}, cfg.Entra.AllowedTenants...)
	for _, t := range cfg.Entra.AllowedTenants {
		if t == "*" {
			tenants = []string{authn.AnyTenant}
		}
	}
	audiences := cfg.Entra.Audiences
	if len(audiences) == 0 {
		audiences = []string{cfg.Entra.ClientID}
	}
	authority := strings.TrimSuffix(cfg.Entra.Authority, "/")
	jwksURL := cfg.Entra.JWKSURL
	if jwksURL == "" {
		jwksURL = authority + "/{tenantid}/discovery/v2.0/keys"
	}
	v, err := authn.New(authn.Options{
		Tenants:    tenants,
		IssuerV2:   authority + "/{tenantid}/v2.0",
		IssuerV1:   cfg.Entra.IssuerV1,
		JWKSURL:    jwksURL,
		Audiences:  audiences,
		Algorithms: cfg.Entra.Algorithms,
		ClockSkew:  cfg.Entra.ClockSkew.D(),
		Versions:   cfg.Entra.TokenVersions,
		HTTPClient: idpClient,
		Now:        o.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	rt.verifier = v

	// Policy.
	pol, err := LoadPolicy(cfg.Path(cfg.Policy.File))
	if err != nil {
		v.Close()
		return nil, err
	}
	rt.pol = pol
	eng, err := authz.New(pol, authz.Options{Catalog: rt.cat, Now: o.Now})
	if err != nil {
		v.Close()
		return nil, fmt.Errorf("server: %w", err)
	}
	rt.engine = eng
	rt.needDirect = eng.NeedsDirectGroups()
	if needsGraph(pol) {
		gc, err := s.graphHTTPClient(cfg, idpClient)
		if err != nil {
			v.Close()
			return nil, fmt.Errorf("server: entra.client_secret (needed for Microsoft Graph memberships): %w", err)
		}
		dir, err := directory.New(directory.Options{
			GraphURL:   cfg.Entra.GraphURL,
			HTTPClient: gc,
			TTL:        cfg.Entra.MembershipTTL.D(),
			Now:        o.Now,
		})
		if err != nil {
			v.Close()
			return nil, fmt.Errorf("server: %w", err)
		}
		rt.dir = dir
	}

	// Upstream.
	up, err := url.Parse(cfg.Upstream.URL)
	if err != nil {
		v.Close()
		return nil, fmt.Errorf("server: upstream.url: %w", err)
	}
	rt.upstream = up
	rt.transport = &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          cfg.Upstream.MaxIdleConns,
		MaxIdleConnsPerHost:   cfg.Upstream.MaxIdleConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: cfg.Upstream.Timeout.D(),
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: cfg.Upstream.InsecureSkipVerify && cfg.Dev}, //nolint:gosec // dev only, validated
	}
	rt.forward = rt.transport
	if up.Scheme == "http" {
		rt.forward, rt.direct = newDirectTransport(rt.transport, hostPort(up), cfg.Upstream.Timeout.D(), cfg.Upstream.MaxIdleConns), true
	}
	switch cfg.Upstream.AirflowVersion {
	case 2:
		ba, err := s.upstreamBasicAuth(cfg)
		if err != nil {
			v.Close()
			return nil, fmt.Errorf("server: upstream.password: %w", err)
		}
		rt.basicAuth = ba
	case 3:
		m, err := tokens.NewAirflowMinter(tokens.AirflowOptions{
			Audience: cfg.Upstream.JWTAudience,
			Issuer:   cfg.Upstream.JWTIssuer,
			TTL:      cfg.Upstream.JWTTTL.D(),
			Keys:     keySource{s.keys},
			Now:      o.Now,
		})
		if err != nil {
			v.Close()
			return nil, fmt.Errorf("server: %w", err)
		}
		rt.minter = m
	}
	if rt.airflowKeys, err = loadAirflowKeys(cfg); err != nil {
		v.Close()
		return nil, err
	}
	rt.dags = &dagCache{
		client:  &http.Client{Transport: rt.basicAuth.wrap(rt.transport), Timeout: 30 * time.Second},
		base:    up,
		version: cfg.Upstream.AirflowVersion,
		auth:    rt.serviceAuth,
		ttl:     time.Minute,
		minMiss: 5 * time.Second,
		now:     o.Now,
	}
	if err := s.buildExchange(rt, cfg, o); err != nil {
		v.Close()
		return nil, err
	}
	if rt.sso, err = s.buildSSO(cfg, o, idpClient); err != nil {
		v.Close()
		rt.exchange.close()
		return nil, err
	}
	rt.upstreamRT = rt.basicAuth.wrap(rt.forward)
	rt.proxy = s.newProxy(rt)
	return rt, nil
}

// needsGraph reports whether any decision may need Microsoft Graph: a
// direct-membership group mapping, or any group mapping at all (a token with
// the groups overage indicator then needs its groups from Graph).
func needsGraph(p *policy.Policy) bool {
	for _, m := range p.Mappings() {
		if m.Group != "" {
			return true
		}
	}
	return false
}

// LoadPolicy reads and compiles a policy file with Airflow's built-in roles
// predefined.
func LoadPolicy(path string) (*policy.Policy, error) {
	p, err := authz.LoadPolicy(path)
	if err != nil {
		return nil, fmt.Errorf("server: policy %s: %w", path, err)
	}
	return p, nil
}

// serviceAuth authenticates airgate's own calls to Airflow (listing DAGs).
func (rt *runtime) serviceAuth(r *http.Request) error {
	if rt.basicAuth != nil {
		r.Header.Set("Authorization", rt.basicAuth.header())
		return nil
	}
	tok, err := rt.minter.Mint("airgate", "viewer")
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", "Bearer "+tok)
	return nil
}

// Handler returns the gateway's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/healthz", s.healthz)
	mux.HandleFunc("GET /-/readyz", s.readyz)
	mux.Handle("GET /-/metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	s.registerDebug(mux) // dev mode only (hotpath_pprof.go)
	mux.HandleFunc("GET /.well-known/jwks.json", s.jwks)
	mux.HandleFunc("/oauth2/authorize", s.ssoAuthorize)
	mux.HandleFunc("/oauth2/callback", s.ssoCallback)
	mux.HandleFunc("/oauth2/sign_out", s.ssoSignOut)
	mux.HandleFunc("POST /-/admin/sessions/revoke", s.revokeSessions)
	mux.HandleFunc("/oauth2/token", s.serveExchange)
	mux.HandleFunc("/oauth2/revoke", s.serveRevoke)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.serveDiscovery)
	mux.HandleFunc("GET /.well-known/openid-configuration", s.serveDiscovery)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "panic", fmt.Sprint(v), "path", r.URL.Path)
				writeError(w, http.StatusInternalServerError, CodeInternal, "internal error", "", nil, nil)
			}
		}()
		// airgate's own endpoints are the mux's patterns; everything else
		// goes through the pipeline, matched on the raw path so that
		// ServeMux's cleaning never changes what is authorized.
		p := r.URL.Path
		own := strings.HasPrefix(p, "/-/") || strings.HasPrefix(p, "/.well-known/")
		// Every pattern lives under these prefixes; looking a path up in
		// the mux allocates, so only airgate's own paths are looked up.
		if own || strings.HasPrefix(p, "/oauth2/") {
			if _, pattern := mux.Handler(r); pattern != "" {
				mux.ServeHTTP(w, r)
				return
			}
		}
		if own {
			writeError(w, http.StatusNotFound, CodeNotFound, "no such airgate endpoint for this method", "", nil, nil)
			return
		}
		s.serveGateway(s.filterUpstreamCookies(w), r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// readyz reports ready when Entra's keys are loaded, the upstream answers
// its health endpoint, and the audit log accepts writes.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	rt := s.rt.Load()
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	if err := rt.verifier.Ready(ctx); err != nil {
		checks["entra_keys"] = "unavailable"
		ok = false
	} else {
		checks["entra_keys"] = "ok"
	}
	if err := rt.upstreamHealthy(ctx); err != nil {
		checks["upstream"] = "unavailable"
		s.log.Warn("readiness: upstream unhealthy", "err", err.Error())
		ok = false
	} else {
		checks["upstream"] = "ok"
	}
	status := http.StatusOK
	state := "ready"
	if !ok {
		status, state = http.StatusServiceUnavailable, "not-ready"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"status":%q,"checks":{"entra_keys":%q,"upstream":%q}}`+"\n", state, checks["entra_keys"], checks["upstream"])
}

func (rt *runtime) upstreamHealthy(ctx context.Context) error {
	path := "/api/v2/monitor/health"
	if rt.cfg.Upstream.AirflowVersion == 2 {
		path = "/api/v1/health"
	}
	u := *rt.upstream
	u.Path = joinPath(rt.upstream.Path, path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := rt.transport.RoundTrip(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health answered %d", resp.StatusCode)
	}
	return nil
}

// Reload builds a runtime from cfg and swaps it in. On error the running
// configuration stays. The reload is audited either way.
func (s *Server) Reload(ctx context.Context, cfg *config.Config, o Options) error {
	if o.Now == nil {
		o.Now = time.Now
	}
	rt, err := s.build(cfg, o)
	result := "ok"
	if err != nil {
		result = "error"
	}
	s.metrics.reloads.WithLabelValues(result).Inc()
	rec := audit.Record{Kind: audit.KindConfigReload, Detail: map[string]string{"result": result}}
	if err != nil {
		rec.Reasons = []string{"config-invalid"}
	}
	if _, aerr := s.audit.Append(ctx, rec); aerr != nil {
		s.log.Error("audit: recording config reload", "err", aerr.Error())
	}
	if err != nil {
		s.log.Error("config reload failed; keeping the running configuration", "err", err.Error())
		return err
	}
	old := s.rt.Swap(rt)
	s.log.Info("config reloaded")
	// In-flight requests keep the old runtime; its idle connections and
	// key fetches go when they are done.
	go func() {
		time.Sleep(time.Minute)
		old.close()
	}()
	return nil
}

func (rt *runtime) close() {
	rt.verifier.Close()
	rt.exchange.close()
	if c, ok := rt.forward.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	rt.transport.CloseIdleConnections()
}

// hostPort is u's host with the scheme's default port when it names none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// Close stops the server's background work and closes the audit log after
// flushing it.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if rt := s.rt.Load(); rt != nil {
			rt.close()
		}
		s.outcomeMu.Lock()
		s.closing = true
		s.outcomeMu.Unlock()
		s.outcomes.Wait()
		s.stopRotation()
		s.sso.close()
		err = s.audit.Close()
	})
	return err
}

func levelOf(s string) slog.Level {
	switch s {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

func clientWithCA(caFile string) (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("no certificate found in the file")
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t, Timeout: 30 * time.Second}, nil
}
