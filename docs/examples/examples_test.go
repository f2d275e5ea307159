// Package examples holds the example configurations of airgate's docs; its
// tests load each one as airgate would and check that the steps of
// docs/entra.md, docs/airflow2.md and docs/airflow3.md agree with each
// other: what Entra is told, what airgate is configured with, and what
// Airflow is configured with.
package examples

import (
	"bufio"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/airgate/airgate/internal/authz"
	"github.com/airgate/airgate/internal/config"
)

// Microsoft Graph's application id and the ids of the application
// permissions airgate needs (Entra's well-known values).
const (
	graphAppID                = "00000003-0000-0000-c000-000000000000"
	groupMemberReadAll        = "98830695-27a2-44f7-8c18-0c3ebc9698f6"
	applicationReadWriteOwned = "18a4783c-866b-4cc7-a460-3d5e5662c884"
)

// loadConfig loads and validates an example as `airgate serve` would, with
// the secrets it names set in the environment.
func loadConfig(t *testing.T, name string) *config.Config {
	t.Helper()
	for _, env := range []string{"AIRGATE_ENTRA_CLIENT_SECRET", "AIRGATE_AIRFLOW_PASSWORD"} {
		t.Setenv(env, "example-secret-value")
	}
	t.Setenv("AIRGATE_KEK", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	cfg, err := config.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return cfg
}

func TestAirgateConfigs(t *testing.T) {
	for _, tc := range []struct {
		file    string
		version int
	}{
		{"airgate-airflow2.yaml", 2},
		{"airgate-airflow3.yaml", 3},
	} {
		t.Run(tc.file, func(t *testing.T) {
			cfg := loadConfig(t, tc.file)
			// Production settings: no dev mode, secrets outside the file,
			// Entra's real endpoints.
			if cfg.Dev {
				t.Error("dev: true in a production example")
			}
			for field, s := range map[string]config.Secret{
				"entra.client_secret": cfg.Entra.ClientSecret, "upstream.password": cfg.Upstream.Password, "rotation.kek": cfg.Rotation.KEK,
			} {
				if s.InsecureValue != "" {
					t.Errorf("%s holds the secret itself", field)
				}
			}
			if cfg.Entra.ClientSecret.IsZero() {
				t.Error("entra.client_secret is not set: browser sign-in and Graph need it")
			}
			if cfg.Entra.Authority != config.Default().Entra.Authority || cfg.Entra.GraphURL != config.Default().Entra.GraphURL {
				t.Errorf("authority %s, graph %s: want Entra's and Graph's own", cfg.Entra.Authority, cfg.Entra.GraphURL)
			}
			if u, err := url.Parse(cfg.PublicURL); err != nil || u.Scheme != "https" {
				t.Errorf("public_url %q is not https", cfg.PublicURL)
			}
			if cfg.Upstream.AirflowVersion != tc.version {
				t.Errorf("airflow_version = %d, want %d", cfg.Upstream.AirflowVersion, tc.version)
			}
			if tc.version == 2 {
				if cfg.Upstream.Username == "" {
					t.Error("no Airflow 2 service account")
				}
				if pw, err := cfg.Read(cfg.Upstream.Password); err != nil || pw == "" {
					t.Errorf("upstream.password: %v", err)
				}
			}
			if s, err := cfg.Read(cfg.Entra.ClientSecret); cfg.Entra.ClientSecret.Env != "" && (err != nil || s == "") {
				t.Errorf("entra.client_secret: %v", err)
			}
			if _, err := authz.LoadPolicy(cfg.Path(cfg.Policy.File)); err != nil {
				t.Errorf("policy %s: %v", cfg.Policy.File, err)
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	p, err := authz.LoadPolicy("policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if w := p.Warnings(); len(w) != 0 {
		t.Errorf("policy warnings: %v", w)
	}
}

// application is the part of a Microsoft Graph application object that
// entra-application.json sets.
type application struct {
	SignInAudience        string   `json:"signInAudience"`
	IdentifierURIs        []string `json:"identifierUris"`
	GroupMembershipClaims string   `json:"groupMembershipClaims"`
	Web                   struct {
		RedirectURIs          []string `json:"redirectUris"`
		ImplicitGrantSettings struct {
			EnableIDTokenIssuance     bool `json:"enableIdTokenIssuance"`
			EnableAccessTokenIssuance bool `json:"enableAccessTokenIssuance"`
		} `json:"implicitGrantSettings"`
	} `json:"web"`
	API struct {
		RequestedAccessTokenVersion int `json:"requestedAccessTokenVersion"`
		OAuth2PermissionScopes      []struct {
			ID, Value, Type string
			IsEnabled       bool `json:"isEnabled"`
		} `json:"oauth2PermissionScopes"`
	} `json:"api"`
	AppRoles []struct {
		ID                 string   `json:"id"`
		Value              string   `json:"value"`
		AllowedMemberTypes []string `json:"allowedMemberTypes"`
		IsEnabled          bool     `json:"isEnabled"`
	} `json:"appRoles"`
	OptionalClaims struct {
		AccessToken []struct {
			Name                 string   `json:"name"`
			AdditionalProperties []string `json:"additionalProperties"`
		} `json:"accessToken"`
	} `json:"optionalClaims"`
	RequiredResourceAccess []struct {
		ResourceAppID  string `json:"resourceAppId"`
		ResourceAccess []struct {
			ID, Type string
		} `json:"resourceAccess"`
	} `json:"requiredResourceAccess"`
}

// TestEntraApplication checks the app registration of docs/entra.md
// against the airgate configs and the policy.
func TestEntraApplication(t *testing.T) {
	b, err := os.ReadFile("entra-application.json")
	if err != nil {
		t.Fatal(err)
	}
	var app application
	if err := json.Unmarshal(b, &app); err != nil {
		t.Fatal(err)
	}
	if app.SignInAudience != "AzureADMyOrg" {
		t.Errorf("signInAudience = %q, want a single-tenant app", app.SignInAudience)
	}
	if app.Web.ImplicitGrantSettings.EnableAccessTokenIssuance || app.Web.ImplicitGrantSettings.EnableIDTokenIssuance {
		t.Error("implicit grant enabled: airgate uses the authorization code flow only")
	}
	// Step 5: security groups in tokens; step 6: v2 access tokens.
	if app.GroupMembershipClaims != "SecurityGroup" {
		t.Errorf("groupMembershipClaims = %q, want SecurityGroup", app.GroupMembershipClaims)
	}
	if app.API.RequestedAccessTokenVersion != 2 {
		t.Errorf("requestedAccessTokenVersion = %d, want 2", app.API.RequestedAccessTokenVersion)
	}
	idtyp := false
	for _, c := range app.OptionalClaims.AccessToken {
		idtyp = idtyp || (c.Name == "idtyp" && slices.Contains(c.AdditionalProperties, "include_user_token"))
	}
	if !idtyp {
		t.Error("no idtyp optional claim with include_user_token: app and user tokens would be told apart by guesswork")
	}
	// Step 3: the delegated scope.
	scope := false
	for _, s := range app.API.OAuth2PermissionScopes {
		scope = scope || (s.Value == "access_as_user" && s.Type == "User" && s.IsEnabled && s.ID != "")
	}
	if !scope || len(app.IdentifierURIs) == 0 {
		t.Fatalf("no App ID URI or no enabled access_as_user scope: %+v", app.API)
	}
	// Step 8: Graph application permissions.
	var graphRoles []string
	for _, r := range app.RequiredResourceAccess {
		if r.ResourceAppID != graphAppID {
			continue
		}
		for _, a := range r.ResourceAccess {
			if a.Type == "Role" {
				graphRoles = append(graphRoles, a.ID)
			}
		}
	}
	for name, id := range map[string]string{"GroupMember.Read.All": groupMemberReadAll, "Application.ReadWrite.OwnedBy": applicationReadWriteOwned} {
		if !slices.Contains(graphRoles, id) {
			t.Errorf("Graph application permission %s (%s) is not requested", name, id)
		}
	}
	// Step 4: every app role the policy maps exists and is enabled.
	roles := map[string]bool{}
	for _, r := range app.AppRoles {
		roles[r.Value] = r.IsEnabled && r.ID != "" && len(r.AllowedMemberTypes) > 0
	}
	for _, v := range []string{"Airflow.Viewer", "Airflow.Operator", "Airflow.Admin"} {
		if !roles[v] {
			t.Errorf("app role %s missing or disabled", v)
		}
	}
	pol, err := authz.LoadPolicy("policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range pol.Mappings() {
		if m.AppRole != "" && !roles[m.AppRole] {
			t.Errorf("policy maps app role %s, which the app registration does not define", m.AppRole)
		}
	}

	for _, file := range []string{"airgate-airflow2.yaml", "airgate-airflow3.yaml"} {
		cfg := loadConfig(t, file)
		// Step 2: the redirect URI airgate builds from public_url.
		if want := strings.TrimSuffix(cfg.PublicURL, "/") + "/oauth2/callback"; !slices.Contains(app.Web.RedirectURIs, want) {
			t.Errorf("%s: redirect URI %s is not registered (web.redirectUris %v)", file, want, app.Web.RedirectURIs)
		}
		// Step 3 and 6: the audiences of v1 (App ID URI) and v2 (client id)
		// tokens, and the token versions accepted.
		if !slices.Contains(cfg.Entra.Audiences, app.IdentifierURIs[0]) || !slices.Contains(cfg.Entra.Audiences, cfg.Entra.ClientID) {
			t.Errorf("%s: audiences %v lack the App ID URI %s or the client id", file, cfg.Entra.Audiences, app.IdentifierURIs[0])
		}
		if !slices.Contains(cfg.Entra.TokenVersions, "2.0") {
			t.Errorf("%s: token_versions %v refuse the v2 tokens the app registration asks for", file, cfg.Entra.TokenVersions)
		}
		// Entra puts amr only in v1 access tokens: with v2 only, a policy
		// condition on it would deny everyone it guards.
		raw, err := os.ReadFile(cfg.Path(cfg.Policy.File))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Roles map[string]struct{ When string }
		}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		for name, r := range doc.Roles {
			if !slices.Contains(cfg.Entra.TokenVersions, "1.0") && strings.Contains(r.When, "amr") {
				t.Errorf("%s accepts only v2 tokens, which carry no amr, but role %s has the condition %q", file, name, r.When)
			}
		}
		for _, s := range cfg.Session.Scopes {
			if strings.HasPrefix(s, "api://") && s != app.IdentifierURIs[0]+"/access_as_user" {
				t.Errorf("%s: session scope %s is not the registered scope", file, s)
			}
		}
	}
}

// readINI reads an airflow.cfg fragment: section -> key -> value.
func readINI(t *testing.T, name string) map[string]map[string]string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			out[section] = map[string]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: bad line %q", name, line)
			}
			out[section][strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAirflow3Config(t *testing.T) {
	cfg := loadConfig(t, "airgate-airflow3.yaml")
	ini := readINI(t, "airflow3.cfg")
	want := map[string]map[string]string{
		"core": {"auth_manager": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"},
		"api":  {"jwt_audience": cfg.Upstream.JWTAudience},
		"api_auth": {
			"trusted_jwks_url": strings.TrimSuffix(cfg.PublicURL, "/") + "/.well-known/jwks.json",
			"jwt_audience":     cfg.Upstream.JWTAudience,
			"jwt_issuer":       cfg.Upstream.JWTIssuer,
			"jwt_algorithm":    "EdDSA,ES256",
		},
	}
	if len(cfg.Upstream.AirflowKeys) != 1 || ini["api_auth"]["jwt_kid"] != cfg.Upstream.AirflowKeys[0].KID {
		t.Errorf("airflow3.cfg [api_auth] jwt_kid = %q, want the kid airgate publishes (upstream.airflow_keys %v)", ini["api_auth"]["jwt_kid"], cfg.Upstream.AirflowKeys)
	}
	if ini["api_auth"]["jwt_private_key_path"] == "" {
		t.Error("airflow3.cfg sets no jwt_private_key_path: Airflow would sign its own tokens with a symmetric secret airgate cannot publish")
	}
	for section, kv := range want {
		for k, v := range kv {
			if got := ini[section][k]; got != v {
				t.Errorf("airflow3.cfg [%s] %s = %q, want %q", section, k, got, v)
			}
		}
	}
	if cfg.Upstream.AuthManager != "simple" {
		t.Errorf("upstream.auth_manager = %q, want simple to match [core] auth_manager", cfg.Upstream.AuthManager)
	}
}

func TestAirflow2Config(t *testing.T) {
	ini := readINI(t, "airflow2.cfg")
	if got := ini["api"]["auth_backends"]; got != "airflow.providers.fab.auth_manager.api.auth.backend.basic_auth" {
		t.Errorf("airflow2.cfg [api] auth_backends = %q", got)
	}
}

// networkPolicy is the part of a Kubernetes NetworkPolicy the test reads.
type networkPolicy struct {
	Kind     string
	Metadata struct{ Name string }
	Spec     struct {
		PodSelector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"podSelector"`
		PolicyTypes []string `yaml:"policyTypes"`
		Ingress     []struct {
			From []struct {
				PodSelector struct {
					MatchLabels      map[string]string `yaml:"matchLabels"`
					MatchExpressions []any             `yaml:"matchExpressions"`
				} `yaml:"podSelector"`
			}
			Ports []struct{ Port int }
		}
	}
}

// TestNetworkPolicy checks that each NetworkPolicy admits airgate's pods
// on the port airgate's config sends to, and no rule admits every pod.
func TestNetworkPolicy(t *testing.T) {
	f, err := os.Open("networkpolicy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byComponent := map[string]networkPolicy{}
	dec := yaml.NewDecoder(f)
	for {
		var np networkPolicy
		if err := dec.Decode(&np); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if np.Kind != "NetworkPolicy" || !slices.Contains(np.Spec.PolicyTypes, "Ingress") || len(np.Spec.Ingress) == 0 {
			t.Fatalf("not an ingress NetworkPolicy: %+v", np)
		}
		byComponent[np.Spec.PodSelector.MatchLabels["component"]] = np
		for _, in := range np.Spec.Ingress {
			for _, from := range in.From {
				if len(from.PodSelector.MatchLabels) == 0 && len(from.PodSelector.MatchExpressions) == 0 {
					t.Errorf("%s: an ingress rule admits every pod", np.Metadata.Name)
				}
			}
		}
	}
	for file, component := range map[string]string{"airgate-airflow2.yaml": "webserver", "airgate-airflow3.yaml": "api-server"} {
		np, ok := byComponent[component]
		if !ok {
			t.Errorf("no NetworkPolicy for Airflow's %s", component)
			continue
		}
		u, err := url.Parse(loadConfig(t, file).Upstream.URL)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, in := range np.Spec.Ingress {
			fromAirgate := false
			for _, from := range in.From {
				fromAirgate = fromAirgate || from.PodSelector.MatchLabels["app.kubernetes.io/name"] == "airgate"
			}
			for _, p := range in.Ports {
				found = found || fromAirgate && strconv.Itoa(p.Port) == u.Port()
			}
		}
		if !found {
			t.Errorf("%s: the NetworkPolicy %s does not admit airgate on port %s of upstream.url", file, np.Metadata.Name, u.Port())
		}
	}
}
