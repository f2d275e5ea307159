package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/airgate/airgate/internal/airflowsim"
	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/idp"
	"github.com/airgate/airgate/internal/server"
)

// Default addresses of the demo's three servers. They are fixed so that
// printed commands and bookmarks keep working from one run to the next.
const (
	DefaultAddr        = "127.0.0.1:8080" // the gateway
	DefaultIdPAddr     = "127.0.0.1:8443" // the Entra ID emulator (HTTPS)
	DefaultAirflowAddr = "127.0.0.1:8081" // the Airflow double
)

// ServiceAccount is the Airflow 2 basic-auth account airgate uses in the
// demo. Its password is generated at each start and kept in
// secrets/airflow-password.
const ServiceAccount = "airgate-svc"

// Names of the files Start writes into the demo's directory.
const (
	ConfigFile        = "airgate.yaml"
	PolicyFile        = "policy.yaml"
	IdPReadyFile      = "idp.json"
	IdPCAFile         = "idp-ca.pem"
	AuditDBFile       = "audit.db"
	KeysFile          = "keys.json"
	ClientSecretFile  = "secrets/entra-client-secret"
	AirflowSecretFile = "secrets/airflow-password"
)

// Options configure [Start]. The zero value runs Airflow 3 on the default
// addresses in a fresh temporary directory.
type Options struct {
	// Addr is the gateway's listen address; empty means [DefaultAddr].
	Addr string
	// IdPAddr and AirflowAddr are the emulator's and the Airflow double's
	// listen addresses. Empty means their defaults, or port 0 (a free
	// port) on Addr's host when Addr's port is 0.
	IdPAddr     string
	AirflowAddr string
	// AirflowVersion is 2 (the double speaks /api/v1 and trusts a
	// basic-auth service account) or 3 (it speaks /api/v2 and trusts
	// airgate's JWKS). Zero means 3.
	AirflowVersion int
	// Dir is the demo's directory, created 0700 when missing. Files from
	// an earlier run there are reused (keys, audit log) or rewritten
	// (config, policy, secrets). Empty means a fresh temporary directory
	// that Close removes.
	Dir string
	// Logger receives the servers' operator logs (request lines included);
	// nil discards them.
	Logger *slog.Logger
}

// Ready is what a started demo tells its clients; `airgate demo
// --ready-file` writes it as JSON. Fields may be added; the meaning of
// existing ones never changes.
type Ready struct {
	// Gateway is airgate's base URL: the only way to Airflow.
	Gateway string `json:"gateway"`
	// Airflow is the Airflow double's base URL.
	Airflow string `json:"airflow"`
	// AirflowVersion is 2 or 3.
	AirflowVersion int `json:"airflow_version"`
	// IdP is the emulator's ready info, exactly as `airgate idp serve
	// --ready-file` writes it.
	IdP idp.ReadyInfo `json:"idp"`
	// IdPReadyFile is the path of the emulator's ready file, for `airgate
	// idp token --ready-file`.
	IdPReadyFile string `json:"idp_ready_file"`
	// AuditDB is the audit database (a SQLite file path).
	AuditDB string `json:"audit_db"`
	// Policy is the path of the policy file in use.
	Policy string `json:"policy"`
	// Config is the path of the complete airgate configuration.
	Config string `json:"config"`
	// Dir is the demo's directory.
	Dir string `json:"dir"`
	// TempDir reports whether Dir is removed when the demo stops.
	TempDir bool `json:"temp_dir"`
}

// Demo is a running demo. Its methods are safe for concurrent use.
type Demo struct {
	ready  Ready
	log    *slog.Logger
	idp    *idp.Server
	sim    *airflowsim.Server
	simSrv *http.Server
	gw     *server.Server
	gwSrv  *http.Server
	rmDir  string // removed by Close; empty for a caller's directory
	failed chan error

	closeOnce sync.Once
	closeErr  error
}

