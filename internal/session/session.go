package session

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/airgate/airgate/internal/identity"
)

// Session is one browser session. A Session read from a cookie is owned by
// the caller; its Principal MUST NOT be modified once the session is in use
// (it is shared with the request pipeline).
type Session struct {
	// ID identifies the session (128 random bits, base64url); it never
	// appears in logs or audit records: Fingerprint does.
	ID string
	// IssuedAt is when the user signed in to airgate; refreshes keep it.
	IssuedAt time.Time
	// Expiry is when the session ends, however often it is refreshed.
	Expiry time.Time
	// RefreshToken is Entra's refresh token, kept only so that airgate can
	// renew the access token before it expires. It is sealed with the rest
	// of the session and MUST NOT be logged.
	RefreshToken string
	// Principal is the caller as verified from Entra's access token at
	// sign-in or at the last refresh. Principal.Expiry is that access
	// token's expiry: past it the session needs a refresh.
	Principal *identity.Principal
}

// NewID returns a fresh random session id.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Fingerprint identifies a session in logs, audit records and revocations
// without revealing its id: "session:" and 16 hex digits of a labelled
// SHA-256 of the id.
func Fingerprint(id string) string {
	sum := sha256.Sum256([]byte("airgate session id\x00" + id))
	return "session:" + hex.EncodeToString(sum[:8])
}

// Fingerprint returns the session's fingerprint (see [Fingerprint]).
func (s *Session) Fingerprint() string { return Fingerprint(s.ID) }

