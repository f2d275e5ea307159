package tokens

import (
	"slices"
	"time"

	"github.com/airgate/airgate/internal/identity"
)

// Token type URIs of RFC 8693 §3.
const (
	TokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeJWT         = "urn:ietf:params:oauth:token-type:jwt"
	// GrantTypeTokenExchange is the grant_type of an exchange request.
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
)

// TokenVersion is identity.Principal.TokenVersion for airgate-issued
// tokens.
const TokenVersion = "airgate"

// JWTType is the typ header of exchanged tokens (RFC 9068 JWT access
// tokens). It tells them apart from the Airflow JWTs the same key signs.
const JWTType = "at+jwt"

// Party is a subject's or actor's identity as an exchanged token carries
// it: what the gateway needs to decide requests for that party again
// under the policy, without the Entra token. Values come from a verified
// Entra token.
type Party struct {
	// Type is "user" or "app" (as Entra's idtyp).
	Type     string `json:"idtyp"`
	TenantID string `json:"tid"`
	ObjectID string `json:"oid"`
	UPN      string `json:"upn,omitempty"`
	// AppID is the client application of the Entra token (v2 azp, v1
	// appid): for an app-only token, the app itself.
	AppID         string   `json:"azp,omitempty"`
	Name          string   `json:"name,omitempty"`
	Roles         []string `json:"roles,omitempty"`
	Groups        []string `json:"groups,omitempty"`
	GroupsOverage bool     `json:"groups_overage,omitempty"`
	AMR           []string `json:"amr,omitempty"`
	ACR           string   `json:"acr,omitempty"`
}

// Actor is the act claim (RFC 8693 §4.1): the party acting for the
// subject.
type Actor struct {
	Subject string `json:"sub"`
	Party
}

// Claims are the payload of an exchanged token. Registered claims follow
// RFC 7519 and RFC 8693; the Party fields describe the subject.
type Claims struct {
	Issuer    string `json:"iss"`
	Audience  string `json:"aud"`
	Subject   string `json:"sub"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expiry    int64  `json:"exp"`
	ID        string `json:"jti"`
	// Scope is the granted scope, space-separated (RFC 8693 §4.2).
	Scope string `json:"scope"`
	// ClientID is the client that authenticated to the exchange, if any
	// (RFC 8693 §4.3).
	ClientID string `json:"client_id,omitempty"`
	Party
	Actor *Actor `json:"act,omitempty"`
}

// PartyOf returns the party of a principal verified from an Entra token.
func PartyOf(p *identity.Principal) Party {
	typ := string(identity.User)
	if p.Kind == identity.App {
		typ = string(identity.App)
	}
	return Party{
		Type:          typ,
		TenantID:      p.TenantID,
		ObjectID:      p.ObjectID,
		UPN:           p.UPN,
		AppID:         p.AppID,
		Name:          p.DisplayName,
		Roles:         slices.Clone(p.AppRoles),
		Groups:        slices.Clone(p.Groups),
		GroupsOverage: p.GroupsOverage,
		AMR:           slices.Clone(p.AMR),
		ACR:           p.ACR,
	}
}

// principal returns the party as a principal of the given kind.
func (pt *Party) principal(kind identity.Kind, subject string) *identity.Principal {
	return &identity.Principal{
		Kind:          kind,
		TenantID:      pt.TenantID,
		ObjectID:      pt.ObjectID,
		Subject:       subject,
		UPN:           pt.UPN,
		AppID:         pt.AppID,
		DisplayName:   pt.Name,
		Groups:        pt.Groups,
		GroupsOverage: pt.GroupsOverage,
		AppRoles:      pt.Roles,
		AMR:           pt.AMR,
		ACR:           pt.ACR,
	}
}

// Principal returns the principal the claims prove: Kind agent, the
// subject's identity, and Exchange with the token id, scope and actor. The
// actor is a principal of its own kind (app or user). fp is the token's
// fingerprint. The result MUST NOT be modified.
func (c *Claims) Principal(fp string) *identity.Principal {
	p := c.Party.principal(identity.Agent, c.Subject)
	p.Issuer = c.Issuer
	p.Audience = c.Audience
	p.TokenVersion = TokenVersion
	p.IssuedAt = time.Unix(c.IssuedAt, 0).UTC()
	p.Expiry = time.Unix(c.Expiry, 0).UTC()
	p.TokenFingerprint = fp
	scope, _ := ParseScope(c.Scope)
	p.Exchange = &identity.Exchange{ID: c.ID, Scope: scope.Strings()}
	if c.Actor != nil {
		p.Exchange.Actor = c.Actor.Party.principal(identity.Kind(c.Actor.Type), c.Actor.Subject)
		p.Exchange.Actor.Issuer = c.Issuer
		p.Exchange.Actor.TokenVersion = TokenVersion
		p.Exchange.Actor.Expiry = p.Expiry
	}
	return p
}

// SubjectKind returns the kind the subject of an agent principal had when
// its token was exchanged: app when it has no UPN, user otherwise (as
// authn tells app-only tokens apart). Group lookups in Microsoft Graph use
// it.
func SubjectKind(p *identity.Principal) identity.Kind {
	if p.UPN == "" {
		return identity.App
	}
	return identity.User
}