// Start starts the emulator, the Airflow double and the gateway, writes the
// demo's files and returns once the gateway reports ready (Entra's keys
// loaded, Airflow healthy). The servers run until Close; ctx bounds only
// the start.
func Start(ctx context.Context, o Options) (_ *Demo, err error) {
	if o.AirflowVersion == 0 {
		o.AirflowVersion = 3
	}
	if o.AirflowVersion != 2 && o.AirflowVersion != 3 {
		return nil, fmt.Errorf("demo: Airflow version %d: want 2 or 3", o.AirflowVersion)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	gwAddr, idpAddr, afAddr, err := addresses(o)
	if err != nil {
		return nil, err
	}
	d := &Demo{log: o.Logger, failed: make(chan error, 3)}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()

	dir := o.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "airgate-demo-"); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		d.rmDir = dir
	} else if err = os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err = os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	path := func(name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }
	d.ready = Ready{
		AirflowVersion: o.AirflowVersion,
		IdPReadyFile:   path(IdPReadyFile),
		AuditDB:        path(AuditDBFile),
		Policy:         path(PolicyFile),
		Config:         path(ConfigFile),
		Dir:            dir,
		TempDir:        d.rmDir != "",
	}

	// Listen first: Airflow 3 must know airgate's JWKS URL, and every
	// address goes into the configuration.
	gwLn, err := net.Listen("tcp", gwAddr)
	if err != nil {
		return nil, fmt.Errorf("demo: gateway: %w", err)
	}
	afLn, err := net.Listen("tcp", afAddr)
	if err != nil {
		return nil, fmt.Errorf("demo: Airflow double: %w", err)
	}
	defer func() {
		if err != nil { // Close shuts down the servers, not bare listeners
			gwLn.Close()
			afLn.Close()
		}
	}()
	d.ready.Gateway = "http://" + publicHost(gwLn.Addr(), gwAddr)
	d.ready.Airflow = "http://" + publicHost(afLn.Addr(), afAddr)

	// The Entra ID emulator with the demo tenant.
	if d.idp, err = idp.New(idp.Options{CAFile: path(IdPCAFile), Logger: o.Logger.With("component", "idp")}); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if d.ready.IdP, err = d.idp.Start(context.Background(), idpAddr); err != nil {
		return nil, fmt.Errorf("demo: Entra ID emulator: %w", err)
	}
	if err = idp.WriteReadyFile(d.ready.IdPReadyFile, d.ready.IdP); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}

	// The Airflow double.
	simOpts := airflowsim.Options{JWKSURL: d.ready.Gateway + "/.well-known/jwks.json", Issuer: jwtIssuer}
	var airflowPassword string
	if o.AirflowVersion == 2 {
		airflowPassword = randomSecret()
		simOpts = airflowsim.Options{Username: ServiceAccount, Password: airflowPassword}
	}
	d.sim = airflowsim.New(simOpts)
	d.simSrv = &http.Server{Handler: withRequestLog(d.sim), ReadHeaderTimeout: 10 * time.Second}
	go d.serve("Airflow double", d.simSrv, afLn)

	// The files: secrets, policy, configuration.
	app, ok := d.ready.IdP.Apps["airgate"]
	if !ok || app.ClientSecret == "" {
		return nil, errors.New("demo: the emulator's demo tenant has no airgate application secret")
	}
	if err = writeFile(path(ClientSecretFile), []byte(app.ClientSecret+"\n")); err != nil {
		return nil, err
	}
	if o.AirflowVersion == 2 {
		if err = writeFile(path(AirflowSecretFile), []byte(airflowPassword+"\n")); err != nil {
			return nil, err
		}
	}
	if err = writeFile(d.ready.Policy, Policy()); err != nil {
		return nil, err
	}
	cfgText, err := configYAML(configValues{
		Listen:         gwLn.Addr().String(),
		PublicURL:      d.ready.Gateway,
		Airflow:        d.ready.Airflow,
		AirflowVersion: o.AirflowVersion,
		IdP:            d.ready.IdP,
	})
	if err != nil {
		return nil, err
	}
	if err = writeFile(d.ready.Config, cfgText); err != nil {
		return nil, err
	}

	// The gateway, from the file just written, as `airgate serve` would.
	cfg, err := loadConfig(d.ready.Config)
	if err != nil {
		return nil, err
	}
	if d.gw, err = server.New(ctx, cfg, server.Options{Logger: o.Logger.With("component", "gateway")}); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	d.gwSrv = &http.Server{
		Handler:           d.gw.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
	go d.serve("gateway", d.gwSrv, gwLn)

	if err = d.waitReady(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// jwtIssuer is the iss of the Airflow 3 JWTs airgate mints in the demo
// (upstream.jwt_issuer; Airflow's [api_auth] jwt_issuer).
const jwtIssuer = "airgate"

// addresses resolves the three listen addresses of o.
func addresses(o Options) (gw, idpAddr, af string, err error) {
	gw = o.Addr
	if gw == "" {
		gw = DefaultAddr
	}
	host, port, err := net.SplitHostPort(gw)
	if err != nil {
		return "", "", "", fmt.Errorf("demo: address %q: %w", gw, err)
	}
	pick := func(given, def string) string {
		switch {
		case given != "":
			return given
		case port == "0":
			return net.JoinHostPort(host, "0")
		}
		return def
	}
	return gw, pick(o.IdPAddr, DefaultIdPAddr), pick(o.AirflowAddr, DefaultAirflowAddr), nil
}

// publicHost is the host:port clients use to reach a listener: the
// requested host, or 127.0.0.1 when it was empty or unspecified.
func publicHost(a net.Addr, requested string) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	host, _, _ := net.SplitHostPort(requested)
	if host == "" || tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	} else if host != "localhost" {
		host = tcp.IP.String()
	}
	return net.JoinHostPort(host, fmt.Sprint(tcp.Port))
}

