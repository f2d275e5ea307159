package idp

import (
	"encoding/json"
	"fmt"
	"sort"
)

// ReadyInfo tells clients where a started emulator is and, for the demo
// tenant or in dev mode, the credentials to use. `airgate idp serve
// --ready-file` writes it as JSON. Fields may be added; the meaning of
// existing ones never changes.
type ReadyInfo struct {
	// Authority is https://host:port/<tenant id>, what MSAL takes.
	Authority string `json:"authority"`
	// Issuer is the v2 issuer; IssuerV1 the v1 issuer (standing for
	// https://sts.windows.net/<tid>/), with its trailing slash.
	Issuer   string `json:"issuer"`
	IssuerV1 string `json:"issuer_v1"`
	TenantID string `json:"tenant_id"`
	Domain   string `json:"domain"`
	// CAFile is the PEM file of the CA that signed the TLS certificate.
	CAFile string `json:"ca_file"`
	// Graph is the Microsoft Graph v1.0 base URL, standing for
	// https://graph.microsoft.com/v1.0.
	Graph string `json:"graph"`
	// AuthorityHost is https://host:port/, for azidentity's
	// cloud.Configuration.ActiveDirectoryAuthorityHost.
	AuthorityHost     string `json:"authority_host"`
	JWKSURI           string `json:"jwks_uri"`
	JWKSURIV1         string `json:"jwks_uri_v1"`
	TokenEndpoint     string `json:"token_endpoint"`
	AuthorizeEndpoint string `json:"authorization_endpoint"`
	// Apps and Users are keyed by the tenant file's names.
	Apps  map[string]ReadyApp  `json:"apps"`
	Users map[string]ReadyUser `json:"users"`
	// Groups maps group names to object ids.
	Groups map[string]string `json:"groups"`
}

// ReadyApp describes one application.
type ReadyApp struct {
	ClientID string `json:"client_id"`
	// ClientSecret is the app's first secret; only for the demo tenant or
	// in dev mode.
	ClientSecret       string `json:"client_secret,omitempty"`
	AppIDURI           string `json:"app_id_uri,omitempty"`
	ObjectID           string `json:"object_id"`
	ServicePrincipalID string `json:"service_principal_id"`
	// RedirectURIs are the web redirect URIs.
	RedirectURIs []string `json:"redirect_uris,omitempty"`
}

// ReadyUser describes one user.
type ReadyUser struct {
	UPN string `json:"upn"`
	// Password only for the demo tenant or in dev mode.
	Password string `json:"password,omitempty"`
	OID      string `json:"oid"`
}

func (s *Server) readyInfo(caFile string) ReadyInfo {
	base := s.baseURL
	tid := s.dir.tenantID
	reveal := s.dir.demo || s.opts.Dev
	info := ReadyInfo{
		Authority:         base + "/" + tid,
		Issuer:            base + "/" + tid + "/v2.0",
		IssuerV1:          base + "/" + tid + "/",
		TenantID:          tid,
		Domain:            s.dir.domain,
		CAFile:            caFile,
		Graph:             base + "/graph/v1.0",
		AuthorityHost:     base + "/",
		JWKSURI:           base + "/" + tid + "/discovery/v2.0/keys",
		JWKSURIV1:         base + "/" + tid + "/discovery/keys",
		TokenEndpoint:     base + "/" + tid + "/oauth2/v2.0/token",
		AuthorizeEndpoint: base + "/" + tid + "/oauth2/v2.0/authorize",
		Apps:              map[string]ReadyApp{},
		Users:             map[string]ReadyUser{},
		Groups:            map[string]string{},
	}
	for _, a := range s.dir.apps {
		if a.isGraph {
			continue
		}
		ra := ReadyApp{ClientID: a.appID, ObjectID: a.objectID, ServicePrincipalID: a.spID, RedirectURIs: a.redirectURIs}
		if len(a.identifierURIs) > 0 {
			ra.AppIDURI = a.identifierURIs[0]
		}
		if reveal {
			ra.ClientSecret = a.initialSecret
		}
		info.Apps[a.name] = ra
	}
	for _, u := range s.dir.users {
		ru := ReadyUser{UPN: u.upn, OID: u.id}
		if reveal {
			ru.Password = u.password
		}
		info.Users[u.name] = ru
	}
	for _, g := range s.dir.groups {
		info.Groups[g.name] = g.id
	}
	return info
}

// WriteReadyFile writes info to path as indented JSON, atomically (a
// temporary file renamed into place), readable by the owner only since it
// may hold secrets.
func WriteReadyFile(path string, info ReadyInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("idp: writing ready file: %w", err)
	}
	return nil
}

// ReadReadyFile reads a ready file written by WriteReadyFile.
func ReadReadyFile(path string) (ReadyInfo, error) {
	var info ReadyInfo
	b, err := readFileLimited(path, 4<<20)
	if err != nil {
		return info, fmt.Errorf("idp: reading ready file: %w", err)
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("idp: reading ready file %s: %w", path, err)
	}
	if info.Authority == "" || info.TenantID == "" {
		return info, fmt.Errorf("idp: ready file %s: missing authority or tenant_id", path)
	}
	return info, nil
}

// AppNames returns the application names in info, sorted.
func (info ReadyInfo) AppNames() []string { return sortedKeys(info.Apps) }

// UserNames returns the user names in info, sorted.
func (info ReadyInfo) UserNames() []string { return sortedKeys(info.Users) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
