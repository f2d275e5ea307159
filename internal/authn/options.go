package authn

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/airgate/airgate/internal/authn/jwks"
)

// Defaults for the zero fields of [Options].
const (
	// TenantPlaceholder stands for the tenant id in issuer and URL
	// templates. It is matched case-insensitively.
	TenantPlaceholder = "{tenantid}"
	// AnyTenant in Options.Tenants accepts every tenant (multi-tenant).
	AnyTenant = "*"

	DefaultIssuerV2      = "https://login.microsoftonline.com/{tenantid}/v2.0"
	DefaultIssuerV1      = "https://sts.windows.net/{tenantid}/"
	DefaultJWKSURL       = "https://login.microsoftonline.com/{tenantid}/discovery/v2.0/keys"
	DefaultClockSkew     = 2 * time.Minute
	DefaultCacheSize     = 10000
	DefaultMaxTokenBytes = 16 << 10

	// Token versions, the values of the ver claim.
	Version1 = "1.0"
	Version2 = "2.0"
)

// Options configure a [Verifier]. Zero fields take the defaults named in
// their comments. Options are read once by [New]; later changes have no
// effect.
type Options struct {
	// Tenants lists the tenant ids (GUIDs) whose tokens are accepted, or
	// holds AnyTenant ("*") to accept any tenant whose token's issuer is the
	// issuer template filled in with the token's own tid. Required. Keys
	// are always fetched from the token's tenant-specific JWKS.
	Tenants []string

	// IssuerV2 and IssuerV1 are the issuer templates of v2 and v1 tokens;
	// each MUST contain {tenantid} once. Defaults DefaultIssuerV2
	// (https://login.microsoftonline.com/{tenantid}/v2.0) and
	// DefaultIssuerV1 (https://sts.windows.net/{tenantid}/).
	IssuerV2, IssuerV1 string

	// JWKSURL is the template of the tenant's key set URL, used for tokens
	// of both versions. When it is empty and DiscoveryURL is set, the key
	// set URL is the jwks_uri of the tenant's v2 discovery document. When
	// both are empty it is DefaultJWKSURL
	// (https://login.microsoftonline.com/{tenantid}/discovery/v2.0/keys).
	JWKSURL string
	// DiscoveryURL is the template of the v2 OpenID discovery document,
	// e.g. https://login.microsoftonline.com/{tenantid}/v2.0/.well-known/openid-configuration.
	// The document's issuer must be IssuerV2 for the tenant. A discovered
	// jwks_uri is kept for the life of the Verifier.
	DiscoveryURL string

	// Audiences are the accepted aud values: the API's client id (GUID)
	// and/or App ID URIs. An App ID URI matches with and without a
	// trailing slash. Required.
	Audiences []string

	// Algorithms is the allow-list of JWS algorithms; default ["RS256"],
	// the only one Entra uses. Allowed: RS256/384/512, PS256/384/512,
	// ES256/384/512. "none" and HMAC algorithms are refused.
	Algorithms []string

	// ClockSkew is the tolerance on exp, nbf and iat; default 2 min.
	// Negative means none.
	ClockSkew time.Duration

	// Versions lists the accepted token versions, "1.0" and/or "2.0";
	// default both.
	Versions []string

	// HTTPClient fetches discovery documents and key sets; default
	// http.DefaultClient. Requests are bounded by their own timeouts.
	HTTPClient *http.Client

	// Now returns the current time; default time.Now.
	Now func() time.Time

	// Keys is a key-set cache to share; default a new cache built from
	// HTTPClient and Now, closed by Verifier.Close.
	Keys *jwks.Cache

	// CacheSize bounds the verified-token cache (entries); default 10000.
	// Negative disables the cache.
	CacheSize int

	// MaxTokenBytes bounds the raw token; default 16 KiB.
	MaxTokenBytes int
}

// config is Options checked and prepared for use.
type config struct {
	tenants   []string // lowercase GUIDs; nil when any tenant is accepted
	anyTenant bool
	issuer    map[string]template // by version
	jwksURL   string              // template, or "" to discover
	discovery string              // template
	audiences map[string]bool
	algs      map[string]bool
	algList   []string
	skew      time.Duration
	client    *http.Client
	now       func() time.Time
	cacheSize int
	maxBytes  int
}

// template is an issuer template split around {tenantid}, so that a
// candidate can be matched without building a string.
type template struct {
	prefix, suffix string
}

func (t template) fill(tid string) string { return t.prefix + tid + t.suffix }

// matches reports whether s is the template filled in with tid.
func (t template) matches(s, tid string) bool {
	return len(s) == len(t.prefix)+len(tid)+len(t.suffix) &&
		strings.HasPrefix(s, t.prefix) && strings.HasSuffix(s, t.suffix) &&
		s[len(t.prefix):len(t.prefix)+len(tid)] == tid
}

var allowedAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
}

