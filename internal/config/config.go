// Package config is airgate's configuration file: plain structs with
// operator-facing docs, Default(), Parse(io.Reader) on top of the defaults,
// Load(path), and Validate(), which names every bad field and value. Only
// server and cli import it; other packages take their own options.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is a complete airgate configuration.
type Config struct {
	// Listen is the address the gateway serves on (HOST:PORT).
	Listen string `yaml:"listen"`
	// Dev enables development mode. Options whose name starts with
	// "insecure" are refused unless Dev is set. Never in production.
	Dev bool `yaml:"dev"`
	// PublicURL is the external base URL of the gateway (scheme and host
	// as browsers see it), used for sign-in redirects. Empty: derived from
	// each request (trusted proxy headers only).
	PublicURL string `yaml:"public_url"`
	// TrustedProxies are the CIDRs whose X-Forwarded-*/Forwarded headers
	// are believed. Everyone else's are removed.
	TrustedProxies []string `yaml:"trusted_proxies"`

	Entra    Entra    `yaml:"entra"`
	Policy   Policy   `yaml:"policy"`
	Upstream Upstream `yaml:"upstream"`
	Audit    Audit    `yaml:"audit"`
	Keys     Keys     `yaml:"keys"`
	Log      Log      `yaml:"log"`
	// Exchange configures the RFC 8693 token exchange for jobs and agents.
	Exchange Exchange `yaml:"exchange"`
	Session  Session  `yaml:"session"`
	// Rotation configures the automatic rotation of airgate's secrets.
	Rotation Rotation `yaml:"rotation"`

	// dir is the directory of the file the config was loaded from;
	// relative paths in the config are resolved against it.
	dir string
}

// Entra configures how callers are authenticated with Microsoft Entra ID.
type Entra struct {
	// TenantID is the home tenant (a GUID). Required.
	TenantID string `yaml:"tenant_id"`
	// AllowedTenants lists further tenants whose tokens are accepted, or
	// ["*"] for any tenant (multi-tenant apps). Default: only TenantID.
	AllowedTenants []string `yaml:"allowed_tenants"`
	// ClientID is airgate's application (client) id in Entra. Required.
	ClientID string `yaml:"client_id"`
	// ClientSecret is airgate's client secret, used for browser sign-in and
	// for Microsoft Graph. Not needed when only bearer tokens are verified
	// and no mapping needs Graph.
	ClientSecret Secret `yaml:"client_secret"`
	// Audiences are the accepted token audiences: the client id and/or the
	// App ID URI (e.g. api://airgate). Default: ClientID.
	Audiences []string `yaml:"audiences"`
	// Authority is the Entra authority host. Default
	// https://login.microsoftonline.com; the embedded emulator's address
	// in the demo and tests.
	Authority string `yaml:"authority"`
	// IssuerV1 is the issuer template of v1 access tokens, with {tenantid}.
	// Default https://sts.windows.net/{tenantid}/.
	IssuerV1 string `yaml:"issuer_v1"`
	// JWKSURL is the signing keys' URL template, with {tenantid}. Default
	// <authority>/{tenantid}/discovery/v2.0/keys.
	JWKSURL string `yaml:"jwks_url"`
	// GraphURL is the Microsoft Graph base URL. Default
	// https://graph.microsoft.com/v1.0.
	GraphURL string `yaml:"graph_url"`
	// CAFile is a PEM bundle of extra certificate authorities to trust for
	// Entra and Graph (the emulator's CA). Empty: the system roots.
	CAFile string `yaml:"ca_file"`
	// Algorithms is the allow-list of token signature algorithms. Default
	// [RS256], as Entra signs.
	Algorithms []string `yaml:"algorithms"`
	// ClockSkew is the tolerance for exp and nbf. Default 2m.
	ClockSkew Duration `yaml:"clock_skew"`
	// TokenVersions lists the access token versions accepted: "1.0",
	// "2.0". Default both.
	TokenVersions []string `yaml:"token_versions"`
	// MembershipTTL is how long group memberships read from Microsoft
	// Graph are cached. Default 5m.
	MembershipTTL Duration `yaml:"membership_ttl"`
}

// Policy says where the authorization policy comes from.
type Policy struct {
	// File is the policy file (YAML). Required.
	File string `yaml:"file"`
}

