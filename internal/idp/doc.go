// Package idp is an embedded Microsoft Entra ID emulator: one Entra-shaped
// tenant served over HTTPS, faithful enough that Microsoft's own client
// libraries (MSAL Go, azidentity) and standard OIDC verifiers work against it
// unchanged. The demo and the tests use it in place of a real tenant.
//
// It serves, per tenant, the v2 and v1 OpenID discovery documents, a JWKS with
// key rollover, the authorize endpoint (a sign-in page with a user picker and
// an MFA switch), the token endpoint (authorization code with PKCE, refresh
// token, client credentials with a secret or a certificate assertion, and the
// password grant), MSAL's instance-discovery and user-realm endpoints, and the
// Microsoft Graph v1.0 calls airgate makes (memberOf, transitiveMemberOf,
// getMemberObjects, applications with addPassword, removePassword and
// keyCredentials). Tokens, errors and Graph payloads are shaped as Entra shapes
// them; ENTRA.md in the shared documents lists the facts followed.
//
// The directory comes from a YAML tenant file ([ParseTenant], [LoadTenant]) or
// the built-in demo tenant ([Demo]). State added at run time (new secrets,
// codes, refresh tokens) lives in memory only.
//
// Start a server in-process with [New] and [Server.Start]; [Client] obtains
// tokens from it through real grants.
//
// The emulator is for development and tests only. It MUST NOT stand in for a
// real identity provider: its secrets, passwords and signing keys are
// generated or published for convenience, and the sign-in page lets anyone
// sign in as any user.
package idp
