package authn

import (
	"errors"
	"net/http/httptest"
	"regexp"
	"testing"
)

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name    string
		headers []string // Authorization values
		want    string
		code    Code // "" for success
	}{
		{"absent", nil, "", CodeNoCredentials},
		{"empty header", []string{""}, "", CodeNoCredentials},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, "", CodeNoCredentials},
		{"bearer", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", ""},
		{"lower-case scheme", []string{"bearer abc.def.ghi"}, "abc.def.ghi", ""},
		{"upper-case scheme", []string{"BEARER abc.def.ghi"}, "abc.def.ghi", ""},
		{"several spaces", []string{"Bearer   abc.def.ghi"}, "abc.def.ghi", ""},
		{"b64token padding", []string{"Bearer abc+/~_-.x=="}, "abc+/~_-.x==", ""},
		{"scheme only", []string{"Bearer"}, "", CodeInvalidRequest},
		{"scheme and space", []string{"Bearer "}, "", CodeInvalidRequest},
		{"two headers", []string{"Bearer a.b.c", "Bearer d.e.f"}, "", CodeInvalidRequest},
		{"space in token", []string{"Bearer abc def"}, "", CodeInvalidRequest},
		{"comma in token", []string{"Bearer abc,def"}, "", CodeInvalidRequest},
		{"padding inside", []string{"Bearer ab=c"}, "", CodeInvalidRequest},
		{"only padding", []string{"Bearer ==="}, "", CodeInvalidRequest},
		{"bearerx scheme", []string{"Bearerx abc"}, "", CodeNoCredentials},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api/v1/dags", nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			got, err := BearerToken(r)
			if got != tc.want || CodeOf(err) != tc.code {
				t.Errorf("BearerToken() = %q, %v; want %q, code %q", got, err, tc.want, tc.code)
			}
			if tc.code == CodeNoCredentials && !errors.Is(err, ErrNoCredentials) {
				t.Errorf("errors.Is(%v, ErrNoCredentials) = false", err)
			}
		})
	}
}

func TestWWWAuthenticate(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{ErrNoCredentials, `Bearer realm="airgate"`},
		{reject(CodeInvalidRequest, "x"), `Bearer realm="airgate", error="invalid_request"`},
		{reject(CodeTokenExpired, "x"), `Bearer realm="airgate", error="invalid_token"`},
		{reject(CodeBadSignature, "x"), `Bearer realm="airgate", error="invalid_token"`},
		{reject(CodeGraphToken, "x"), `Bearer realm="airgate", error="invalid_token"`},
		{ErrKeysUnavailable, ""},
		{nil, ""},
	}
	for _, tc := range tests {
		if got := WWWAuthenticate(tc.err); got != tc.want {
			t.Errorf("WWWAuthenticate(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// The character table agrees with RFC 6750's grammar for every byte, in
// the token and in its padding.
func TestB64TokenTable(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)
	for c := range 256 {
		for _, s := range []string{string(rune(c)), "a" + string([]byte{byte(c)}), "ab=" + string([]byte{byte(c)}), string([]byte{byte(c)}) + "=="} {
			if got, want := isB64Token(s), re.MatchString(s); got != want {
				t.Errorf("isB64Token(%q) = %v, want %v", s, got, want)
			}
		}
	}
}
