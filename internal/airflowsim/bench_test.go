package airflowsim

import (
	"net/http/httptest"
	"testing"
)

// The double sits behind airgate in benchmarks; these show its own cost
// per request so that it can be subtracted.

func BenchmarkV1GetDAG(b *testing.B) {
	srv := New(Options{Username: testUser, Password: testPassword, Now: newClock(testNow).Now, RecordLimit: -1})
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/api/v1/dags/team_a_daily", nil)
		req.SetBasicAuth(testUser, testPassword)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
	}
}

func BenchmarkV2GetDAG(b *testing.B) {
	rsaK, _, edK, _ := testKeys(b)
	for _, k := range []signingKey{rsaK, edK} {
		b.Run(string(k.alg), func(b *testing.B) {
			srv := New(Options{KeySet: keySet(k), Now: newClock(testNow).Now, RecordLimit: -1})
			tok := sign(b, k, k.kid, claims("alice", "admin", testNow))
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("GET", "/api/v2/dags/team_a_daily", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
