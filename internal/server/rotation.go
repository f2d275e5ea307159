package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/secrets"
	"github.com/airgate/airgate/internal/secrets/rotation"
	"github.com/airgate/airgate/internal/sqlstore"
)

// Rotation is the rotation machinery built from a configuration: the
// secret store, the state database and a Manager over the secrets the
// configuration holds. The gateway runs one (with a scheduler when
// rotation.enabled), and `airgate secrets` builds one on the same store.
type Rotation struct {
	// Manager rotates and reports.
	Manager *rotation.Manager
	// Store is where rotated secrets live (an EnvSecrets over the
	// configuration in "env" mode).
	Store secrets.SecretStore
	// Kind is the rotation.store setting: env, file or db.
	Kind string

	db *sqlstore.DB
}

// RotationOptions are what a Rotation needs beyond the configuration.
type RotationOptions struct {
	// Keyring is airgate's keyring (the signing-key rotator). Required.
	Keyring *secrets.Keyring
	// Auditor records rotations in the audit chain; see AuditRotations.
	Auditor rotation.Auditor
	// Logger receives the rotation log; nil discards.
	Logger *slog.Logger
	// HTTPClient calls Entra and Graph; default one trusting
	// entra.ca_file.
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// OpenRotation opens the store named by cfg.Rotation (seeding it from the
// configured entra.client_secret and upstream.password on first use) and
// builds the rotators. Close releases it.
func OpenRotation(ctx context.Context, cfg *config.Config, o RotationOptions) (*Rotation, error) {
	if o.Keyring == nil {
		return nil, errors.New("server: rotation needs the keyring")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	db, err := sqlstore.Open(ctx, cfg.RotationDB())
	if err != nil {
		return nil, fmt.Errorf("server: rotation state database: %w", err)
	}
	r := &Rotation{db: db, Kind: cfg.Rotation.Store}
	fail := func(err error) (*Rotation, error) {
		db.Close()
		return nil, err
	}
	if r.Store, err = openSecretStore(ctx, cfg, db, o.Now); err != nil {
		return fail(err)
	}
	airflow2 := cfg.Upstream.AirflowVersion == 2
	if r.Kind != "env" {
		seeds := map[string]config.Secret{rotation.NameEntra: cfg.Entra.ClientSecret}
		if airflow2 {
			seeds[rotation.NameAirflow] = cfg.Upstream.Password
		}
		for name, sec := range seeds {
			meta := map[string]string{"seeded": "config"}
			if name == rotation.NameEntra {
				meta["kind"] = rotation.KindClientSecret
			}
			if sec.IsZero() {
				continue
			}
			v, err := cfg.Read(sec)
			if err != nil {
				return fail(fmt.Errorf("server: seeding %s: %w", name, err))
			}
			if _, err := secrets.Seed(ctx, r.Store, name, []byte(v), meta); err != nil {
				return fail(fmt.Errorf("server: seeding %s: %w", name, err))
			}
		}
	}

	hc := o.HTTPClient
	if hc == nil {
		if hc, err = clientWithCA(cfg.Path(cfg.Entra.CAFile)); err != nil {
			return fail(fmt.Errorf("server: entra.ca_file: %w", err))
		}
	}
	rc := cfg.Rotation
	var rotators []rotation.Rotator
	if _, err := r.Store.Get(ctx, rotation.NameEntra, secrets.Current); err == nil {
		ent, err := rotation.NewEntra(rotation.EntraOptions{
			Store: r.Store, ClientID: cfg.Entra.ClientID, TokenURL: tokenURL(cfg), GraphURL: cfg.Entra.GraphURL,
			ApplicationObjectID: rc.Entra.ApplicationObjectID, HTTPClient: hc,
			Certificate: rc.Entra.Credential == "certificate", Lifetime: rc.Entra.Lifetime.D(),
			MaxAge: rc.Entra.MaxAge.D(), RenewBefore: rc.Entra.RenewBefore.D(), Overlap: rc.Entra.Overlap.D(),
			PropagationTimeout: rc.Entra.PropagationTimeout.D(), Logger: o.Logger, Now: o.Now,
		})
		if err != nil {
			return fail(err)
		}
		rotators = append(rotators, ent)
	}
	sig, err := rotation.NewSigning(rotation.SigningOptions{
		Keyring: o.Keyring, Lead: rc.SigningKey.Lead.D(), MaxAge: rc.SigningKey.MaxAge.D(),
		TTL: map[secrets.Use]time.Duration{
			secrets.UseToken:   max(cfg.Upstream.JWTTTL.D(), cfg.Exchange.MaxTTL.D()),
			secrets.UseSession: rc.SigningKey.SessionTTL.D(),
		},
		Logger: o.Logger, Now: o.Now,
	})
	if err != nil {
		return fail(err)
	}
	rotators = append(rotators, sig)
	if airflow2 {
		af, err := rotation.NewAirflow(rotation.AirflowOptions{
			Store: r.Store, URL: cfg.Upstream.URL, Username: cfg.Upstream.Username,
			HTTPClient: &http.Client{Transport: upstreamTransport(cfg), Timeout: 30 * time.Second},
			MaxAge:     rc.Airflow.MaxAge.D(), VerifyTimeout: rc.Airflow.VerifyTimeout.D(),
			Logger: o.Logger, Now: o.Now,
		})
		if err != nil {
			return fail(err)
		}
		rotators = append(rotators, af)
	}
	r.Manager, err = rotation.New(ctx, rotation.Options{DB: db, Rotators: rotators, Auditor: o.Auditor, Logger: o.Logger, Now: o.Now})
	if err != nil {
		return fail(err)
	}
	return r, nil
}

// Close releases the state database.
func (r *Rotation) Close() error { return r.db.Close() }

func tokenURL(cfg *config.Config) string {
	return strings.TrimSuffix(cfg.Entra.Authority, "/") + "/" + cfg.Entra.TenantID + "/oauth2/v2.0/token"
}

func upstreamTransport(cfg *config.Config) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.TLSClientConfig = &tls.Config{InsecureSkipVerify: cfg.Upstream.InsecureSkipVerify && cfg.Dev} //nolint:gosec // dev only, validated
	return t
}

// openSecretStore opens the store named by rotation.store.
func openSecretStore(ctx context.Context, cfg *config.Config, db *sqlstore.DB, now func() time.Time) (secrets.SecretStore, error) {
	var kek *secrets.KEK
	if !cfg.Rotation.KEK.IsZero() {
		text, err := cfg.Read(cfg.Rotation.KEK)
		if err != nil {
			return nil, fmt.Errorf("server: rotation.kek: %w", err)
		}
		if kek, err = secrets.ParseKEK([]byte(text)); err != nil {
			return nil, fmt.Errorf("server: rotation.kek: %w", err)
		}
	}
	switch cfg.Rotation.Store {
	case "file":
		return secrets.NewFileSecrets(cfg.Path(cfg.Rotation.File), secrets.FileSecretsOptions{KEK: kek, Now: now}), nil
	case "db":
		s, err := secrets.OpenDBSecrets(ctx, db, secrets.DBSecretsOptions{KEK: kek, Now: now})
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		return s, nil
	}
	// env: the configured sources, read-only.
	sources := map[string]config.Secret{rotation.NameEntra: cfg.Entra.ClientSecret, rotation.NameAirflow: cfg.Upstream.Password}
	return secrets.EnvSecrets{
		Vars: map[string]string{rotation.NameEntra: "entra.client_secret", rotation.NameAirflow: "upstream.password"},
		Lookup: func(field string) (string, bool) {
			name := map[string]string{"entra.client_secret": rotation.NameEntra, "upstream.password": rotation.NameAirflow}[field]
			v, err := cfg.Read(sources[name])
			return v, err == nil
		},
	}, nil
}

// AuditRotations adapts an audit log to rotation.Auditor: one
// secret-rotation record per event, Detail {secret, version, result, hint,
// reason}.
func AuditRotations(l *audit.Log) rotation.Auditor { return rotationAuditor{l} }

type rotationAuditor struct{ l *audit.Log }

func (a rotationAuditor) AuditRotation(ctx context.Context, e rotation.Event) error {
	rec := audit.Record{Kind: audit.KindSecretRotation, Detail: map[string]string{
		"secret": e.Secret, "version": strconv.Itoa(e.Version), "result": e.Result, "hint": e.Hint, "reason": e.Reason,
	}}
	if e.Result == "failed" {
		rec.Reasons = []string{"rotation-failed"}
	}
	_, err := a.l.Append(ctx, rec)
	return err
}

// rotationState is the gateway's side of rotation: versioned sources for
// the Entra client credential and the Airflow 2 password, re-read on a
// short poll with the keyring, and the scheduler when enabled.
type rotationState struct {
	rot      *Rotation
	sched    *rotation.Scheduler
	entra    *versionedSecret
	upstream *versionedSecret
	cancel   context.CancelFunc
	done     chan struct{}
}

// startRotation opens rotation for the gateway and starts the re-read
// loop and, when enabled, the scheduler.
func (s *Server) startRotation(ctx context.Context, cfg *config.Config, o Options) error {
	r, err := OpenRotation(ctx, cfg, RotationOptions{
		Keyring: s.keys, Auditor: AuditRotations(s.audit), Logger: s.log, HTTPClient: o.HTTPClient, Now: o.Now,
	})
	if err != nil {
		return err
	}
	st := &rotationState{rot: r, done: make(chan struct{})}
	st.entra = &versionedSecret{store: r.Store, name: rotation.NameEntra}
	st.upstream = &versionedSecret{store: r.Store, name: rotation.NameAirflow}
	for _, v := range []*versionedSecret{st.entra, st.upstream} {
		v.refresh(ctx) // a missing secret is an error only where it is needed
	}
	lctx, cancel := context.WithCancel(context.Background())
	st.cancel = cancel
	every := cfg.Rotation.Reread.D()
	go func() {
		defer close(st.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
			if err := s.keys.Reload(); err != nil {
				s.log.Warn("keyring reload failed; keeping the loaded keys", "err", err.Error())
			}
			st.entra.refresh(lctx)
			st.upstream.refresh(lctx)
		}
	}()
	if cfg.Rotation.Enabled {
		st.sched = rotation.Start(lctx, r.Manager, rotation.SchedulerOptions{Interval: cfg.Rotation.Interval.D()})
	}
	s.rot = st
	s.metrics.reg.MustRegister(rotationCollector{m: r.Manager})
	return nil
}

// stopRotation stops the scheduler and the re-read loop.
func (s *Server) stopRotation() {
	st := s.rot
	if st == nil {
		return
	}
	if st.sched != nil {
		st.sched.Close()
	}
	st.cancel()
	<-st.done
	st.rot.Close()
}

// RotationManager returns the gateway's rotation manager (tests, admin).
func (s *Server) RotationManager() *rotation.Manager { return s.rot.rot.Manager }

// versionedSecret is a secret read from the store and re-read on the poll:
// the active version and, during a rotation, the other one that may be in
// use (the pending new one, or the previous one until it is retired).
type versionedSecret struct {
	store secrets.SecretStore // nil for a fixed value
	name  string

	snap atomic.Pointer[secretSnapshot]

	mu     sync.Mutex // serializes refreshes; guards readAt
	readAt time.Time  // when the last refresh started
}

type secretSnapshot struct {
	cur *secrets.Version
	alt *secrets.Version // nil when none
	err error
}

// refresh re-reads the store; on error the last good snapshot stays.
func (v *versionedSecret) refresh(ctx context.Context) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.refreshLocked(ctx)
}

