package airflowsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The APIs a [Server] answers, as accepted by [ValidateResponse].
const (
	// APIv1 is Airflow 2's stable REST API, served under /api/v1.
	APIv1 = "v1"
	// APIv2 is Airflow 3's public REST API, served under /api/v2.
	APIv2 = "v2"
)

// Versions the double reports from GET /version.
const (
	// Airflow2Version is the version /api/v1/version reports; the vendored
	// v1 specification is the 2.10.x line.
	Airflow2Version = "2.10.3"
	// Airflow3Version is the version /api/v2/version reports.
	Airflow3Version = "3.1.8"
)

const (
	// DefaultAudience is the audience Airflow 3 expects in its JWTs when
	// [api_auth] jwt_audience is not set.
	DefaultAudience = "apache-airflow"
	// DefaultLeeway is Airflow's [api_auth] jwt_leeway.
	DefaultLeeway = 10 * time.Second
	// DefaultJWKSRefreshInterval is how long Airflow 3 keeps a fetched
	// remote JWKS before fetching it again.
	DefaultJWKSRefreshInterval = time.Hour
	// DefaultRecordLimit is how many requests a server keeps for Requests
	// when Options.RecordLimit is zero.
	DefaultRecordLimit = 10000

	maxRequestBody  = 1 << 20  // bodies the double reads
	maxRecordedBody = 64 << 10 // bytes of a body that Requests keeps
)

// Options configures a [Server]. The zero value serves the default DAGs,
// rejects every /api/v1 call (no basic-auth account) and every /api/v2 call
// (no trusted keys), which is rarely what a test wants.
type Options struct {
	// DAGs are the DAGs the server knows. Nil means [DefaultDAGs].
	DAGs []DAG

	// Username and Password are Airflow 2's service account, checked on
	// /api/v1 with HTTP basic authentication like Airflow's basic_auth
	// backend. An empty Username rejects every /api/v1 call with 401.
	// PATCH /api/v1/users/{Username} can change the password at run time.
	Username string
	Password string

	// JWKSURL is Airflow 3's [api_auth] trusted_jwks_url: an http(s) URL
	// fetched on first use and then at most every JWKSRefreshInterval (a
	// token with an unknown kid does not trigger a fetch, as in Airflow), or
	// a local file read once. When empty, KeySet is used.
	JWKSURL string
	// KeySet holds the trusted public keys when JWKSURL is empty. With
	// neither, every token is rejected with 403.
	KeySet *jose.JSONWebKeySet
	// Algorithms are the accepted signature algorithms ([api_auth]
	// jwt_algorithm). Nil means RS256, ES256 and EdDSA.
	Algorithms []jose.SignatureAlgorithm
	// Audience is the required aud claim; empty means [DefaultAudience].
	Audience string
	// Issuer, if set, is the required iss claim.
	Issuer string
	// Leeway is the allowed clock skew for exp, nbf and iat; zero means
	// [DefaultLeeway].
	Leeway time.Duration
	// JWKSRefreshInterval is how long a fetched JWKS is used before it is
	// fetched again; zero means [DefaultJWKSRefreshInterval].
	JWKSRefreshInterval time.Duration
	// HTTPClient fetches JWKSURL; nil means http.DefaultClient.
	HTTPClient *http.Client

	// ExposeConfig enables GET /config ([webserver] expose_config in
	// Airflow 2, [api] expose_config in Airflow 3); when false it answers
	// 403 as Airflow does by default.
	ExposeConfig bool

	// RecordLimit bounds how many requests [Server.Requests] keeps,
	// dropping the oldest, so a long demo or benchmark does not grow
	// without end: zero means [DefaultRecordLimit], negative keeps none.
	RecordLimit int

	// Now returns the current time; nil means time.Now. It dates the
	// seeded runs at New and every later timestamp, and is used to check
	// token lifetimes.
	Now func() time.Time
}

// Server is the Airflow double. It is an http.Handler, safe for concurrent
// use; create it with [New].
type Server struct {
	now      func() time.Time
	username string
	tokens   *tokenVerifier
	expose   bool

	mu sync.Mutex // guards st
	st *store

	recLimit int        // at most this many requests are kept; 0 keeps none
	recMu    sync.Mutex // guards recorded and recNext
	recorded []Request  // a ring once full
	recNext  int        // the oldest entry of a full ring
}

var _ http.Handler = (*Server)(nil)

