package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Exchange configures airgate as a token issuer for jobs and AI agents:
// the RFC 8693 token exchange at POST /oauth2/token, which turns a
// Microsoft Entra ID access token into a short-lived airgate token limited
// to named DAGs and actions (docs/agents.md).
type Exchange struct {
	// Enabled turns the exchange endpoint, the discovery document and the
	// acceptance of exchanged tokens on. Default false.
	Enabled bool `yaml:"enabled"`
	// Issuer is airgate's issuer URL, the iss of exchanged tokens and the
	// base of the discovery document. Default public_url. It must differ
	// from upstream.jwt_issuer.
	Issuer string `yaml:"issuer"`
	// Audiences are the audiences a token may be requested for; the first
	// is the default. Name Airflow instances here when several gateways
	// share a keyring. They must not include upstream.jwt_audience, or
	// Airflow 3 would accept exchanged tokens itself. Default [airgate].
	Audiences []string `yaml:"audiences"`
	// MaxTTL bounds every exchanged token's lifetime. Default 1h; at most
	// 24h.
	MaxTTL Duration `yaml:"max_ttl"`
	// ScheduleGrace is added to the shortest schedule interval of the
	// scheduled DAGs a scope names to bound the token's lifetime. Default 5m.
	ScheduleGrace Duration `yaml:"schedule_grace"`
	// SingleUseSubjectTokens refuses a subject token that was already
	// exchanged (remembered by its SHA-256 until it expires, in the state
	// database). Clients must then ask Entra for a fresh token for each
	// exchange. Default true.
	SingleUseSubjectTokens bool `yaml:"single_use_subject_tokens"`
	// RequireClientAuth makes every exchange authenticate the exchanging
	// party: an actor_token, or client credentials (HTTP Basic or
	// client_id/client_secret) of one of Clients. Default false.
	RequireClientAuth bool `yaml:"require_client_auth"`
	// Clients are the clients that may authenticate with a secret.
	Clients []ExchangeClient `yaml:"clients"`
	// AllowedActors lists the application (client) ids that may act for
	// a subject with an actor_token. Empty: any app whose own policy
	// grants the scope.
	AllowedActors []string `yaml:"allowed_actors"`
	// RateLimit bounds exchanges per subject.
	RateLimit ExchangeRateLimit `yaml:"rate_limit"`
	// StateDB is the state database for revocations and used subject
	// tokens: a SQLite path or a postgres:// DSN. Replicas MUST share it.
	// Default: audit.db (the same database as the audit log).
	StateDB string `yaml:"state_db"`
	// RevocationMaxStaleness bounds how long a revocation made elsewhere
	// (another replica, `airgate tokens revoke`) may take to reach this
	// one; 0s reads the database on every request. Default 1s; at most 1m.
	RevocationMaxStaleness Duration `yaml:"revocation_max_staleness"`
}

// ExchangeClient is a client that authenticates to the exchange with a
// secret.
type ExchangeClient struct {
	// ID is the client_id.
	ID string `yaml:"id"`
	// Secret is the client secret (file or env; insecure_value in dev).
	Secret Secret `yaml:"secret"`
}

// ExchangeRateLimit is a token bucket per subject.
type ExchangeRateLimit struct {
	// PerMinute is the sustained rate; 0 disables the limit. Default 30.
	PerMinute int `yaml:"per_minute"`
	// Burst is the bucket size. Default 10.
	Burst int `yaml:"burst"`
}

// defaultExchange returns the exchange section's defaults.
func defaultExchange() Exchange {
	return Exchange{
		Audiences:              []string{"airgate"},
		MaxTTL:                 Duration(time.Hour),
		ScheduleGrace:          Duration(5 * time.Minute),
		SingleUseSubjectTokens: true,
		RateLimit:              ExchangeRateLimit{PerMinute: 30, Burst: 10},
		RevocationMaxStaleness: Duration(time.Second),
	}
}

