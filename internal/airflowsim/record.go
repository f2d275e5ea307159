package airflowsim

import (
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Identity is who a request authenticated as, as far as the double could
// tell. The zero value means no accepted credentials.
type Identity struct {
	// User is the basic-auth username Airflow 2 accepted (on /api/v1 and
	// on the UI page).
	User string
	// Subject and Role are the sub and role claims of the JWT Airflow 3
	// accepted (on /api/v2 and on the UI page).
	Subject string
	Role    string
}

// Request is one request the server received, as it arrived.
type Request struct {
	Method string
	// Path is the decoded path; RawPath is the path as sent, escaped.
	Path    string
	RawPath string
	// RawQuery is the query as sent; Query is its parsed form.
	RawQuery string
	Query    url.Values
	Header   http.Header
	// Body holds at most the first 64 KiB; BodyTruncated reports whether
	// there was more (or the body could not be read).
	Body          []byte
	BodyTruncated bool
	// Identity is who the request authenticated as; it is zero for public
	// endpoints, 404s and rejected credentials.
	Identity Identity
	// Received is when the request arrived, by Options.Now.
	Received time.Time
}

func newRecord(r *http.Request, body []byte, truncated bool, now time.Time) Request {
	if len(body) > maxRecordedBody {
		body, truncated = body[:maxRecordedBody], true
	}
	return Request{
		Method:        r.Method,
		Path:          r.URL.Path,
		RawPath:       r.URL.EscapedPath(),
		RawQuery:      r.URL.RawQuery,
		Query:         r.URL.Query(),
		Header:        r.Header.Clone(),
		Body:          slices.Clone(body),
		BodyTruncated: truncated,
		Received:      now,
	}
}

func (s *Server) record(rec Request) {
	if s.recLimit == 0 {
		return
	}
	s.recMu.Lock()
	if len(s.recorded) < s.recLimit {
		s.recorded = append(s.recorded, rec)
	} else { // full: overwrite the oldest
		s.recorded[s.recNext] = rec
		s.recNext = (s.recNext + 1) % s.recLimit
	}
	s.recMu.Unlock()
}

// Requests returns a copy of the requests received since New or the last
// Reset, oldest first, including rejected ones and those that matched no
// route; only the latest Options.RecordLimit are kept. The caller owns the
// result.
func (s *Server) Requests() []Request {
	s.recMu.Lock()
	defer s.recMu.Unlock()
	out := make([]Request, 0, len(s.recorded))
	for _, r := range append(s.recorded[s.recNext:len(s.recorded):len(s.recorded)], s.recorded[:s.recNext]...) {
		r.Query = cloneValues(r.Query)
		r.Header = r.Header.Clone()
		r.Body = slices.Clone(r.Body)
		out = append(out, r)
	}
	return out
}

// Reset forgets the recorded requests. It does not change the DAGs, runs
// or other state.
func (s *Server) Reset() {
	s.recMu.Lock()
	s.recorded, s.recNext = nil, 0
	s.recMu.Unlock()
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
