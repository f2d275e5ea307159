package idp

import (
	"net/http"
	"net/url"
	"strings"
)

// issuer returns the issuer of tokens of version v for the tenant:
// https://host/<tid>/v2.0 or, standing for https://sts.windows.net/<tid>/,
// https://host/<tid>/.
func (s *Server) issuer(v int) string {
	if v == 1 {
		return s.base() + "/" + s.dir.tenantID + "/"
	}
	return s.base() + "/" + s.dir.tenantID + "/v2.0"
}

// serveDiscovery serves the v2 or v1 OpenID configuration. For common and
// organizations the issuer is the {tenantid} template, as in Entra.
func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request, t tenantRef, v int) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	base := s.base()
	seg := t.segment
	issuer := s.issuer(v)
	if t.multi {
		if v == 2 {
			issuer = base + "/{tenantid}/v2.0"
		} else {
			issuer = base + "/{tenantid}/"
		}
	}
	common := map[string]any{
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
		"rbac_url":                              "https://pas.windows.net",
		"issuer":                                issuer,
		"request_uri_parameter_supported":       false,
	}
	if v == 2 {
		common["token_endpoint"] = base + "/" + seg + "/oauth2/v2.0/token"
		common["token_endpoint_auth_methods_supported"] = []string{"client_secret_post", "private_key_jwt", "client_secret_basic"}
		common["jwks_uri"] = base + "/" + seg + "/discovery/v2.0/keys"
		common["response_types_supported"] = []string{"code", "id_token", "code id_token", "id_token token"}
		common["scopes_supported"] = []string{"openid", "profile", "email", "offline_access"}
		common["userinfo_endpoint"] = base + "/graph/oidc/userinfo"
		common["authorization_endpoint"] = base + "/" + seg + "/oauth2/v2.0/authorize"
		common["end_session_endpoint"] = base + "/" + seg + "/oauth2/v2.0/logout"
		common["claims_supported"] = []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"}
	} else {
		common["token_endpoint"] = base + "/" + seg + "/oauth2/token"
		common["token_endpoint_auth_methods_supported"] = []string{"client_secret_post", "private_key_jwt", "client_secret_basic"}
		common["jwks_uri"] = base + "/" + seg + "/discovery/keys"
		common["response_types_supported"] = []string{"code", "id_token", "code id_token", "token id_token", "token"}
		common["scopes_supported"] = []string{"openid"}
		common["microsoft_multi_refresh_token"] = true
		common["userinfo_endpoint"] = base + "/" + seg + "/openid/userinfo"
		common["authorization_endpoint"] = base + "/" + seg + "/oauth2/authorize"
		common["end_session_endpoint"] = base + "/" + seg + "/oauth2/logout"
		common["claims_supported"] = []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name", "family_name", "nickname"}
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, http.StatusOK, common)
}

// serveJWKS serves the published signing keys. v2 key sets carry each
// key's issuer (the {tenantid} template on common and organizations); v1
// key sets do not.
func (s *Server) serveJWKS(w http.ResponseWriter, r *http.Request, t tenantRef, v int) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	issuer := ""
	if v == 2 {
		issuer = s.issuer(2)
		if t.multi {
			issuer = s.base() + "/{tenantid}/v2.0"
		}
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, http.StatusOK, s.keys.jwks(s.now(), issuer))
}

// serveInstanceDiscovery answers MSAL's instance discovery
// (/common/discovery/instance?api-version=1.1&authorization_endpoint=...).
func (s *Server) serveInstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ae := q.Get("authorization_endpoint")
	u, err := url.Parse(ae)
	if ae == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		s.writeSTSError(w, r, stsErr(400, "invalid_instance", 50049, "Unknown or invalid instance."))
		return
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	tenant := segs[0]
	if tenant == "" {
		tenant = "common"
	}
	host := u.Host
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": "https://" + host + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": host,
			"preferred_cache":   host,
			"aliases":           []string{host},
		}},
	})
}

// serveUserRealm answers MSAL's user realm lookup before a password
// grant: users of the tenant's domain are managed (not federated).
func (s *Server) serveUserRealm(w http.ResponseWriter, r *http.Request, userSeg string) {
	name, err := url.PathUnescape(userSeg)
	if err != nil {
		name = userSeg
	}
	_, domain, _ := strings.Cut(name, "@")
	accountType := "Unknown"
	if strings.EqualFold(domain, s.dir.domain) || s.dir.userByKey(name) != nil {
		accountType = "Managed"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ver":                 "1.0",
		"account_type":        accountType,
		"domain_name":         s.dir.domain,
		"cloud_instance_name": "microsoftonline.com",
		"cloud_audience_urn":  "urn:federation:MicrosoftOnline",
	})
}

// serveLogout ends the (stateless) session: it redirects to a registered
// post_logout_redirect_uri when given, else shows a signed-out page.
func (s *Server) serveLogout(w http.ResponseWriter, r *http.Request) {
	target := r.URL.Query().Get("post_logout_redirect_uri")
	if target != "" {
		if u, err := url.Parse(target); err == nil && (u.Scheme == "http" || u.Scheme == "https") && s.registeredAnywhere(target) {
			http.Redirect(w, r, target, http.StatusFound)
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("<!doctype html><title>Signed out</title><p>You signed out of your account.</p>"))
}

// registeredAnywhere reports whether uri matches a redirect URI of any
// application.
func (s *Server) registeredAnywhere(uri string) bool {
	for _, a := range s.dir.apps {
		if _, ok := a.matchRedirect(uri); ok {
			return true
		}
	}
	return false
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
}