// Options configure a Manager.
type Options struct {
	// Keys seal and open the cookies. Required.
	Keys Keys
	// CookieName is the base name of the cookies (default "airgate"); the
	// session lives in <name>_session_<n>, sign-ins in progress in
	// <name>_login_<id>.
	CookieName string
	// Secure marks the cookies Secure and gives them the __Host- prefix
	// (Path=/, no Domain: no sibling subdomain can set or shadow them).
	// Only development over plain http leaves it off.
	Secure bool
	// LoginTTL bounds a sign-in in progress; default 10m.
	LoginTTL time.Duration
	// MaxGroups is how many group ids a session keeps (default 100). A
	// principal with more is stored with GroupsOverage set and no groups,
	// as Entra itself does past its limit, and the server reads the groups
	// from Microsoft Graph.
	MaxGroups int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Manager reads and writes sessions and sign-in states. It is safe for
// concurrent use.
type Manager struct {
	o       Options
	seal    *sealer
	session chunkedCookie
	prefix  string
}

// Sealing purposes: a value sealed for one never opens as the other.
const (
	purposeSession = "session"
	purposeLogin   = "login"
)

// New returns a Manager.
func New(o Options) (*Manager, error) {
	if o.Keys == nil {
		return nil, errors.New("session: no keys")
	}
	if o.CookieName == "" {
		o.CookieName = "airgate"
	}
	if o.LoginTTL <= 0 {
		o.LoginTTL = 10 * time.Minute
	}
	if o.MaxGroups <= 0 {
		o.MaxGroups = 100
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	prefix := ""
	if o.Secure {
		prefix = "__Host-"
	}
	m := &Manager{o: o, seal: newSealer(o.Keys), prefix: prefix}
	m.session = chunkedCookie{name: prefix + o.CookieName + "_session", secure: o.Secure}
	return m, nil
}

// SessionCookie returns the name of the session's first cookie.
func (m *Manager) SessionCookie() string { return m.session.chunkName(0) }

// Owns reports whether a cookie name is one of the Manager's (session
// chunks and sign-in states), so that the server can drop any other
// Set-Cookie an upstream sends.
func (m *Manager) Owns(name string) bool {
	base := m.prefix + m.o.CookieName + "_"
	return len(name) > len(base) && name[:len(base)] == base
}

// Present reports whether r carries a session cookie (valid or not).
func (m *Manager) Present(r *http.Request) bool { return m.session.present(r) }

// Save seals s into the session cookies on w, replacing what r carried.
func (m *Manager) Save(w http.ResponseWriter, r *http.Request, s *Session) error {
	plain, err := m.encode(s)
	if err != nil {
		return err
	}
	sealed, err := m.seal.seal(purposeSession, plain)
	if err != nil {
		return err
	}
	return m.session.write(w, r, sealed)
}

// Load opens the session r carries: ErrNoSession without one, ErrInvalid
// for a cookie that does not open, ErrExpired past the session's Expiry.
// It does not check revocation (see [Store.Check]) or the access token's
// expiry (the caller refreshes).
func (m *Manager) Load(r *http.Request) (*Session, error) {
	sealed, err := m.session.read(r)
	if err != nil {
		return nil, err
	}
	plain, err := m.seal.open(purposeSession, sealed)
	if err != nil {
		return nil, err
	}
	s, err := decode(plain)
	if err != nil {
		return nil, ErrInvalid
	}
	if !m.o.Now().Before(s.Expiry) {
		return nil, ErrExpired
	}
	return s, nil
}

// Clear deletes the session cookies.
func (m *Manager) Clear(w http.ResponseWriter, r *http.Request) { m.session.clear(w, r) }

// maxPlain bounds a decoded session (the cookies bound the sealed size;
// this bounds decompression).
const maxPlain = 64 << 10

// wire is the serialised session. Field names are short: cookies are
// small.
type wire struct {
	V   int      `json:"v"`
	ID  string   `json:"id"`
	Iat int64    `json:"iat"`
	Exp int64    `json:"exp"`
	RT  string   `json:"rt,omitempty"`
	P   wirePrin `json:"p"`
}

type wirePrin struct {
	Kind   identity.Kind `json:"k"`
	TID    string        `json:"tid"`
	OID    string        `json:"oid"`
	Sub    string        `json:"sub,omitempty"`
	UPN    string        `json:"upn,omitempty"`
	AppID  string        `json:"azp,omitempty"`
	Name   string        `json:"name,omitempty"`
	Groups []string      `json:"g,omitempty"`
	Over   bool          `json:"go,omitempty"`
	Roles  []string      `json:"r,omitempty"`
	Scopes []string      `json:"scp,omitempty"`
	AMR    []string      `json:"amr,omitempty"`
	ACR    string        `json:"acr,omitempty"`
	Iss    string        `json:"iss,omitempty"`
	Aud    string        `json:"aud,omitempty"`
	Ver    string        `json:"ver,omitempty"`
	Iat    int64         `json:"iat"`
	Exp    int64         `json:"exp"`
}

func (m *Manager) encode(s *Session) ([]byte, error) {
	p := s.Principal
	if p == nil || s.ID == "" || s.Expiry.IsZero() {
		return nil, errors.New("session: incomplete session")
	}
	wp := wirePrin{
		Kind: p.Kind, TID: p.TenantID, OID: p.ObjectID, Sub: p.Subject, UPN: p.UPN, AppID: p.AppID, Name: p.DisplayName,
		Groups: p.Groups, Over: p.GroupsOverage, Roles: p.AppRoles, Scopes: p.Scopes, AMR: p.AMR, ACR: p.ACR,
		Iss: p.Issuer, Aud: p.Audience, Ver: p.TokenVersion, Iat: p.IssuedAt.Unix(), Exp: p.Expiry.Unix(),
	}
	if len(wp.Groups) > m.o.MaxGroups {
		wp.Groups, wp.Over = nil, true
	}
	b, err := json.Marshal(wire{V: 1, ID: s.ID, Iat: s.IssuedAt.UnixNano(), Exp: s.Expiry.Unix(), RT: s.RefreshToken, P: wp})
	if err != nil {
		return nil, fmt.Errorf("session: encoding: %w", err)
	}
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = zw.Write(b)
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("session: compressing: %w", err)
	}
	return buf.Bytes(), nil
}

func decode(b []byte) (*Session, error) {
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(b)), maxPlain+1))
	if err != nil || len(raw) > maxPlain {
		return nil, errors.New("bad session encoding")
	}
	var w wire
	if err := json.Unmarshal(raw, &w); err != nil || w.V != 1 || w.ID == "" {
		return nil, errors.New("bad session encoding")
	}
	wp := w.P
	p := &identity.Principal{
		Kind: wp.Kind, TenantID: wp.TID, ObjectID: wp.OID, Subject: wp.Sub, UPN: wp.UPN, AppID: wp.AppID, DisplayName: wp.Name,
		Groups: wp.Groups, GroupsOverage: wp.Over, AppRoles: wp.Roles, Scopes: wp.Scopes, AMR: wp.AMR, ACR: wp.ACR,
		Issuer: wp.Iss, Audience: wp.Aud, TokenVersion: wp.Ver, IssuedAt: time.Unix(wp.Iat, 0), Expiry: time.Unix(wp.Exp, 0),
		TokenFingerprint: Fingerprint(w.ID),
	}
	return &Session{ID: w.ID, IssuedAt: time.Unix(0, w.Iat), Expiry: time.Unix(w.Exp, 0), RefreshToken: w.RT, Principal: p}, nil
}
