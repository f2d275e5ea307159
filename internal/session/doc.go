// Package session keeps airgate's browser sessions in sealed cookies.
//
// A session holds the essentials of the principal verified at sign-in (or
// at the last silent refresh), its id, when it was issued and when it ends,
// and the Entra refresh token airgate redeems before the access token
// expires. It is never stored on the server: it is serialised, compressed
// and sealed with AES-256-GCM under the keyring's current session key, whose
// id travels in the cookie so that any still-published older key opens it
// after a rotation. Large sessions are split into numbered cookies with a
// bounded total size.
//
// The only server-side state is the revocation list ([Store]): session
// fingerprints ended by sign-out and users whose sessions an administrator
// revoked, kept in the state database so that every replica honours them
// within a short cache interval.
//
// The package also seals the short-lived sign-in state (OAuth state, OIDC
// nonce, PKCE verifier, where to return) between the authorize redirect and
// the callback ([Manager.StartLogin], [Manager.FinishLogin]).
package session
