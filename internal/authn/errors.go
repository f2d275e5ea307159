package authn

import "errors"

// Code is the machine-readable reason a credential was rejected. Audit
// records and metrics carry codes, never prose.
type Code string

// Rejection codes.
const (
	// CodeNoCredentials: the request carries no bearer token.
	CodeNoCredentials Code = "no-credentials"
	// CodeInvalidRequest: the Authorization header is malformed (repeated,
	// empty token, characters outside RFC 6750's b64token). RFC 6750 §3.1
	// answers it with 400 and error="invalid_request".
	CodeInvalidRequest Code = "invalid-request"
	// CodeMalformedToken: not a compact JWS with one signature, or a
	// header or payload that does not decode, or a required claim (kid,
	// exp, oid, sub) missing.
	CodeMalformedToken Code = "malformed-token"
	// CodeTokenTooLarge: the token exceeds the size limit.
	CodeTokenTooLarge Code = "token-too-large"
	// CodeAlgNotAllowed: the header's alg is not in the allow-list (this
	// covers "none" and every HMAC algorithm).
	CodeAlgNotAllowed Code = "alg-not-allowed"
	// CodeGraphToken: the header has a nonce, the mark of a Microsoft Graph
	// token, which is meant for Graph and cannot be validated by anyone else.
	CodeGraphToken Code = "graph-token"
	// CodeUnknownKey: the issuer publishes no key with the token's kid,
	// even after a refresh.
	CodeUnknownKey Code = "unknown-key"
	// CodeBadSignature: the signature does not verify with the key, or the
	// key does not fit the algorithm.
	CodeBadSignature Code = "bad-signature"
	// CodeTokenExpired: exp (plus the clock skew) has passed.
	CodeTokenExpired Code = "token-expired"
	// CodeTokenNotYetValid: nbf or iat (less the clock skew) lies ahead.
	CodeTokenNotYetValid Code = "token-not-yet-valid"
	// CodeWrongIssuer: iss is not the issuer of the token's tenant and
	// version, or the signing key belongs to another issuer.
	CodeWrongIssuer Code = "wrong-issuer"
	// CodeWrongTenant: tid is missing, not a GUID, or not an allowed tenant.
	CodeWrongTenant Code = "wrong-tenant"
	// CodeWrongAudience: aud is not an accepted audience.
	CodeWrongAudience Code = "wrong-audience"
	// CodeUnsupportedVersion: ver is not an accepted token version.
	CodeUnsupportedVersion Code = "unsupported-version"
	// CodeNotAccessToken: the token names no client application (v2 azp,
	// v1 appid), as ID tokens do; ID tokens are not bearer credentials.
	CodeNotAccessToken Code = "not-access-token"
)

// Error is a rejected credential: the request is not authenticated and
// gets 401 (400 for CodeInvalidRequest). Err says more for the operator log;
// it never contains the token or a value read from it.
type Error struct {
	Code Code
	Err  error
}

// Error returns "authn: <code>: <detail>".
func (e *Error) Error() string {
	if e.Err == nil {
		return "authn: " + string(e.Code)
	}
	return "authn: " + string(e.Code) + ": " + e.Err.Error()
}

// Unwrap returns the detail.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code and no
// detail, so that errors.Is(err, ErrNoCredentials) holds for every
// no-credentials rejection.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Err == nil && t.Code == e.Code
}

var (
	// ErrNoCredentials is the rejection for a request without a bearer
	// token. Compare with errors.Is.
	ErrNoCredentials error = &Error{Code: CodeNoCredentials}

	// ErrKeysUnavailable means the check could not run: the issuer's
	// signing keys (or its discovery document) could not be fetched and
	// none are cached. It is not an *Error; the server MUST answer 503 and
	// MUST NOT let the request through. Returned errors wrap it together
	// with the fetch failure.
	ErrKeysUnavailable = errors.New("authn: signing keys unavailable")
)

// CodeOf returns the rejection code of err, or "" when err is nil or not a
// rejection (the check could not run).
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// reject builds a rejection. detail MUST NOT contain token content.
func reject(code Code, detail string) error {
	return &Error{Code: code, Err: errors.New(detail)}
}

// WWWAuthenticate returns the RFC 6750 WWW-Authenticate value for a
// rejection: `Bearer realm="airgate"` when there were no credentials,
// error="invalid_request" for a malformed header and error="invalid_token"
// for every other rejection. The specific reason is deliberately not
// described to the client; it belongs in the audit and operator logs. For
// an error that is not a rejection (the server answers 503) it returns "".
func WWWAuthenticate(err error) string {
	switch CodeOf(err) {
	case "":
		return ""
	case CodeNoCredentials:
		return `Bearer realm="airgate"`
	case CodeInvalidRequest:
		return `Bearer realm="airgate", error="invalid_request"`
	default:
		return `Bearer realm="airgate", error="invalid_token"`
	}
}