// Upstream configures the Airflow instance behind the gateway.
type Upstream struct {
	// URL is Airflow's base URL (webserver or API server). Required.
	URL string `yaml:"url"`
	// AirflowVersion is 2 or 3: which APIs exist and how airgate
	// authenticates to Airflow. Default 3.
	AirflowVersion int `yaml:"airflow_version"`
	// Username and Password are the Airflow 2 service account airgate
	// uses (basic auth). Callers never see them.
	Username string `yaml:"username"`
	Password Secret `yaml:"password"`
	// JWTAudience, JWTIssuer and JWTTTL shape the Airflow 3 JWTs airgate
	// mints per request ([api_auth] jwt_audience / jwt_issuer). Defaults
	// "apache-airflow", "airgate", 5m.
	JWTAudience string   `yaml:"jwt_audience"`
	JWTIssuer   string   `yaml:"jwt_issuer"`
	JWTTTL      Duration `yaml:"jwt_ttl"`
	// AuthManager is Airflow 3's auth manager: "simple" (airgate puts the
	// caller's role in the JWT) or "fab" (sub is the FAB user id). Default
	// simple.
	AuthManager string `yaml:"auth_manager"`
	// AirflowKeys are Airflow 3's own public keys ([api_auth]
	// jwt_private_key_path's public half, with its [api_auth] jwt_kid).
	// With [api_auth] trusted_jwks_url pointing at airgate, Airflow checks
	// its own task and UI tokens against airgate's key set too, so airgate
	// publishes these beside its own keys.
	AirflowKeys []AirflowKey `yaml:"airflow_keys"`
	// Timeout bounds one upstream request. Default 60s.
	Timeout Duration `yaml:"timeout"`
	// MaxIdleConns is the idle connection pool per upstream host. Default 256.
	MaxIdleConns int `yaml:"max_idle_conns"`
	// InsecureSkipVerify disables TLS verification of the upstream. Dev only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// AirflowKey is one of Airflow's own signing keys, published in airgate's
// key set.
type AirflowKey struct {
	// File is a PEM file holding the public key (or the private key, of
	// which only the public half is published).
	File string `yaml:"file"`
	// KID is the key id Airflow puts in its tokens: set the same value as
	// [api_auth] jwt_kid in Airflow.
	KID string `yaml:"kid"`
}

// Audit configures the decision log.
type Audit struct {
	// DB is the audit store: a SQLite file path or a postgres:// DSN.
	// Default airgate.db beside the config file.
	DB string `yaml:"db"`
	// Mode is "strict" (a request is forwarded only after its record is
	// durable) or "fast" (reads and denials recorded once queued: see
	// docs/operations.md, "Audit modes"). Default strict.
	Mode string `yaml:"mode"`
	// CheckpointEvery and CheckpointInterval set how often a signed
	// checkpoint is written. Defaults 1000 records, 60s.
	CheckpointEvery    int      `yaml:"checkpoint_every"`
	CheckpointInterval Duration `yaml:"checkpoint_interval"`
}

// Keys configures airgate's own signing keys.
type Keys struct {
	// File is the keyring file (created 0600 when missing). Default
	// airgate-keys.json beside the config file.
	File string `yaml:"file"`
}

// Log configures operator logs.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Requests logs one line per request at info level. Default true.
	Requests *bool `yaml:"requests"`
}

// Default returns a configuration with every default filled in. Required
// fields stay empty.
func Default() *Config {
	return &Config{
		Listen: "127.0.0.1:8080",
		Entra: Entra{
			Authority:     "https://login.microsoftonline.com",
			IssuerV1:      "https://sts.windows.net/{tenantid}/",
			GraphURL:      "https://graph.microsoft.com/v1.0",
			Algorithms:    []string{"RS256"},
			ClockSkew:     Duration(2 * time.Minute),
			TokenVersions: []string{"1.0", "2.0"},
			MembershipTTL: Duration(5 * time.Minute),
		},
		Upstream: Upstream{
			AirflowVersion: 3,
			JWTAudience:    "apache-airflow",
			JWTIssuer:      "airgate",
			JWTTTL:         Duration(5 * time.Minute),
			AuthManager:    "simple",
			Timeout:        Duration(60 * time.Second),
			MaxIdleConns:   256,
		},
		Audit: Audit{
			DB:                 "airgate.db",
			Mode:               "strict",
			CheckpointEvery:    1000,
			CheckpointInterval: Duration(60 * time.Second),
		},
		Keys: Keys{File: "airgate-keys.json"},
		Log:  Log{Level: "info"},

		Session: defaultSession(),

		Exchange: defaultExchange(),
		Rotation: defaultRotation(),
	}
}

// maxConfigSize bounds a configuration file.
const maxConfigSize = 1 << 20

// Parse decodes a YAML configuration on top of Default(). Unknown fields are
// errors. It does not validate: call Validate.
func Parse(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: reading: %w", err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("config: larger than %d bytes", maxConfigSize)
	}
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// Load reads and parses the file at path. Relative paths inside the file are
// resolved against the file's directory.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.dir = filepath.Dir(abs)
	return c, nil
}

// Path resolves a path from the config against the config file's directory.
// Absolute paths, DSNs and empty strings are returned unchanged.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || c.dir == "" || isDSN(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// SetDir sets the directory relative paths resolve against (for configs
// built in code rather than loaded from a file).
func (c *Config) SetDir(dir string) { c.dir = dir }

func isDSN(s string) bool {
	for _, p := range []string{"postgres://", "postgresql://", "file:"} {
		if len(s) >= len(p) && s[:len(p)] == p {
			return true
		}
	}
	return false
}

// Duration is a time.Duration written as a Go duration string ("90s",
// "5m").
type Duration time.Duration

// UnmarshalYAML decodes a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: want a duration such as 30s or 5m", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (want e.g. 30s or 5m)", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML encodes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
