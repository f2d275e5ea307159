package idp

import (
	"crypto/sha256"
	"sync"
	"time"
)

// authCode is an issued authorization code.
type authCode struct {
	clientID    string
	redirectURI string
	scope       string // as requested on /authorize
	resource    string // v1 authorize only
	user        *user
	amr         []string
	challenge   string // S256 code challenge
	nonce       string
	sid         string
	version     int // endpoint version that issued it
	authTime    time.Time
	expires     time.Time
	redeemed    bool
}

type codeOutcome int

const (
	codeOK codeOutcome = iota
	codeUnknown
	codeExpired
	codeRedeemed
)

// codeStore holds authorization codes by hash. A redeemed code is kept,
// marked, until it expires so a replay is recognised.
type codeStore struct {
	mu sync.Mutex // guards m
	m  map[[32]byte]*authCode
}

func newCodeStore() *codeStore { return &codeStore{m: map[[32]byte]*authCode{}} }

func (c *codeStore) put(code string, ac *authCode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[sha256.Sum256([]byte(code))] = ac
}

// redeem looks the code up and marks it redeemed under the same lock, so
// a code is redeemed at most once.
func (c *codeStore) redeem(code string, now time.Time) (*authCode, codeOutcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.m {
		if now.After(v.expires.Add(time.Hour)) {
			delete(c.m, k)
		}
	}
	ac, ok := c.m[sha256.Sum256([]byte(code))]
	switch {
	case !ok:
		return nil, codeUnknown
	case ac.redeemed:
		return ac, codeRedeemed
	case now.After(ac.expires):
		return ac, codeExpired
	}
	ac.redeemed = true
	return ac, codeOK
}

// refreshGrant is what a refresh token stands for: a user's sign-in to a
// client. Refresh tokens are opaque and multi-resource, as in Entra.
type refreshGrant struct {
	clientID     string
	user         *user
	amr          []string
	sid          string
	confidential bool // issued to an authenticated client: refreshing needs its credentials
	authTime     time.Time
	issued       time.Time
	lastUsed     time.Time
}

// refreshStore holds refresh tokens by hash.
type refreshStore struct {
	mu sync.Mutex // guards m
	m  map[[32]byte]*refreshGrant
}

func newRefreshStore() *refreshStore { return &refreshStore{m: map[[32]byte]*refreshGrant{}} }

func (s *refreshStore) put(token string, g *refreshGrant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[sha256.Sum256([]byte(token))] = g
}

// get returns a copy of the grant behind token.
func (s *refreshStore) get(token string) (refreshGrant, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.m[sha256.Sum256([]byte(token))]
	if !ok {
		return refreshGrant{}, false
	}
	return *g, true
}

// pendingAuth is an authorize request waiting for the user to pick an
// account on the sign-in page.
type pendingAuth struct {
	req     authorizeRequest
	expires time.Time
}

// pendingStore holds sign-in page requests; each is used once.
type pendingStore struct {
	mu sync.Mutex // guards m
	m  map[string]*pendingAuth
}

func newPendingStore() *pendingStore { return &pendingStore{m: map[string]*pendingAuth{}} }

func (p *pendingStore) put(id string, pa *pendingAuth, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, v := range p.m {
		if now.After(v.expires) {
			delete(p.m, k)
		}
	}
	p.m[id] = pa
}

func (p *pendingStore) take(id string, now time.Time) (*pendingAuth, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pa, ok := p.m[id]
	if !ok {
		return nil, false
	}
	delete(p.m, id)
	if now.After(pa.expires) {
		return nil, false
	}
	return pa, true
}
