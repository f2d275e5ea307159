package idp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. The zero value serves the demo tenant with
// Entra's default lifetimes.
type Options struct {
	// Tenant is the directory to serve; nil means the demo tenant ([Demo]).
	Tenant *Tenant
	// Dev puts the secrets and passwords of a non-demo tenant into the
	// ready info. The demo tenant's are always included.
	Dev bool
	// TokenLifetime is the lifetime of access tokens. Zero means a random
	// lifetime between 60 and 90 minutes per token, as Entra does.
	TokenLifetime time.Duration
	// IDTokenLifetime is the lifetime of ID tokens; zero means one hour.
	IDTokenLifetime time.Duration
	// RefreshTokenInactivity is how long an unused refresh token stays
	// valid; zero means Entra's 90 days.
	RefreshTokenInactivity time.Duration
	// CodeLifetime is the lifetime of authorization codes; zero means ten
	// minutes.
	CodeLifetime time.Duration
	// CAFile is where the CA certificate (PEM) is written. Empty means a
	// file in a temporary directory removed by Close.
	CAFile string
	// Now is the clock; nil means time.Now. Tests move it to expire
	// secrets and refresh tokens.
	Now func() time.Time
	// Logger receives one line per notable event, never a secret or a
	// token (fingerprints only). Nil discards.
	Logger *slog.Logger
}

// Server is a running (or startable) emulator for one tenant. Its methods
// are safe for concurrent use.
type Server struct {
	opts Options
	dir  *directory
	keys *keyring
	pki  *serverPKI
	log  *slog.Logger
	now  func() time.Time

	codes   *codeStore
	refresh *refreshStore
	pending *pendingStore

	mu      sync.Mutex // guards the fields below
	baseURL string
	info    *ReadyInfo
	srv     *http.Server
	tmpDir  string
	closed  bool
	served  chan struct{}
}

// New validates the tenant and generates the server's keys and
// certificates. It does not listen; call Start.
func New(opts Options) (*Server, error) {
	t := opts.Tenant
	if t == nil {
		t = Demo()
	}
	d, err := compileTenant(t)
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{opts: opts, dir: d, log: log, now: now}
	retain := 90 * time.Minute
	if opts.TokenLifetime > retain {
		retain = opts.TokenLifetime
	}
	if s.idTokenLifetime() > retain {
		retain = s.idTokenLifetime()
	}
	if s.keys, err = newKeyring(now(), retain+5*time.Minute); err != nil {
		return nil, fmt.Errorf("idp: %w", err)
	}
	if s.pki, err = newServerPKI(now()); err != nil {
		return nil, fmt.Errorf("idp: %w", err)
	}
	s.codes = newCodeStore()
	s.refresh = newRefreshStore()
	s.pending = newPendingStore()
	return s, nil
}

// Start listens on addr (host:port; port 0 picks a free port), serves
// HTTPS until ctx is cancelled or Close is called, writes the CA file and
// returns the ready info. A Server starts once.
func (s *Server) Start(ctx context.Context, addr string) (ReadyInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil || s.closed {
		return ReadyInfo{}, errors.New("idp: server already started")
	}
	if addr == "" {
		addr = "127.0.0.1:8443"
	}
	caFile := s.opts.CAFile
	if caFile == "" {
		dir, err := os.MkdirTemp("", "airgate-idp-")
		if err != nil {
			return ReadyInfo{}, fmt.Errorf("idp: %w", err)
		}
		s.tmpDir = dir
		caFile = filepath.Join(dir, "ca.pem")
	}
	if err := writeFileAtomic(caFile, s.pki.caPEM, 0o644); err != nil {
		return ReadyInfo{}, fmt.Errorf("idp: writing CA file: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return ReadyInfo{}, fmt.Errorf("idp: %w", err)
	}
	s.baseURL = "https://" + publicHost(ln.Addr().(*net.TCPAddr), addr)
	s.srv = &http.Server{
		Handler:           s,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{s.pki.leaf}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.served = make(chan struct{})
	srv := s.srv
	go func() {
		defer close(s.served)
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.served:
		}
	}()
	info := s.readyInfo(caFile)
	s.info = &info
	s.log.Info("idp ready", "authority", info.Authority, "tenant", s.dir.tenantID, "demo", s.dir.demo)
	return info, nil
}

// publicHost is the host:port clients use: the listen host when it was
// given, 127.0.0.1 for unspecified addresses.
func publicHost(tcp *net.TCPAddr, requested string) string {
	host, _, _ := net.SplitHostPort(requested)
	switch {
	case host == "localhost":
		return fmt.Sprintf("localhost:%d", tcp.Port)
	case tcp.IP.IsUnspecified() || host == "":
		return fmt.Sprintf("127.0.0.1:%d", tcp.Port)
	}
	return net.JoinHostPort(tcp.IP.String(), fmt.Sprint(tcp.Port))
}

// Close stops serving and removes the temporary CA file. It is safe to
// call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	srv, served, tmp := s.srv, s.served, s.tmpDir
	s.mu.Unlock()
	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = srv.Shutdown(ctx)
		cancel()
		if err != nil {
			srv.Close()
		}
		<-served
	}
	if tmp != "" {
		os.RemoveAll(tmp)
	}
	return err
}

// Done is closed when the server has stopped serving (after Close or the
// cancellation of Start's context). It is nil before Start.
func (s *Server) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served
}

