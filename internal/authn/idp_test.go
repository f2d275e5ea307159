package authn_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/authn"
	"github.com/airgate/airgate/internal/identity"
	"github.com/airgate/airgate/internal/idp"
)

// countingTransport counts requests whose path ends in /keys.
type countingTransport struct {
	base http.RoundTripper
	keys atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/keys") {
		c.keys.Add(1)
	}
	return c.base.RoundTrip(r)
}

// startEmulator starts the embedded Entra emulator on tenant and returns
// its ready info and an HTTP client that trusts its CA file, as airgate
// would be configured.
func startEmulator(t *testing.T, tenant *idp.Tenant) (*idp.Server, idp.ReadyInfo, *http.Client, *countingTransport) {
	t.Helper()
	srv, err := idp.New(idp.Options{Tenant: tenant})
	if err != nil {
		t.Fatalf("idp.New() = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); srv.Close() })
	info, err := srv.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	pemBytes, err := os.ReadFile(info.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("CA file holds no certificate")
	}
	ct := &countingTransport{base: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return srv, info, &http.Client{Transport: ct, Timeout: 10 * time.Second}, ct
}

// emulatorOptions configures a verifier for the emulator's tenant the way
// the server would: issuer templates on the emulator's host and discovery.
func emulatorOptions(info idp.ReadyInfo, hc *http.Client) authn.Options {
	host := info.AuthorityHost // https://127.0.0.1:PORT/
	return authn.Options{
		Tenants:      []string{info.TenantID},
		IssuerV2:     host + "{tenantid}/v2.0",
		IssuerV1:     host + "{tenantid}/",
		DiscoveryURL: host + "{tenantid}/v2.0/.well-known/openid-configuration",
		Audiences:    []string{idp.DemoAirgateClientID, idp.DemoAirgateAppIDURI},
		HTTPClient:   hc,
	}
}

func TestEmulatorIssuedTokens(t *testing.T) {
	srv, info, hc, ct := startEmulator(t, nil)
	v, err := authn.New(emulatorOptions(info, hc))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx := context.Background()
	if err := v.Ready(ctx); err != nil {
		t.Fatalf("Ready() = %v", err)
	}
	c, err := idp.NewClient(info)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("user token", func(t *testing.T) {
		tok, err := c.Password(ctx, "airgate", "alice", "api://airgate/access_as_user")
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.Verify(ctx, tok.AccessToken)
		if err != nil {
			t.Fatalf("Verify() = %v", err)
		}
		if p.Kind != identity.User || p.TenantID != idp.DemoTenantID || p.ObjectID != idp.DemoAliceID ||
			p.UPN != "alice@airgate.example" || p.TokenVersion != "2.0" || p.Audience != idp.DemoAirgateClientID ||
			p.Issuer != info.Issuer || !slices.Contains(p.Scopes, "access_as_user") ||
			!slices.Equal(p.Groups, []string{idp.DemoGroupTeamAOperatorsID}) ||
			!slices.Equal(p.AppRoles, []string{"Airflow.Operator"}) || p.GroupsOverage {
			t.Errorf("Verify() = %+v", *p)
		}
	})
	t.Run("user token with groups overage", func(t *testing.T) {
		tok, err := c.Password(ctx, "airgate", "frank", "api://airgate/access_as_user")
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.Verify(ctx, tok.AccessToken)
		if err != nil {
			t.Fatalf("Verify() = %v", err)
		}
		if !p.GroupsOverage || len(p.Groups) != 0 || p.ObjectID != idp.DemoFrankID {
			t.Errorf("Verify() = %+v, want groups overage", *p)
		}
	})
	t.Run("app token", func(t *testing.T) {
		tok, err := c.ClientCredentials(ctx, "etl-agent", "api://airgate/.default")
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.Verify(ctx, tok.AccessToken)
		if err != nil {
			t.Fatalf("Verify() = %v", err)
		}
		if p.Kind != identity.App || p.AppID != idp.DemoETLAgentClientID || p.ObjectID != idp.DemoETLAgentSPID ||
			p.UPN != "" || !slices.Equal(p.AppRoles, []string{"Airflow.Operator"}) || len(p.Scopes) != 0 {
			t.Errorf("Verify() = %+v", *p)
		}
	})
	t.Run("Graph token", func(t *testing.T) {
		tok, err := c.Password(ctx, "airgate", "alice", "User.Read")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, tok.AccessToken); authn.CodeOf(err) != authn.CodeGraphToken {
			t.Errorf("Verify(Graph token) = %v, want graph-token", err)
		}
	})
	t.Run("ID token is not a bearer credential", func(t *testing.T) {
		// Its aud is airgate's client id, an accepted audience, but it
		// names no client (azp).
		tok, err := c.Password(ctx, "airgate", "bob", "api://airgate/access_as_user")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, tok.IDToken); authn.CodeOf(err) != authn.CodeNotAccessToken {
			t.Errorf("Verify(ID token) = %v, want not-access-token", err)
		}
	})
	t.Run("key rollover", func(t *testing.T) {
		// The emulator publishes its next key before signing with it, so
		// the keys fetched at start verify tokens signed after the roll.
		if err := srv.RollKeys(); err != nil {
			t.Fatal(err)
		}
		tok, err := c.ClientCredentials(ctx, "etl-agent", "api://airgate/.default")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, tok.AccessToken); err != nil {
			t.Fatalf("Verify() after the roll = %v", err)
		}
	})
	if got := ct.keys.Load(); got != 1 {
		t.Errorf("JWKS fetches = %d, want 1", got)
	}
}

func TestEmulatorV1Tokens(t *testing.T) {
	tenant := idp.Demo()
	for i := range tenant.Applications {
		if tenant.Applications[i].AppID == idp.DemoAirgateClientID {
			tenant.Applications[i].RequestedAccessTokenVersion = 1
		}
	}
	_, info, hc, _ := startEmulator(t, tenant)
	opts := emulatorOptions(info, hc)
	// The explicit JWKS URL template instead of discovery.
	opts.DiscoveryURL = ""
	opts.JWKSURL = strings.Replace(info.JWKSURI, info.TenantID, "{tenantid}", 1)
	v, err := authn.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx := context.Background()
	c, err := idp.NewClient(info)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.Password(ctx, "airgate", "dave", "api://airgate/access_as_user")
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("Verify(v1) = %v", err)
	}
	if p.Kind != identity.User || p.TokenVersion != "1.0" || p.Issuer != info.IssuerV1 ||
		p.UPN != "dave@airgate.example" || p.ObjectID != idp.DemoDaveID ||
		!slices.Equal(p.AppRoles, []string{"Airflow.Admin"}) {
		t.Errorf("Verify(v1) = %+v", *p)
	}
	app, err := c.ClientCredentials(ctx, "etl-agent", "api://airgate/.default")
	if err != nil {
		t.Fatal(err)
	}
	p, err = v.Verify(ctx, app.AccessToken)
	if err != nil {
		t.Fatalf("Verify(v1 app) = %v", err)
	}
	if p.Kind != identity.App || p.AppID != idp.DemoETLAgentClientID || p.TokenVersion != "1.0" {
		t.Errorf("Verify(v1 app) = %+v", *p)
	}
}