// refreshSince re-reads the store unless a refresh started after t: a
// caller refused with the version it holds calls it with the time of the
// refusal, so that concurrent refusals share one read. v.mu is taken.
func (v *versionedSecret) refreshSince(ctx context.Context, t time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.readAt.After(t) {
		return
	}
	v.refreshLocked(ctx)
}

// refreshLocked reads the store; v.mu must be held.
func (v *versionedSecret) refreshLocked(ctx context.Context) {
	if v.store == nil {
		return
	}
	v.readAt = time.Now()
	cur, err := v.store.Get(ctx, v.name, secrets.Current)
	if err != nil {
		if old := v.snap.Load(); old == nil || old.cur == nil {
			v.snap.Store(&secretSnapshot{err: err})
		}
		return
	}
	snap := &secretSnapshot{cur: cur}
	if lat, err := v.store.Get(ctx, v.name, secrets.Latest); err == nil && lat.Version != cur.Version && lat.State == secrets.StatePending {
		snap.alt = lat
	} else if cur.Previous > 0 {
		if prev, err := v.store.Get(ctx, v.name, cur.Previous); err == nil && prev.State == secrets.StatePrevious {
			snap.alt = prev
		}
	}
	v.snap.Store(snap)
}

// current returns the active version.
func (v *versionedSecret) current() (*secrets.Version, error) {
	s := v.snap.Load()
	if s == nil {
		return nil, fmt.Errorf("%s: not loaded", v.name)
	}
	if s.cur == nil {
		return nil, s.err
	}
	return s.cur, nil
}