func (d *Demo) serve(name string, hs *http.Server, ln net.Listener) {
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		d.log.Error("demo: server stopped", "server", name, "err", err.Error())
		d.failed <- fmt.Errorf("demo: %s: %w", name, err)
	}
}

// waitReady polls the gateway's readiness endpoint, which checks Entra's
// keys and Airflow's health, until it answers 200.
func (d *Demo) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	var last string
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.ready.Gateway+"/-/readyz", nil)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = strings.TrimSpace(string(b))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("demo: the gateway did not become ready: %s", last)
		case err := <-d.failed:
			return err
		case <-time.After(delay):
		}
	}
}

// Ready returns where the demo's servers and files are.
func (d *Demo) Ready() Ready { return d.ready }

// Failed receives an error if one of the demo's servers stops serving
// before Close.
func (d *Demo) Failed() <-chan error { return d.failed }

// Reload re-reads the demo's configuration file (and through it the policy
// file) and swaps it into the running gateway; on error the running
// configuration stays.
func (d *Demo) Reload(ctx context.Context) error {
	cfg, err := loadConfig(d.ready.Config)
	if err != nil {
		return err
	}
	return d.gw.Reload(ctx, cfg, server.Options{Logger: d.log.With("component", "gateway")})
}

// Close stops the gateway (flushing its audit log), the double and the
// emulator, and removes the directory if Start created it. It is safe to
// call more than once.
func (d *Demo) Close() error {
	d.closeOnce.Do(func() {
		var errs []error
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if d.gwSrv != nil {
			if err := d.gwSrv.Shutdown(ctx); err != nil {
				d.gwSrv.Close()
			}
		}
		if d.gw != nil {
			errs = append(errs, d.gw.Close())
		}
		if d.simSrv != nil {
			if err := d.simSrv.Shutdown(ctx); err != nil {
				d.simSrv.Close()
			}
		}
		if d.idp != nil {
			errs = append(errs, d.idp.Close())
		}
		if d.rmDir != "" {
			errs = append(errs, os.RemoveAll(d.rmDir))
		}
		d.closeErr = errors.Join(errs...)
	})
	return d.closeErr
}

func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("demo: %s: %w", path, err)
	}
	return cfg, nil
}

// writeFile writes data to path atomically with mode 0600.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("demo: writing %s: %w", path, err)
	}
	return nil
}

// randomSecret returns 32 random bytes, base64url-encoded.
func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}
