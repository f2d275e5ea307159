package demo

import (
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/airgate/airgate/internal/airflowsim"
	"github.com/airgate/airgate/internal/audit"
)

// RequestsPath is the demo-only endpoint on the Airflow double's port that
// lists what reached the double: GET /-/requests[?request_id=ID]. A real
// Airflow has no such endpoint; it exists so that people and tests can see
// exactly what airgate forwarded, and with which identity.
const RequestsPath = "/-/requests"

// RecordedRequest is one request that reached the Airflow double, as
// /-/requests lists it. Credentials appear only as fingerprints.
type RecordedRequest struct {
	Method string `json:"method"`
	// Path is the path as sent (escaped); Query the raw query.
	Path  string `json:"path"`
	Query string `json:"query,omitempty"`
	// RequestID is airgate's X-Request-Id, also in its response and its
	// audit records.
	RequestID string `json:"request_id,omitempty"`
	// User is the Airflow 2 basic-auth user the double accepted; Subject
	// and Role the Airflow 3 JWT's sub and role.
	User    string `json:"user,omitempty"`
	Subject string `json:"subject,omitempty"`
	Role    string `json:"role,omitempty"`
	// AirgateUser is the X-Airgate-User header (Airflow 2).
	AirgateUser string `json:"airgate_user,omitempty"`
	// Credential is the fingerprint (audit.TokenFingerprint) of the
	// Authorization header's credential, never the credential itself.
	Credential string `json:"credential,omitempty"`
	// Body is the request body (at most 4 KiB of it) when it is text.
	Body string `json:"body,omitempty"`
}

const maxListedBody = 4 << 10

// withRequestLog serves RequestsPath in front of the double.
func withRequestLog(sim *airflowsim.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != RequestsPath {
			sim.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		id := r.URL.Query().Get("request_id")
		out := struct {
			Requests []RecordedRequest `json:"requests"`
		}{Requests: []RecordedRequest{}}
		for _, rq := range sim.Requests() {
			rr := recorded(rq)
			if id == "" || rr.RequestID == id {
				out.Requests = append(out.Requests, rr)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	})
}

func recorded(rq airflowsim.Request) RecordedRequest {
	rr := RecordedRequest{
		Method: rq.Method, Path: rq.RawPath, Query: rq.RawQuery,
		RequestID:   rq.Header.Get("X-Request-Id"),
		User:        rq.Identity.User,
		Subject:     rq.Identity.Subject,
		Role:        rq.Identity.Role,
		AirgateUser: rq.Header.Get("X-Airgate-User"),
	}
	if a := rq.Header.Get("Authorization"); a != "" {
		_, cred, ok := strings.Cut(a, " ")
		if !ok {
			cred = a
		}
		rr.Credential = audit.TokenFingerprint(strings.TrimSpace(cred))
	}
	if b := rq.Body; len(b) > 0 && utf8.Valid(b) {
		if len(b) > maxListedBody {
			b = b[:maxListedBody]
		}
		rr.Body = string(b)
	}
	return rr
}