// snapCurrent returns the active version, or nil.
func (v *versionedSecret) snapCurrent() *secrets.Version {
	if s := v.snap.Load(); s != nil {
		return s.cur
	}
	return nil
}

// other returns the version that may also be in use during a rotation.
func (v *versionedSecret) other() *secrets.Version {
	if s := v.snap.Load(); s != nil {
		return s.alt
	}
	return nil
}

// rotationCollector exports the rotation manager's counters.
type rotationCollector struct{ m *rotation.Manager }

var (
	rotAttemptsDesc = prometheus.NewDesc("airgate_rotation_attempts_total", "Secret rotations started by this process, by secret.", []string{"secret"}, nil)
	rotFailuresDesc = prometheus.NewDesc("airgate_rotation_failures_total", "Secret rotations (or recoveries) that failed in this process, by secret: alert on any increase.", []string{"secret"}, nil)
	rotSuccessDesc  = prometheus.NewDesc("airgate_rotation_last_success_timestamp_seconds", "When this process last completed a rotation step, by secret (0: never).", []string{"secret"}, nil)
)

func (c rotationCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- rotAttemptsDesc
	ch <- rotFailuresDesc
	ch <- rotSuccessDesc
}

func (c rotationCollector) Collect(ch chan<- prometheus.Metric) {
	for name, st := range c.m.Stats() {
		ch <- prometheus.MustNewConstMetric(rotAttemptsDesc, prometheus.CounterValue, float64(st.Attempts), name)
		ch <- prometheus.MustNewConstMetric(rotFailuresDesc, prometheus.CounterValue, float64(st.Failures), name)
		ts := 0.0
		if !st.LastSuccess.IsZero() {
			ts = float64(st.LastSuccess.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(rotSuccessDesc, prometheus.GaugeValue, ts, name)
	}
}
