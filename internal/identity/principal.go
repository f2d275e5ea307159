// Package identity holds the nouns every stage of airgate's pipeline shares:
// who is calling (Principal) and how they proved it. It has no I/O and no
// dependencies on other airgate packages.
package identity

import "time"

// Kind says what sort of caller a Principal is.
type Kind string

// Principal kinds.
const (
	// User: a person, from a delegated Entra token or a browser session.
	User Kind = "user"
	// App: an application acting as itself (client credentials, managed or
	// federated identity); the token has no user.
	App Kind = "app"
	// Agent: the holder of an airgate-minted exchanged token, possibly
	// acting for a user (Actor).
	Agent Kind = "agent"
)

// Principal is a verified caller. Principals are built by authn from a
// verified credential and may be cached and shared between requests: they
// MUST NOT be modified after construction. Per-request facts (source IP,
// time) travel beside the principal, not in it.
type Principal struct {
	Kind Kind

	// TenantID is the Entra tenant (tid).
	TenantID string
	// ObjectID is the user's or service principal's object id (oid).
	ObjectID string
	// Subject is the token's sub claim.
	Subject string
	// UPN is the user's sign-in name (preferred_username, upn or
	// unique_name), empty for apps.
	UPN string
	// AppID is the client application id (v2 azp, v1 appid).
	AppID string
	// DisplayName is the name claim, for people reading logs.
	DisplayName string

	// Groups are the group object ids in the token's groups claim. Entra
	// emits transitive memberships there.
	Groups []string
	// GroupsOverage is set when Entra left groups out of the token because
	// there were too many (_claim_names/_claim_sources); memberships must
	// then come from Microsoft Graph.
	GroupsOverage bool
	// AppRoles are the values of the roles claim.
	AppRoles []string
	// Scopes are the delegated scopes of the scp claim.
	Scopes []string
	// AMR lists authentication methods (e.g. "pwd", "mfa").
	AMR []string
	// ACR is the authentication context class reference, if any.
	ACR string

	// Issuer, Audience and TokenVersion ("1.0", "2.0", or "airgate") describe
	// the credential that was verified.
	Issuer       string
	Audience     string
	TokenVersion string
	// IssuedAt and Expiry bound the credential's validity; a zero Expiry
	// never occurs for a verified principal.
	IssuedAt time.Time
	Expiry   time.Time
	// TokenFingerprint identifies the credential in logs and audit records
	// without revealing it (a truncated SHA-256 of the raw token).
	TokenFingerprint string

	// Exchange describes an airgate-minted token; nil otherwise.
	Exchange *Exchange
}

// Exchange is what an airgate-minted (RFC 8693) token adds to a principal.
type Exchange struct {
	// ID is the exchanged token's jti.
	ID string
	// Scope is the granted airgate scope, e.g. "dag:team_a_daily:trigger".
	Scope []string
	// Actor is the agent acting for the subject (the act claim), if any.
	Actor *Principal
}

// Name returns the most readable identifier of the principal: the UPN for a
// user, the app id for an app, falling back to the object id.
func (p *Principal) Name() string {
	switch {
	case p == nil:
		return ""
	case p.UPN != "":
		return p.UPN
	case p.AppID != "" && p.Kind != User:
		return p.AppID
	default:
		return p.ObjectID
	}
}

// HasAMR reports whether the principal authenticated with method m.
func (p *Principal) HasAMR(m string) bool {
	for _, a := range p.AMR {
		if a == m {
			return true
		}
	}
	return false
}
