package server

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
)

// stripHeadersPlain is the straightforward statement of what stripHeaders
// removes: every listed name, then every name containing a fragment once
// lower-cased (also with "_" read as "-"), except User-Agent.
func stripHeadersPlain(h http.Header) int {
	n := 0
	for _, k := range strippedHeaders {
		if _, ok := h[k]; ok {
			delete(h, k)
			n++
		}
	}
	for k := range h {
		lk := strings.ToLower(k)
		if lk == "user-agent" {
			continue
		}
		for _, f := range strippedFragments {
			if strings.Contains(lk, f) || strings.Contains(strings.ReplaceAll(lk, "_", "-"), f) {
				delete(h, k)
				n++
				break
			}
		}
	}
	return n
}

func TestStripHeadersMatchesPlainStatement(t *testing.T) {
	names := []string{
		"Accept", "Accept-Encoding", "Content-Type", "Content-Length", "User-Agent", "user-agent", "USER-AGENT",
		"User_Agent", "user_agent", "X-User-Agent", "User-Agent2", "Authorization", "authorization", "Cookie",
		"X-Forwarded-For", "X_Forwarded_For", "x-forwarded-for", "Forwarded", "X-Real-Ip", "X_REAL_IP", "REAL_IP",
		"X-Client-Ip", "CLIENT_IP", "Client_Ip", "X-ClientIp", "Remote-User", "REMOTE_USER", "Remote_user",
		"X-Ms-Client-Principal", "X-Airgate-User", "X-AIRGATE", "X-Email", "X-Impersonate", "X-Groups", "X-Roles",
		"X-Identity", "X-Request-Id", "X-Authenticated", "Proxy-Authorization", "If-None-Match", "Traceparent",
		"X-Ümlaut-User", "X-İdentity", "X-\u212aey", "Cache-Control", "X-Datadog-Trace-Id", strings.Repeat("A", 200) + "-User",
		strings.Repeat("B", 300), "", "_", "-",
	}
	check := func(t *testing.T, keys []string) {
		t.Helper()
		a, b := http.Header{}, http.Header{}
		for _, k := range keys {
			a[k] = []string{"v"}
			b[k] = []string{"v"}
		}
		na, nb := stripHeaders(a), stripHeadersPlain(b)
		if na != nb || len(a) != len(b) {
			t.Fatalf("headers %q: stripHeaders removed %d and left %v; the plain statement removed %d and left %v", keys, na, a, nb, b)
		}
		for k := range b {
			if _, ok := a[k]; !ok {
				t.Fatalf("headers %q: stripHeaders removed %q, the plain statement kept it", keys, k)
			}
		}
	}
	for _, k := range names {
		check(t, []string{k})
	}
	check(t, names)
	// Random names over an alphabet rich in the fragments' letters.
	rng := rand.New(rand.NewPCG(9, 9))
	const alphabet = "abcdefgilmnoprstuwxyAEILMNOPRSTUWXY-_\xc3\x9c"
	for range 5000 {
		b := make([]byte, 1+rng.IntN(14))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		check(t, []string{string(b)})
	}
}

func TestStripHeadersDoesNotAllocate(t *testing.T) {
	h := http.Header{
		"Accept": {"application/json"}, "User-Agent": {"curl/8"}, "Accept-Encoding": {"gzip"},
		"Content-Type": {"application/json"}, "Traceparent": {"00-1-2-01"},
	}
	if n := testing.AllocsPerRun(100, func() { stripHeaders(h) }); n != 0 {
		t.Errorf("stripHeaders allocates %v times for ordinary headers, want 0", n)
	}
	if len(h) != 5 {
		t.Errorf("stripHeaders removed ordinary headers: %v", h)
	}
}

func BenchmarkStripHeaders(b *testing.B) {
	base := http.Header{
		"Accept": {"application/json"}, "User-Agent": {"curl/8"}, "Accept-Encoding": {"gzip"},
		"Authorization": {"Bearer x"}, "X-Forwarded-For": {"10.0.0.1"}, "Traceparent": {"00-1-2-01"},
	}
	for _, impl := range []struct {
		name  string
		strip func(http.Header) int
	}{{"hotpath", stripHeaders}, {"plain", stripHeadersPlain}} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h := make(http.Header, len(base))
				for k, v := range base {
					h[k] = v
				}
				impl.strip(h)
			}
		})
	}
}
