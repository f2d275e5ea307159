package session

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// Login is a sign-in in progress: what the callback must find again. It
// lives in its own short-lived sealed cookie named after its state, so
// that sign-ins started in several tabs do not overwrite each other.
type Login struct {
	// State is the OAuth 2.0 state sent to the authorize endpoint.
	State string `json:"state"`
	// Nonce is the OIDC nonce the ID token must carry.
	Nonce string `json:"nonce"`
	// Verifier is the PKCE code verifier (RFC 7636).
	Verifier string `json:"verifier"`
	// RedirectURI is the redirect URI sent with the authorization request;
	// the code is redeemed with the same one.
	RedirectURI string `json:"redirect_uri"`
	// ReturnTo is the same-origin path to go back to after sign-in.
	ReturnTo string `json:"return_to"`
	// Expiry ends the sign-in; set by StartLogin.
	Expiry time.Time `json:"exp"`
}

// loginCookie returns the cookie a sign-in with this state lives in.
func (m *Manager) loginCookie(state string) string {
	sum := sha256.Sum256([]byte("airgate login\x00" + state))
	return m.prefix + m.o.CookieName + "_login_" + base64.RawURLEncoding.EncodeToString(sum[:9])
}

// StartLogin seals l (setting its Expiry) into a cookie on w.
func (m *Manager) StartLogin(w http.ResponseWriter, l *Login) error {
	if l.State == "" || l.Nonce == "" || l.Verifier == "" || l.RedirectURI == "" {
		return errors.New("session: incomplete sign-in state")
	}
	l.Expiry = m.o.Now().Add(m.o.LoginTTL)
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	sealed, err := m.seal.seal(purposeLogin, b)
	if err != nil {
		return err
	}
	if len(sealed) > chunkSize {
		return ErrTooLarge
	}
	c := chunkedCookie{secure: m.o.Secure}.cookie(m.loginCookie(l.State), sealed, int(m.o.LoginTTL/time.Second))
	http.SetCookie(w, c)
	return nil
}

// FinishLogin finds the sign-in the callback's state belongs to, deletes
// its cookie, and returns it: ErrStateMismatch when this browser started no
// sign-in with that state (or its cookie does not open), ErrExpired when it
// is too old.
func (m *Manager) FinishLogin(w http.ResponseWriter, r *http.Request, state string) (*Login, error) {
	if state == "" || len(state) > 512 {
		return nil, ErrStateMismatch
	}
	name := m.loginCookie(state)
	ck, err := r.Cookie(name)
	if err != nil {
		return nil, ErrStateMismatch
	}
	// One use only: delete it whatever happens next.
	del := chunkedCookie{secure: m.o.Secure}.cookie(name, "", -1)
	http.SetCookie(w, del)
	plain, err := m.seal.open(purposeLogin, ck.Value)
	if err != nil {
		return nil, ErrStateMismatch
	}
	var l Login
	if err := json.Unmarshal(plain, &l); err != nil {
		return nil, ErrStateMismatch
	}
	if subtle.ConstantTimeCompare([]byte(l.State), []byte(state)) != 1 {
		return nil, ErrStateMismatch
	}
	if !m.o.Now().Before(l.Expiry) {
		return nil, ErrExpired
	}
	return &l, nil
}
