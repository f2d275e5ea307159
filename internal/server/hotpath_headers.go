package server

import (
	"bytes"
	"net/http"
	"strings"
)

// The header stripping of every forwarded request, without allocating:
// one pass over the request's headers instead of a lookup per listed name,
// and the fragment check on a lower-cased copy in a stack buffer instead of
// strings.ToLower and strings.ReplaceAll per header and fragment (issue 9).
// What is removed is exactly what strippedHeaders and strippedFragments
// say (hotpath_headers_test.go checks it against the plain version).

// strippedSet is strippedHeaders as a set.
var strippedSet = func() map[string]struct{} {
	m := make(map[string]struct{}, len(strippedHeaders))
	for _, k := range strippedHeaders {
		m[k] = struct{}{}
	}
	return m
}()

// strippedFragmentBytes is strippedFragments as byte slices.
var strippedFragmentBytes = func() [][]byte {
	out := make([][]byte, len(strippedFragments))
	for i, f := range strippedFragments {
		out[i] = []byte(f)
	}
	return out
}()

// stripHeaders removes every client-sent credential, identity and
// forwarding header from h, in place, and reports how many it removed.
func stripHeaders(h http.Header) int {
	n := 0
	var buf [128]byte
	for k := range h {
		if _, ok := strippedSet[k]; ok || identityLike(k, buf[:0]) {
			delete(h, k)
			n++
		}
	}
	return n
}

// identityLike reports whether the header name k contains one of
// strippedFragments, ignoring case and reading "_" as "-" (header names
// that do not pass net/http's canonicalisation, as REMOTE_USER, arrive
// as-is). User-Agent, the one legitimate header a fragment catches, is
// not. buf is scratch space.
func identityLike(k string, buf []byte) bool {
	underscore := false
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 0x80:
			return identityLikeUnicode(k)
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c, underscore = '-', true
		}
		buf = append(buf, c)
	}
	if !underscore && string(buf) == "user-agent" {
		return false
	}
	for _, f := range strippedFragmentBytes {
		if bytes.Contains(buf, f) {
			return true
		}
	}
	return false
}

// identityLikeUnicode is identityLike for names with non-ASCII bytes,
// which net/http refuses on the wire: lower-cased as Unicode, as before.
func identityLikeUnicode(k string) bool {
	lk := strings.ToLower(k)
	if lk == "user-agent" {
		return false
	}
	dashed := strings.ReplaceAll(lk, "_", "-")
	for _, f := range strippedFragments {
		if strings.Contains(lk, f) || strings.Contains(dashed, f) {
			return true
		}
	}
	return false
}
