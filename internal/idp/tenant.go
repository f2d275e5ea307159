package idp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// Tenant is the directory an emulator serves, as read from a YAML tenant
// file. Field names follow Microsoft Graph and the application manifest
// where they exist. Names (users, groups, applications) are short local
// handles that other entries use to refer to each other; they must be unique
// across all three kinds.
//
// A Tenant is plain data; [New] validates it and fills defaults into its own
// copy, so the caller's value is never modified.
type Tenant struct {
	// ID is the tenant id (a GUID). Required.
	ID string `yaml:"id"`
	// Domain is the tenant's verified domain, used for UPNs and for
	// addressing the tenant by name in URLs. Default "<first 8 of id>.example".
	Domain string `yaml:"domain"`
	// DisplayName is the organisation's display name.
	DisplayName string `yaml:"displayName"`
	// Settings tunes emulator behaviour for the whole tenant.
	Settings Settings `yaml:"settings"`

	Users        []User                  `yaml:"users"`
	Groups       []Group                 `yaml:"groups"`
	Applications []Application           `yaml:"applications"`
	Assignments  []AppRoleAssignmentSpec `yaml:"appRoleAssignments"`

	demo bool // built by Demo
}

// Settings are tenant-wide knobs.
type Settings struct {
	// GroupsOverageLimit is the largest number of groups a JWT carries in its
	// groups claim; past it the claim is replaced by the overage indicator
	// (_claim_names/_claim_sources). Zero means Entra's 200.
	GroupsOverageLimit int `yaml:"groupsOverageLimit"`
	// AmrInV2Tokens adds the amr claim (pwd, mfa) to v2 access and ID tokens.
	// Real Entra emits amr only in v1 tokens; this is an emulator extension,
	// on in the demo tenant so its MFA switch is visible to a v2 API.
	AmrInV2Tokens bool `yaml:"amrInV2Tokens"`
}

// User is a member user of the tenant.
type User struct {
	// Name is the local handle (e.g. "alice"). Required.
	Name string `yaml:"name"`
	// ID is the user's object id (a GUID). Default: derived from the tenant
	// id and Name, so it is stable across restarts.
	ID string `yaml:"id"`
	// UserPrincipalName defaults to Name@Domain.
	UserPrincipalName string `yaml:"userPrincipalName"`
	DisplayName       string `yaml:"displayName"`
	GivenName         string `yaml:"givenName"`
	Surname           string `yaml:"surname"`
	Mail              string `yaml:"mail"`
	// Password is the user's password for the password grant. Empty means
	// one is generated at start.
	Password string `yaml:"password"`
}

// Group is a group; its members are users, groups (nesting) or
// applications (their service principals), by name.
type Group struct {
	Name        string `yaml:"name"`
	ID          string `yaml:"id"`
	DisplayName string `yaml:"displayName"`
	Description string `yaml:"description"`
	// SecurityEnabled defaults to true. A group with securityEnabled false
	// and groupTypes [Unified] is a Microsoft 365 group.
	SecurityEnabled *bool    `yaml:"securityEnabled"`
	MailEnabled     bool     `yaml:"mailEnabled"`
	GroupTypes      []string `yaml:"groupTypes"`
	Members         []string `yaml:"members"`
}

// Application is an app registration together with its service principal.
type Application struct {
	Name string `yaml:"name"`
	// AppID is the client id. ObjectID is the application object's id
	// (Graph /applications/{id}); ServicePrincipalID is the service
	// principal's object id (oid in app-only tokens). All default to ids
	// derived from the tenant id and Name.
	AppID              string `yaml:"appId"`
	ObjectID           string `yaml:"objectId"`
	ServicePrincipalID string `yaml:"servicePrincipalId"`
	DisplayName        string `yaml:"displayName"`
	// IdentifierURIs are the App ID URIs (e.g. api://airgate).
	IdentifierURIs []string `yaml:"identifierUris"`
	// RedirectURIs are web redirect URIs. Loopback URIs (http://127.0.0.1,
	// http://localhost, http://[::1]) match any port, as in Entra.
	RedirectURIs []string `yaml:"redirectUris"`
	// PublicClientRedirectURIs are redirect URIs of the mobile/desktop
	// platform: codes sent there may be redeemed without a client secret.
	PublicClientRedirectURIs []string `yaml:"publicClientRedirectUris"`
	// AllowPublicClient (isFallbackPublicClient) lets the password and
	// refresh grants run without client authentication.
	AllowPublicClient bool `yaml:"allowPublicClient"`
	// RequestedAccessTokenVersion (api.requestedAccessTokenVersion) is the
	// version of access tokens issued for this API: 0 or 1 gives v1, 2 gives
	// v2.
	RequestedAccessTokenVersion int `yaml:"requestedAccessTokenVersion"`
	// GroupMembershipClaims is None (or empty), SecurityGroup, All or
	// ApplicationGroup.
	GroupMembershipClaims string `yaml:"groupMembershipClaims"`
	// AppRoleAssignmentRequired refuses tokens for this API to users and
	// apps without an app role assignment.
	AppRoleAssignmentRequired bool           `yaml:"appRoleAssignmentRequired"`
	OptionalClaims            OptionalClaims `yaml:"optionalClaims"`
	AppRoles                  []AppRole      `yaml:"appRoles"`
	// Scopes are the delegated permissions the API exposes
	// (api.oauth2PermissionScopes).
	Scopes       []PermissionScope `yaml:"scopes"`
	Secrets      []SecretSpec      `yaml:"secrets"`
	Certificates []CertificateSpec `yaml:"certificates"`
	// GraphPermissions are Microsoft Graph application permissions granted
	// (with admin consent) to the service principal, e.g.
	// GroupMember.Read.All.
	GraphPermissions []string `yaml:"graphPermissions"`
	// Owners names the applications whose service principals own this
	// application (what Application.ReadWrite.OwnedBy checks).
	Owners []string `yaml:"owners"`
}