// Info returns the ready info of a started server.
func (s *Server) Info() ReadyInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.info == nil {
		return ReadyInfo{}
	}
	return *s.info
}

// CertPool returns a pool holding the emulator's CA.
func (s *Server) CertPool() *x509.CertPool { return s.pki.pool.Clone() }

// CAPEM returns the emulator's CA certificate in PEM form.
func (s *Server) CAPEM() []byte { return append([]byte(nil), s.pki.caPEM...) }

// HTTPClient returns a client that trusts the emulator's CA and does not
// follow redirects (so a test can read an authorize redirect).
func (s *Server) HTTPClient() *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CertPool()}},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// RollKeys rolls the signing keys: the key published as next starts
// signing, the signing key is retired but stays published until every
// token it signed has expired, and a fresh key is published as next. So a
// verifier that fetched the JWKS before the roll can verify tokens signed
// after it.
func (s *Server) RollKeys() error {
	if err := s.keys.roll(s.now()); err != nil {
		return fmt.Errorf("idp: %w", err)
	}
	s.log.Info("signing keys rolled", "kid", s.keys.signer().kid)
	return nil
}

// SigningKeyID returns the kid of the key that signs now.
func (s *Server) SigningKeyID() string { return s.keys.signer().kid }

func (s *Server) base() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL
}

func (s *Server) idTokenLifetime() time.Duration {
	if s.opts.IDTokenLifetime > 0 {
		return s.opts.IDTokenLifetime
	}
	return time.Hour
}

// accessTokenLifetime is the configured lifetime or, like Entra, a random
// one between 60 and 90 minutes.
func (s *Server) accessTokenLifetime() time.Duration {
	if s.opts.TokenLifetime > 0 {
		return s.opts.TokenLifetime
	}
	return 60*time.Minute + time.Duration(rand.Int64N(int64(30*time.Minute)))
}

func (s *Server) codeLifetime() time.Duration {
	if s.opts.CodeLifetime > 0 {
		return s.opts.CodeLifetime
	}
	return 10 * time.Minute
}

func (s *Server) refreshInactivity() time.Duration {
	if s.opts.RefreshTokenInactivity > 0 {
		return s.opts.RefreshTokenInactivity
	}
	return 90 * 24 * time.Hour
}

// tenantRef is how a request named the tenant in its path.
type tenantRef struct {
	segment string // as written
	multi   bool   // common or organizations
}

func (s *Server) resolveTenant(seg string) (tenantRef, bool) {
	l := strings.ToLower(seg)
	switch l {
	case s.dir.tenantID, s.dir.domain:
		return tenantRef{segment: seg}, true
	case "common", "organizations":
		return tenantRef{segment: l, multi: true}, true
	}
	return tenantRef{}, false
}

// ServeHTTP routes a request. Every reply is Entra- or Graph-shaped; a
// panic becomes a server_error rather than a dropped connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
			s.writeSTSError(w, r, stsErr(500, "server_error", 50000, "There was an error issuing a token or an issue with our sign-in service."))
		}
	}()
	w.Header().Set("X-Content-Type-Options", "nosniff")
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if segs[0] == "graph" {
		s.serveGraph(w, r, segs[1:])
		return
	}
	switch {
	case len(segs) == 3 && strings.EqualFold(segs[0], "common") && segs[1] == "discovery" && segs[2] == "instance":
		s.serveInstanceDiscovery(w, r)
		return
	case len(segs) == 3 && strings.EqualFold(segs[0], "common") && strings.EqualFold(segs[1], "UserRealm"):
		s.serveUserRealm(w, r, segs[2])
		return
	case len(segs) < 2:
		http.NotFound(w, r)
		return
	}
	tenant, ok := s.resolveTenant(segs[0])
	if !ok {
		s.writeSTSError(w, r, stsErr(400, "invalid_tenant", 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", truncate(segs[0], 64)))
		return
	}
	rest := strings.Join(segs[1:], "/")
	switch rest {
	case "v2.0/.well-known/openid-configuration":
		s.serveDiscovery(w, r, tenant, 2)
	case ".well-known/openid-configuration":
		s.serveDiscovery(w, r, tenant, 1)
	case "discovery/v2.0/keys":
		s.serveJWKS(w, r, tenant, 2)
	case "discovery/keys":
		s.serveJWKS(w, r, tenant, 1)
	case "oauth2/v2.0/authorize":
		s.serveAuthorize(w, r, tenant, 2)
	case "oauth2/authorize":
		s.serveAuthorize(w, r, tenant, 1)
	case "oauth2/v2.0/token":
		s.serveToken(w, r, tenant, 2)
	case "oauth2/token":
		s.serveToken(w, r, tenant, 1)
	case "oauth2/v2.0/logout", "oauth2/logout":
		s.serveLogout(w, r)
	default:
		http.NotFound(w, r)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// writeFileAtomic writes b to path through a temporary file and a rename.
func writeFileAtomic(path string, b []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// SignClaims signs arbitrary claims with the current signing key, as the
// emulator signs its own tokens (RS256, kid; x5t too when v1). It is for
// tests that need tokens no grant would issue (expired, wrong audience,
// missing claims). Claims are used as given: nothing is added or checked.
func (s *Server) SignClaims(claims map[string]any, v1 bool) (string, error) {
	return signJWT(s.keys.signer(), claims, v1, false)
}
