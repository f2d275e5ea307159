package idp

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func getJSON(t *testing.T, hc *http.Client, target string) (int, map[string]any) {
	t.Helper()
	resp, err := hc.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestDiscoveryDocuments(t *testing.T) {
	s, info := startServer(t, Options{})
	base := strings.TrimSuffix(info.AuthorityHost, "/")
	tests := []struct {
		name, path string
		want       map[string]any
	}{
		{"v2 tenant", "/" + DemoTenantID + "/v2.0/.well-known/openid-configuration", map[string]any{
			"issuer": info.Issuer, "token_endpoint": info.TokenEndpoint, "authorization_endpoint": info.AuthorizeEndpoint,
			"jwks_uri": info.JWKSURI,
		}},
		{"v2 by domain", "/" + DemoDomain + "/v2.0/.well-known/openid-configuration", map[string]any{"issuer": info.Issuer}},
		{"v1 tenant", "/" + DemoTenantID + "/.well-known/openid-configuration", map[string]any{
			"issuer": info.IssuerV1, "token_endpoint": info.Authority + "/oauth2/token", "jwks_uri": info.JWKSURIV1,
			"microsoft_multi_refresh_token": true,
		}},
		{"v2 common", "/common/v2.0/.well-known/openid-configuration", map[string]any{
			"issuer": base + "/{tenantid}/v2.0", "token_endpoint": base + "/common/oauth2/v2.0/token",
		}},
		{"v2 organizations", "/organizations/v2.0/.well-known/openid-configuration", map[string]any{"issuer": base + "/{tenantid}/v2.0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, doc := getJSON(t, s.HTTPClient(), base+tc.path)
			if status != 200 {
				t.Fatalf("status %d", status)
			}
			for k, v := range tc.want {
				if doc[k] != v {
					t.Errorf("%s = %v, want %v", k, doc[k], v)
				}
			}
			if algs := strs(doc["id_token_signing_alg_values_supported"]); len(algs) != 1 || algs[0] != "RS256" {
				t.Errorf("algs = %v", algs)
			}
		})
	}
	t.Run("v1 keys have no issuer", func(t *testing.T) {
		_, set := getJSON(t, s.HTTPClient(), info.JWKSURIV1)
		keys := set["keys"].([]any)
		if len(keys) < 2 || keys[0].(map[string]any)["issuer"] != nil {
			t.Errorf("v1 JWKS = %v", set)
		}
	})
	t.Run("instance discovery", func(t *testing.T) {
		_, d := getJSON(t, s.HTTPClient(), base+"/common/discovery/instance?api-version=1.1&authorization_endpoint="+info.AuthorizeEndpoint)
		if d["tenant_discovery_endpoint"] != info.Issuer+"/.well-known/openid-configuration" || d["metadata"] == nil {
			t.Errorf("instance discovery = %v", d)
		}
	})
	t.Run("user realm", func(t *testing.T) {
		_, d := getJSON(t, s.HTTPClient(), base+"/common/UserRealm/alice@airgate.example?api-version=1.0")
		if d["account_type"] != "Managed" || d["domain_name"] != DemoDomain {
			t.Errorf("user realm = %v", d)
		}
	})
}