// OptionalClaims are the manifest's optionalClaims.
type OptionalClaims struct {
	AccessToken []OptionalClaim `yaml:"accessToken"`
	IDToken     []OptionalClaim `yaml:"idToken"`
}

// OptionalClaim is one requested optional claim. Supported names: idtyp
// (additionalProperties include_user_token), upn, email, family_name,
// given_name, aud (additionalProperties use_guid).
type OptionalClaim struct {
	Name                 string   `yaml:"name"`
	AdditionalProperties []string `yaml:"additionalProperties"`
}

// AppRole is an app role the application defines.
type AppRole struct {
	ID          string `yaml:"id"`
	Value       string `yaml:"value"`
	DisplayName string `yaml:"displayName"`
	Description string `yaml:"description"`
	// AllowedMemberTypes is User and/or Application; default both.
	AllowedMemberTypes []string `yaml:"allowedMemberTypes"`
}

// PermissionScope is a delegated permission the application exposes.
type PermissionScope struct {
	ID          string `yaml:"id"`
	Value       string `yaml:"value"`
	DisplayName string `yaml:"displayName"`
}

// SecretSpec is a client secret (password credential).
type SecretSpec struct {
	// Value is the secret text. Empty means one is generated at start.
	Value       string    `yaml:"value"`
	KeyID       string    `yaml:"keyId"`
	DisplayName string    `yaml:"displayName"`
	Start       time.Time `yaml:"startDateTime"`
	// End defaults to two years after start, as Graph does.
	End time.Time `yaml:"endDateTime"`
}

// CertificateSpec is a certificate credential (key credential).
type CertificateSpec struct {
	// PEM is the certificate in PEM form; File names a PEM file instead
	// (relative paths are resolved against the tenant file's directory).
	PEM         string    `yaml:"pem"`
	File        string    `yaml:"file"`
	KeyID       string    `yaml:"keyId"`
	DisplayName string    `yaml:"displayName"`
	Start       time.Time `yaml:"startDateTime"`
	End         time.Time `yaml:"endDateTime"`
}

// AppRoleAssignmentSpec assigns an app role of Resource to Principal (a
// user, group or application, by name). An assignment to a group reaches
// the group's direct user members only, as in Entra.
type AppRoleAssignmentSpec struct {
	Principal string `yaml:"principal"`
	Resource  string `yaml:"resource"`
	Role      string `yaml:"role"`
}

// ParseTenant reads a YAML tenant document. Unknown fields are errors that
// name the field and line. The result is not yet validated; [New] validates.
func ParseTenant(r io.Reader) (*Tenant, error) {
	dec := yaml.NewDecoder(io.LimitReader(r, 16<<20))
	dec.KnownFields(true)
	var t Tenant
	if err := dec.Decode(&t); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("idp: parsing tenant: empty document")
		}
		return nil, fmt.Errorf("idp: parsing tenant: %w", err)
	}
	return &t, nil
}

// LoadTenant reads and validates the tenant file at path. Certificate files
// named in it are read relative to the file's directory.
func LoadTenant(path string) (*Tenant, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("idp: %w", err)
	}
	t, err := ParseTenant(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	if err := t.loadCertificateFiles(dirOf(path)); err != nil {
		return nil, err
	}
	if _, err := compileTenant(t); err != nil {
		return nil, err
	}
	return t, nil
}
