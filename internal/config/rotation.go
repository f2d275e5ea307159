package config

import (
	"fmt"
	"time"
)

// Rotation configures the automatic rotation of airgate's secrets: its
// Entra client credential, its signing keys and the Airflow 2
// service-account password (docs: `airgate secrets status|rotate`).
type Rotation struct {
	// Enabled runs the rotation scheduler in the gateway. Replicas may all
	// enable it: a lock in the state database lets one rotate each secret
	// at a time. Default false (rotate with `airgate secrets rotate`).
	Enabled bool `yaml:"enabled"`
	// Interval is how often the scheduler checks what is due. Default 1m.
	Interval Duration `yaml:"interval"`
	// Store is where rotated secrets live: "env" (entra.client_secret and
	// upstream.password as configured; read-only, so those two are not
	// rotated), "file" (File, mode 0600) or "db" (the state database,
	// sealed under KEK). Default env. With file or db, the configured
	// client_secret and password only seed the store's first version.
	Store string `yaml:"store"`
	// File is the secrets file for store "file". Default
	// airgate-secrets.json beside the config file.
	File string `yaml:"file"`
	// DB is the state database (intents, results, locks, and secrets for
	// store "db"): a SQLite path or a postgres:// DSN; replicas MUST
	// share it. Default: audit.db.
	DB string `yaml:"db"`
	// KEK is the key-encryption key (32 bytes, base64 or hex) that seals
	// stored secrets: required for store "db", optional for "file".
	KEK Secret `yaml:"kek"`
	// Reread is how often a gateway re-reads the store and the keyring,
	// so a rotation done elsewhere reaches it. Default 2s.
	Reread Duration `yaml:"reread"`

	Entra      EntraRotation      `yaml:"entra_client_secret"`
	SigningKey SigningKeyRotation `yaml:"signing_key"`
	Airflow    AirflowRotation    `yaml:"airflow_credential"`
}

// EntraRotation configures the rotation of airgate's Entra client
// credential through Microsoft Graph (Application.ReadWrite.OwnedBy, with
// airgate's service principal an owner of its own application).
type EntraRotation struct {
	// Credential is "secret" (client secrets, addPassword) or
	// "certificate" (a self-signed certificate in keyCredentials and a
	// PS256 client assertion: preferred). Default secret.
	Credential string `yaml:"credential"`
	// Lifetime is how long each new credential is valid. Default 180 days
	// (4320h); Microsoft recommends under 12 months.
	Lifetime Duration `yaml:"lifetime"`
	// MaxAge rotates a credential this old. Default 90 days (2160h).
	MaxAge Duration `yaml:"max_age"`
	// RenewBefore rotates a credential this close to its expiry (read
	// from Graph). Default 30 days (720h).
	RenewBefore Duration `yaml:"renew_before"`
	// Overlap is how long the old credential keeps working after the
	// switch. Default 1h; at least 10 times rotation.reread.
	Overlap Duration `yaml:"overlap"`
	// PropagationTimeout bounds the wait until Entra accepts a new
	// credential (usually seconds). Default 2m.
	PropagationTimeout Duration `yaml:"propagation_timeout"`
	// ApplicationObjectID is the application's object id; empty addresses
	// it by client id (/applications(appId='...')).
	ApplicationObjectID string `yaml:"application_object_id"`
}

// SigningKeyRotation configures the rotation of the keyring's keys.
type SigningKeyRotation struct {
	// MaxAge rotates keys this old. Default 30 days (720h).
	MaxAge Duration `yaml:"max_age"`
	// Lead is how long a new key is published before it signs. Airflow
	// refetches its trusted JWKS hourly, so at least 1h (the default).
	Lead Duration `yaml:"lead"`
	// SessionTTL is the longest a session cookie lives: an old session
	// key keeps opening cookies that long. Default 24h.
	SessionTTL Duration `yaml:"session_ttl"`
}

// AirflowRotation configures the rotation of the Airflow 2 service-account
// password (PATCH /api/v1/users/{username}). Airflow keeps one password
// per user, so there is no overlap: gateways retry a refused request with
// the new password.
type AirflowRotation struct {
	// MaxAge rotates a password this old. Default 30 days (720h).
	MaxAge Duration `yaml:"max_age"`
	// VerifyTimeout bounds the wait until Airflow accepts the new
	// password. Default 30s.
	VerifyTimeout Duration `yaml:"verify_timeout"`
}