// New returns a server holding the DAGs of opts with a little history: one
// finished run per scheduled DAG, a failed manual run of each unscheduled
// one, a few variables, connections, pools, an import error and event-log
// entries, all dated from opts.Now.
func New(opts Options) *Server {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	dags := opts.DAGs
	if dags == nil {
		dags = DefaultDAGs()
	}
	s := &Server{
		now:      now,
		username: opts.Username,
		tokens:   newTokenVerifier(opts, now),
		expose:   opts.ExposeConfig,
		recLimit: max(opts.RecordLimit, 0),
	}
	if opts.RecordLimit == 0 {
		s.recLimit = DefaultRecordLimit
	}
	s.st = newStore(dags, opts.Password, now().UTC())
	return s
}

// ServeHTTP answers Airflow's /api/v1 and /api/v2 endpoints, the UI
// stand-in at / and /home, and 404 for everything else.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	tooLarge := len(body) > maxRequestBody
	if tooLarge {
		body = body[:maxRequestBody]
	}
	rec := newRecord(r, body, tooLarge || err != nil, s.now())
	esc := r.URL.EscapedPath()
	switch {
	case strings.HasPrefix(esc, "/api/v1/"):
		s.serveAPI(w, r, APIv1, strings.TrimPrefix(esc, "/api/v1"), body, tooLarge || err != nil, rec)
	case strings.HasPrefix(esc, "/api/v2/"):
		s.serveAPI(w, r, APIv2, strings.TrimPrefix(esc, "/api/v2"), body, tooLarge || err != nil, rec)
	case esc == "/" || esc == "/home":
		s.serveUI(w, r, rec)
	default:
		s.record(rec)
		writeReply(w, reply{status: http.StatusNotFound, body: v2Error{Detail: "Not Found"}})
	}
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, api, rest string, body []byte, bodyErr bool, rec Request) {
	rt, params, ok := matchRoute(api, r.Method, rest)
	if !ok {
		s.record(rec)
		writeReply(w, routeNotFound(api))
		return
	}
	c := &call{s: s, api: api, r: r, params: params, body: body, now: s.now().UTC()}
	if !rt.public {
		who, denied := s.authenticate(api, r)
		if denied != nil {
			s.record(rec)
			writeReply(w, *denied)
			return
		}
		rec.Identity = who
		c.who = who
	}
	// Record before answering, so a client that has its response also
	// finds its request in Requests.
	s.record(rec)
	if bodyErr {
		writeReply(w, c.fail(http.StatusRequestEntityTooLarge, "Request Entity Too Large", "The request body is too large."))
		return
	}
	writeReply(w, rt.handle(c))
}

// call is one authenticated API request on its way to a handler.
type call struct {
	s      *Server
	api    string
	r      *http.Request
	params map[string]string
	body   []byte
	who    Identity
	now    time.Time
}

func (c *call) v1() bool { return c.api == APIv1 }

// owner is the name Airflow would write into the event log for the caller.
func (c *call) owner() string {
	if c.who.User != "" {
		return c.who.User
	}
	return c.who.Subject
}

// stamp renders t the way the API does: Airflow 2 (marshmallow) writes
// Python's isoformat with +00:00, Airflow 3 (pydantic) writes Z.
func (c *call) stamp(t time.Time) string {
	if c.v1() {
		return pyISO(t)
	}
	return pydanticISO(t)
}

func (c *call) stampPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := c.stamp(*t)
	return &s
}

// pyISO is Python's datetime.isoformat for an aware UTC time.
func pyISO(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 != 0 {
		return t.Format("2006-01-02T15:04:05.000000") + "+00:00"
	}
	return t.Format("2006-01-02T15:04:05") + "+00:00"
}

func pydanticISO(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 != 0 {
		return t.Format("2006-01-02T15:04:05.000000") + "Z"
	}
	return t.Format("2006-01-02T15:04:05") + "Z"
}

// reply is what a handler answers.
type reply struct {
	status      int
	body        any    // encoded as JSON unless text is set
	text        string // a text/plain or text/html body
	contentType string // default application/json
	header      http.Header
}

func writeReply(w http.ResponseWriter, rep reply) {
	for k, vs := range rep.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if rep.status == http.StatusNoContent {
		w.WriteHeader(rep.status)
		return
	}
	var out []byte
	ct := rep.contentType
	if rep.text != "" || strings.HasPrefix(ct, "text/") {
		out = []byte(rep.text)
	} else {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // Python's json does not escape <, > and &
		if err := enc.Encode(rep.body); err != nil {
			http.Error(w, "encoding response: "+err.Error(), http.StatusInternalServerError)
			return
		}
		out = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if ct == "" {
			ct = "application/json"
		}
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(rep.status)
	_, _ = w.Write(out)
}

func okJSON(body any) reply { return reply{status: http.StatusOK, body: body} }

// query returns the request's query parameters.
func (c *call) query() url.Values { return c.r.URL.Query() }