// normalizeTemplate lower-cases every spelling of {tenantid}.
func normalizeTemplate(s string) string {
	var b strings.Builder
	n := len(TenantPlaceholder)
	for i := 0; i < len(s); {
		if i+n <= len(s) && strings.EqualFold(s[i:i+n], TenantPlaceholder) {
			b.WriteString(TenantPlaceholder)
			i += n
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

func splitTemplate(field, s string) (template, error) {
	s = normalizeTemplate(s)
	if strings.Count(s, TenantPlaceholder) != 1 {
		return template{}, fmt.Errorf("%s %q must contain %s exactly once", field, s, TenantPlaceholder)
	}
	if err := checkURL(strings.Replace(s, TenantPlaceholder, sampleTenant, 1)); err != nil {
		return template{}, fmt.Errorf("%s %q: %w", field, s, err)
	}
	i := strings.Index(s, TenantPlaceholder)
	return template{prefix: s[:i], suffix: s[i+len(TenantPlaceholder):]}, nil
}

const sampleTenant = "00000000-0000-0000-0000-000000000000"

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return errors.New("not an absolute http(s) URL")
	}
	return nil
}

// compile checks o and fills in defaults; it reports every problem.
func (o Options) compile() (*config, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	c := &config{
		issuer:    map[string]template{},
		audiences: map[string]bool{},
		algs:      map[string]bool{},
		skew:      o.ClockSkew,
		client:    o.HTTPClient,
		now:       o.Now,
		cacheSize: o.CacheSize,
		maxBytes:  o.MaxTokenBytes,
	}

	if len(o.Tenants) == 0 {
		bad("Tenants: at least one tenant id or %q is required", AnyTenant)
	}
	for _, t := range o.Tenants {
		switch {
		case t == AnyTenant:
			c.anyTenant = true
		case isGUID(t):
			c.tenants = append(c.tenants, strings.ToLower(t))
		default:
			bad("Tenants: %q is neither a tenant id (GUID) nor %q", t, AnyTenant)
		}
	}

	versions := o.Versions
	if len(versions) == 0 {
		versions = []string{Version1, Version2}
	}
	for _, v := range versions {
		var field, tmpl, def string
		switch v {
		case Version1:
			field, tmpl, def = "IssuerV1", o.IssuerV1, DefaultIssuerV1
		case Version2:
			field, tmpl, def = "IssuerV2", o.IssuerV2, DefaultIssuerV2
		default:
			bad("Versions: %q is not %q or %q", v, Version1, Version2)
			continue
		}
		if tmpl == "" {
			tmpl = def
		}
		t, err := splitTemplate(field, tmpl)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.issuer[v] = t
	}

	switch {
	case o.JWKSURL != "":
		c.jwksURL = normalizeTemplate(o.JWKSURL)
		if err := checkURL(strings.ReplaceAll(c.jwksURL, TenantPlaceholder, sampleTenant)); err != nil {
			bad("JWKSURL %q: %w", o.JWKSURL, err)
		}
	case o.DiscoveryURL != "":
		c.discovery = normalizeTemplate(o.DiscoveryURL)
		if strings.Count(c.discovery, TenantPlaceholder) != 1 {
			bad("DiscoveryURL %q must contain %s exactly once", o.DiscoveryURL, TenantPlaceholder)
		} else if err := checkURL(strings.ReplaceAll(c.discovery, TenantPlaceholder, sampleTenant)); err != nil {
			bad("DiscoveryURL %q: %w", o.DiscoveryURL, err)
		}
		if _, ok := c.issuer[Version2]; !ok && o.IssuerV2 == "" {
			// Discovery checks the document's issuer against IssuerV2
			// even when only v1 tokens are accepted.
			c.issuer[Version2], _ = splitTemplate("IssuerV2", DefaultIssuerV2)
		}
	default:
		c.jwksURL = DefaultJWKSURL
	}

	if len(o.Audiences) == 0 {
		bad("Audiences: at least one audience is required")
	}
	for _, a := range o.Audiences {
		if strings.TrimSpace(a) == "" {
			bad("Audiences: empty audience")
			continue
		}
		if isGUID(a) {
			c.audiences[strings.ToLower(a)] = true
			continue
		}
		base := strings.TrimSuffix(a, "/")
		c.audiences[base] = true
		c.audiences[base+"/"] = true
	}

	algs := o.Algorithms
	if len(algs) == 0 {
		algs = []string{"RS256"}
	}
	for _, a := range algs {
		if !allowedAlgs[a] {
			bad("Algorithms: %q is not an allowed asymmetric JWS algorithm", a)
			continue
		}
		if !c.algs[a] {
			c.algs[a] = true
			c.algList = append(c.algList, a)
		}
	}

	switch {
	case c.skew == 0:
		c.skew = DefaultClockSkew
	case c.skew < 0:
		c.skew = 0
	}
	if c.client == nil {
		c.client = http.DefaultClient
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.cacheSize == 0 {
		c.cacheSize = DefaultCacheSize
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxTokenBytes
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("authn: invalid options: %w", err)
	}
	return c, nil
}

// isGUID reports whether s has the 8-4-4-4-12 hex form of a GUID.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