// IssuerURL returns the exchange's issuer: Issuer, or PublicURL without a
// trailing slash.
func (c *Config) IssuerURL() string {
	if c.Exchange.Issuer != "" {
		return strings.TrimSuffix(c.Exchange.Issuer, "/")
	}
	return strings.TrimSuffix(c.PublicURL, "/")
}

// ExchangeStateDB returns the state database of the exchange: StateDB, or
// the audit database, resolved against the config file's directory.
func (c *Config) ExchangeStateDB() string {
	if c.Exchange.StateDB != "" {
		return c.Path(c.Exchange.StateDB)
	}
	return c.Path(c.Audit.DB)
}

// validateExchange checks the exchange section.
func (c *Config) validateExchange() []error {
	var errs []error
	bad := func(field string, value any, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Value: value, Msg: fmt.Sprintf(format, args...)})
	}
	e := c.Exchange
	if e.Issuer != "" {
		c.checkURL(&errs, "exchange.issuer", e.Issuer, true)
	}
	if !e.Enabled {
		return errs
	}
	iss := c.IssuerURL()
	switch {
	case iss == "":
		bad("exchange.issuer", nil, "is required when the exchange is enabled (or set public_url)")
	case iss == c.Upstream.JWTIssuer:
		bad("exchange.issuer", iss, "must differ from upstream.jwt_issuer: Airflow would take exchanged tokens for its own")
	default:
		if u, err := url.Parse(iss); err != nil || u.RawQuery != "" || u.Fragment != "" {
			bad("exchange.issuer", iss, "must be a URL without query or fragment")
		}
	}
	if len(e.Audiences) == 0 {
		bad("exchange.audiences", nil, "is empty: no token could be issued")
	}
	for i, a := range e.Audiences {
		switch {
		case strings.TrimSpace(a) == "" || strings.ContainsAny(a, " \t\n"):
			bad(fmt.Sprintf("exchange.audiences[%d]", i), a, "must be a non-empty word")
		case a == c.Upstream.JWTAudience:
			bad(fmt.Sprintf("exchange.audiences[%d]", i), a, "is upstream.jwt_audience: Airflow 3 would accept exchanged tokens directly")
		}
	}
	if d := e.MaxTTL.D(); d < time.Minute || d > 24*time.Hour {
		bad("exchange.max_ttl", d.String(), "must be between 1m and 24h")
	}
	if d := e.ScheduleGrace.D(); d < 0 || d > time.Hour {
		bad("exchange.schedule_grace", d.String(), "must be between 0s and 1h")
	}
	seen := map[string]bool{}
	for i, cl := range e.Clients {
		f := fmt.Sprintf("exchange.clients[%d]", i)
		if cl.ID == "" || strings.ContainsAny(cl.ID, ": \t\n") {
			bad(f+".id", cl.ID, "must be a non-empty word without ':'")
		} else if seen[cl.ID] {
			bad(f+".id", cl.ID, "is listed twice")
		}
		seen[cl.ID] = true
		if cl.Secret.IsZero() {
			bad(f+".secret", nil, "is required")
		}
		c.checkSecret(&errs, f+".secret", cl.Secret)
	}
	for i, a := range e.AllowedActors {
		if !IsGUID(a) {
			bad(fmt.Sprintf("exchange.allowed_actors[%d]", i), a, "is not an application (client) id")
		}
	}
	if e.RateLimit.PerMinute < 0 || e.RateLimit.PerMinute > 100000 {
		bad("exchange.rate_limit.per_minute", e.RateLimit.PerMinute, "must be between 0 (off) and 100000")
	}
	if e.RateLimit.Burst < 1 || e.RateLimit.Burst > 10000 {
		bad("exchange.rate_limit.burst", e.RateLimit.Burst, "must be between 1 and 10000")
	}
	if d := e.RevocationMaxStaleness.D(); d < 0 || d > time.Minute {
		bad("exchange.revocation_max_staleness", d.String(), "must be between 0s and 1m")
	}
	return errs
}
