package session

import "errors"

// Errors returned by Manager and Store. Each means the request has no
// usable session; none is a technical failure, except that a Store error
// that is none of them means the revocation list could not be read (the
// caller MUST then refuse the session: fail closed).
var (
	// ErrNoSession: the request carries no session cookie.
	ErrNoSession = errors.New("session: no session")
	// ErrInvalid: the cookie is malformed, was tampered with, or was sealed
	// with a key that is no longer published.
	ErrInvalid = errors.New("session: invalid session cookie")
	// ErrExpired: the session or sign-in state outlived its lifetime.
	ErrExpired = errors.New("session: expired")
	// ErrRevoked: the session was signed out or revoked by an administrator.
	ErrRevoked = errors.New("session: revoked")
	// ErrTooLarge: the sealed session exceeds the cookie budget.
	ErrTooLarge = errors.New("session: too large for its cookies")
	// ErrStateMismatch: the sign-in callback's state matches no sign-in
	// started in this browser (a forged or replayed callback, or cookies
	// blocked).
	ErrStateMismatch = errors.New("session: sign-in state does not match")
)
