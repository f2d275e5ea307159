// Package authn turns a credential into a verified [identity.Principal].
//
// Today the credential is a Microsoft Entra ID access token (v1 or v2)
// presented as an RFC 6750 bearer token: [BearerToken] extracts it from a
// request, a [Verifier] checks it against the tenants, issuers, audiences
// and algorithms in its [Options] and the signing keys the tenant publishes
// (cached by package [jwks]), and builds the principal. [Multi] routes a
// token to one of several [TokenVerifier]s by its (unverified) issuer, so
// that tokens airgate mints itself can be verified beside Entra's.
//
// Rejection is a result, not a failure: a credential that does not pass
// comes back as an [*Error] with a machine-readable [Code] (the server
// answers 401 with [WWWAuthenticate]). Any other error means the check
// could not run, for example [ErrKeysUnavailable] when no signing keys can
// be had, and the request MUST be refused with 503 (fail closed). Neither
// kind of error ever carries the token or a claim read from it.
package authn
