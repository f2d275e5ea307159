package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid value")

// FieldError is one problem with one field: its path in the file (e.g.
// "entra.tenant_id"), the offending value, and what is wrong.
type FieldError struct {
	Field string
	Value any
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Value == nil {
		return fmt.Sprintf("%s: %s", e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %q %s", e.Field, fmt.Sprint(e.Value), e.Msg)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// IsGUID reports whether s is a GUID such as Entra's tenant and object ids.
func IsGUID(s string) bool { return guidRE.MatchString(s) }

// Validate checks the whole configuration and returns every problem, joined.
// It has no side effects and reads no files.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field string, value any, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Value: value, Msg: fmt.Sprintf(format, args...)})
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", c.Listen, "is not HOST:PORT")
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("public_url", c.PublicURL, "is not an http(s) URL")
		} else if u.Scheme == "http" && !c.Dev {
			bad("public_url", c.PublicURL, "is plain http: sign-in cookies need https outside dev mode")
		}
	}
	for i, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				bad(fmt.Sprintf("trusted_proxies[%d]", i), p, "is not a CIDR or IP address")
			}
		}
	}

	e := c.Entra
	if e.TenantID == "" {
		bad("entra.tenant_id", nil, "is required")
	} else if !IsGUID(e.TenantID) {
		bad("entra.tenant_id", e.TenantID, "is not a GUID")
	}
	for i, t := range e.AllowedTenants {
		if t != "*" && !IsGUID(t) {
			bad(fmt.Sprintf("entra.allowed_tenants[%d]", i), t, `is not a GUID or "*"`)
		}
	}
	if e.ClientID == "" {
		bad("entra.client_id", nil, "is required")
	} else if !IsGUID(e.ClientID) {
		bad("entra.client_id", e.ClientID, "is not a GUID")
	}
	for i, a := range e.Audiences {
		if a == "" {
			bad(fmt.Sprintf("entra.audiences[%d]", i), a, "is empty")
		}
	}
	c.checkURL(&errs, "entra.authority", e.Authority, true)
	c.checkURL(&errs, "entra.graph_url", e.GraphURL, true)
	if e.JWKSURL != "" {
		c.checkURL(&errs, "entra.jwks_url", strings.ReplaceAll(e.JWKSURL, "{tenantid}", "t"), true)
	}
	if !strings.Contains(e.IssuerV1, "{tenantid}") {
		bad("entra.issuer_v1", e.IssuerV1, "must contain {tenantid}")
	}
	c.checkSecret(&errs, "entra.client_secret", e.ClientSecret)
	for i, a := range e.Algorithms {
		switch a {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512":
		default:
			bad(fmt.Sprintf("entra.algorithms[%d]", i), a, "is not an asymmetric JWS algorithm (RS256, PS256, ES256, ...)")
		}
	}
	if len(e.Algorithms) == 0 {
		bad("entra.algorithms", nil, "is empty: no token could be verified")
	}
	if d := e.ClockSkew.D(); d < 0 || d > 10*60e9 {
		bad("entra.clock_skew", e.ClockSkew.D().String(), "must be between 0 and 10m")
	}
	if len(e.TokenVersions) == 0 {
		bad("entra.token_versions", nil, "is empty: no token could be verified")
	}
	for i, v := range e.TokenVersions {
		if v != "1.0" && v != "2.0" {
			bad(fmt.Sprintf("entra.token_versions[%d]", i), v, `must be "1.0" or "2.0"`)
		}
	}
	if e.MembershipTTL.D() <= 0 {
		bad("entra.membership_ttl", e.MembershipTTL.D().String(), "must be positive")
	}

	if c.Policy.File == "" {
		bad("policy.file", nil, "is required")
	}

	u := c.Upstream
	if u.URL == "" {
		bad("upstream.url", nil, "is required")
	} else {
		c.checkURL(&errs, "upstream.url", u.URL, false)
	}
	switch u.AirflowVersion {
	case 2:
		if u.Username == "" {
			bad("upstream.username", nil, "is required for Airflow 2 (the basic-auth service account)")
		}
		if u.Password.IsZero() {
			bad("upstream.password", nil, "is required for Airflow 2 (the basic-auth service account)")
		}
	case 3:
		if u.JWTAudience == "" {
			bad("upstream.jwt_audience", nil, "is required for Airflow 3")
		}
		if u.JWTTTL.D() <= 0 || u.JWTTTL.D() > 3600e9 {
			bad("upstream.jwt_ttl", u.JWTTTL.D().String(), "must be between 1s and 1h")
		}
		if u.AuthManager != "simple" && u.AuthManager != "fab" {
			bad("upstream.auth_manager", u.AuthManager, `must be "simple" or "fab"`)
		}
		for i, k := range u.AirflowKeys {
			if k.File == "" {
				bad(fmt.Sprintf("upstream.airflow_keys[%d].file", i), nil, "is required")
			}
			if k.KID == "" {
				bad(fmt.Sprintf("upstream.airflow_keys[%d].kid", i), nil, "is required: set the same value as Airflow's [api_auth] jwt_kid")
			}
		}
	default:
		bad("upstream.airflow_version", u.AirflowVersion, "must be 2 or 3")
	}
	c.checkSecret(&errs, "upstream.password", u.Password)
	if u.Timeout.D() <= 0 {
		bad("upstream.timeout", u.Timeout.D().String(), "must be positive")
	}
	if u.MaxIdleConns < 1 || u.MaxIdleConns > 10000 {
		bad("upstream.max_idle_conns", u.MaxIdleConns, "must be between 1 and 10000")
	}
	if u.InsecureSkipVerify && !c.Dev {
		bad("upstream.insecure_skip_verify", true, "is refused outside dev mode")
	}

	if c.Audit.DB == "" {
		bad("audit.db", nil, "is required")
	}
	if c.Audit.Mode != "strict" && c.Audit.Mode != "fast" {
		bad("audit.mode", c.Audit.Mode, `must be "strict" or "fast"`)
	}
	if c.Audit.CheckpointEvery < 1 {
		bad("audit.checkpoint_every", c.Audit.CheckpointEvery, "must be at least 1")
	}
	if c.Audit.CheckpointInterval.D() <= 0 {
		bad("audit.checkpoint_interval", c.Audit.CheckpointInterval.D().String(), "must be positive")
	}
	if c.Keys.File == "" {
		bad("keys.file", nil, "is required")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", c.Log.Level, "must be debug, info, warn or error")
	}
	c.validateSession(&errs)
	errs = append(errs, c.validateExchange()...)
	errs = append(errs, c.validateRotation()...)
	return errors.Join(errs...)
}

func (c *Config) checkURL(errs *[]error, field, v string, needHTTPS bool) {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		*errs = append(*errs, &FieldError{Field: field, Value: v, Msg: "is not an http(s) URL"})
		return
	}
	if needHTTPS && u.Scheme != "https" && !c.Dev {
		*errs = append(*errs, &FieldError{Field: field, Value: v, Msg: "must use https outside dev mode"})
	}
}

func (c *Config) checkSecret(errs *[]error, field string, s Secret) {
	n := 0
	for _, set := range []bool{s.File != "", s.Env != "", s.InsecureValue != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		*errs = append(*errs, &FieldError{Field: field, Msg: "sets more than one of file, env and insecure_value"})
	}
	if s.InsecureValue != "" && !c.Dev {
		// The value itself is never echoed.
		*errs = append(*errs, &FieldError{Field: field + ".insecure_value", Msg: "is refused outside dev mode: use file or env"})
	}
}