func defaultRotation() Rotation {
	day := 24 * time.Hour
	return Rotation{
		Interval: Duration(time.Minute),
		Store:    "env",
		File:     "airgate-secrets.json",
		Reread:   Duration(2 * time.Second),
		Entra: EntraRotation{
			Credential: "secret", Lifetime: Duration(180 * day), MaxAge: Duration(90 * day),
			RenewBefore: Duration(30 * day), Overlap: Duration(time.Hour), PropagationTimeout: Duration(2 * time.Minute),
		},
		SigningKey: SigningKeyRotation{MaxAge: Duration(30 * day), Lead: Duration(time.Hour), SessionTTL: Duration(day)},
		Airflow:    AirflowRotation{MaxAge: Duration(30 * day), VerifyTimeout: Duration(30 * time.Second)},
	}
}

// RotationDB is the state database rotation uses.
func (c *Config) RotationDB() string {
	if c.Rotation.DB != "" {
		return c.Path(c.Rotation.DB)
	}
	return c.Path(c.Audit.DB)
}

func (c *Config) validateRotation() []error {
	var errs []error
	bad := func(field string, value any, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Value: value, Msg: fmt.Sprintf(format, args...)})
	}
	r := c.Rotation
	positive := func(field string, d Duration) {
		if d.D() <= 0 {
			bad(field, d.D().String(), "must be positive")
		}
	}
	switch r.Store {
	case "env":
	case "file":
		if r.File == "" {
			bad("rotation.file", nil, `is required for store "file"`)
		}
	case "db":
		if r.KEK.IsZero() {
			bad("rotation.kek", nil, `is required for store "db" (32 bytes, base64 or hex)`)
		}
	default:
		bad("rotation.store", r.Store, `must be "env", "file" or "db"`)
	}
	c.checkSecret(&errs, "rotation.kek", r.KEK)
	if r.Interval.D() < time.Second {
		bad("rotation.interval", r.Interval.D().String(), "must be at least 1s")
	}
	if r.Reread.D() < 100*time.Millisecond || r.Reread.D() > time.Minute {
		bad("rotation.reread", r.Reread.D().String(), "must be between 100ms and 1m")
	}
	e := r.Entra
	if e.Credential != "secret" && e.Credential != "certificate" {
		bad("rotation.entra_client_secret.credential", e.Credential, `must be "secret" or "certificate"`)
	}
	positive("rotation.entra_client_secret.lifetime", e.Lifetime)
	positive("rotation.entra_client_secret.max_age", e.MaxAge)
	positive("rotation.entra_client_secret.propagation_timeout", e.PropagationTimeout)
	if e.RenewBefore.D() < 0 || e.RenewBefore.D() >= e.Lifetime.D() {
		bad("rotation.entra_client_secret.renew_before", e.RenewBefore.D().String(), "must be at least 0 and shorter than lifetime")
	}
	if e.Overlap.D() < 10*r.Reread.D() {
		bad("rotation.entra_client_secret.overlap", e.Overlap.D().String(), "must be at least 10 times rotation.reread, so every gateway has switched before the old credential goes")
	}
	if e.ApplicationObjectID != "" && !IsGUID(e.ApplicationObjectID) {
		bad("rotation.entra_client_secret.application_object_id", e.ApplicationObjectID, "is not a GUID")
	}
	s := r.SigningKey
	positive("rotation.signing_key.max_age", s.MaxAge)
	positive("rotation.signing_key.session_ttl", s.SessionTTL)
	if s.Lead.D() < time.Hour && !c.Dev {
		bad("rotation.signing_key.lead", s.Lead.D().String(), "must be at least 1h (Airflow refetches its JWKS hourly); shorter only in dev mode")
	}
	if s.Lead.D() <= 0 {
		bad("rotation.signing_key.lead", s.Lead.D().String(), "must be positive")
	}
	positive("rotation.airflow_credential.max_age", r.Airflow.MaxAge)
	positive("rotation.airflow_credential.verify_timeout", r.Airflow.VerifyTimeout)
	return errs
}
