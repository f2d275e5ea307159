package authn

import (
	"net/http"
	"strings"
)

// BearerToken returns the bearer token of r's Authorization header (RFC
// 6750 §2.1). The scheme is matched case-insensitively. It returns
// ErrNoCredentials when there is no Authorization header or it names
// another scheme, and a CodeInvalidRequest rejection when the header is
// repeated, the token is empty or it has characters outside b64token. Only
// the header is read; tokens in the query or the body are not accepted. It
// is safe for concurrent use.
func BearerToken(r *http.Request) (string, error) {
	vals := r.Header.Values("Authorization")
	switch {
	case len(vals) == 0:
		return "", ErrNoCredentials
	case len(vals) > 1:
		return "", reject(CodeInvalidRequest, "more than one Authorization header")
	}
	v := strings.TrimSpace(vals[0])
	if v == "" {
		return "", ErrNoCredentials
	}
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoCredentials
	}
	token := strings.TrimLeft(rest, " ")
	if token == "" {
		return "", reject(CodeInvalidRequest, "empty bearer token")
	}
	if !isB64Token(token) {
		return "", reject(CodeInvalidRequest, "bearer token is not a b64token")
	}
	return token, nil
}

// b64tokenChar marks the characters of RFC 6750's b64token before its
// padding.
var b64tokenChar = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()

// isB64Token reports whether s matches RFC 6750's
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for i < len(s) && b64tokenChar[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
