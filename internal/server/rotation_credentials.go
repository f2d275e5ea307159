package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/secrets"
	"github.com/airgate/airgate/internal/secrets/rotation"
	"github.com/airgate/airgate/internal/sqlstore"
)

// EntraClientAuth returns the form parameters that authenticate airgate to
// Entra's token endpoint with the current client credential (client_secret,
// or a fresh client_assertion for a certificate), for browser sign-in's
// code redemption. The values hold a secret: MUST NOT be logged.
func (s *Server) EntraClientAuth() (url.Values, error) {
	rt := s.rt.Load()
	v, err := s.rot.entra.current()
	if err != nil {
		return nil, fmt.Errorf("server: entra client credential: %w", err)
	}
	return rotation.ClientAuth(v, rt.cfg.Entra.ClientID, tokenURL(rt.cfg), time.Now())
}

// graphHTTPClient returns a client that calls Microsoft Graph with app-only
// tokens obtained with airgate's current Entra credential, read from the
// rotation store on every token request, so a rotation reaches it without
// a restart.
func (s *Server) graphHTTPClient(cfg *config.Config, base *http.Client) (*http.Client, error) {
	cred, err := s.credential(cfg, rotation.NameEntra)
	if err != nil {
		return nil, err
	}
	src := &entraTokenSource{cred: cred, clientID: cfg.Entra.ClientID, tokenURL: tokenURL(cfg), hc: base}
	return &http.Client{Transport: &oauth2.Transport{Source: oauth2.ReuseTokenSource(nil, src), Base: base.Transport}, Timeout: base.Timeout}, nil
}

// entraTokenSource gets Graph tokens by client credentials with the current
// version of the credential; if Entra refuses it (a rotation just retired
// it and this replica has not re-read yet), it tries the other version.
type entraTokenSource struct {
	cred               *versionedSecret
	clientID, tokenURL string
	hc                 *http.Client
}

func (e *entraTokenSource) Token() (*oauth2.Token, error) {
	cur, err := e.cred.current()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := e.token(ctx, cur)
	var te *rotation.TokenError
	if err == nil || !errors.As(err, &te) || te.Code != "invalid_client" {
		return tok, err
	}
	// Refused: another process may have rotated. Re-read, then try the
	// versions this one did not.
	e.cred.refreshSince(ctx, time.Now())
	for _, v := range []*secrets.Version{e.cred.snapCurrent(), e.cred.other()} {
		if v != nil && v.Value != nil && v.Version != cur.Version {
			if t, err2 := e.token(ctx, v); err2 == nil {
				return t, nil
			}
		}
	}
	return nil, err
}

func (e *entraTokenSource) token(ctx context.Context, v *secrets.Version) (*oauth2.Token, error) {
	auth, err := rotation.ClientAuth(v, e.clientID, e.tokenURL, time.Now())
	if err != nil {
		return nil, err
	}
	access, life, err := rotation.RequestToken(ctx, e.hc, e.tokenURL, rotation.GraphScope, auth)
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: access, TokenType: "Bearer", Expiry: time.Now().Add(life)}, nil
}

// upstreamCred is the Airflow 2 service account's credential, read from
// the rotation store.
type upstreamCred struct {
	user string
	pw   *versionedSecret
	// built caches the header of the version last used: versions are
	// immutable and replaced on re-read, so a pointer compare suffices.
	built atomic.Pointer[builtHeader]
}

type builtHeader struct {
	ver    *secrets.Version
	header string
}

// upstreamBasicAuth returns the Airflow 2 credential for cfg.
func (s *Server) upstreamBasicAuth(cfg *config.Config) (*upstreamCred, error) {
	pw, err := s.credential(cfg, rotation.NameAirflow)
	if err != nil {
		return nil, err
	}
	return &upstreamCred{user: cfg.Upstream.Username, pw: pw}, nil
}

// credential returns the versioned source of secret name: the gateway's,
// re-read on the poll, or for a one-shot server without rotation (explain)
// a single read of the configured store.
func (s *Server) credential(cfg *config.Config, name string) (*versionedSecret, error) {
	var v *versionedSecret
	if s.rot != nil {
		v = map[string]*versionedSecret{rotation.NameEntra: s.rot.entra, rotation.NameAirflow: s.rot.upstream}[name]
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var db *sqlstore.DB
		if cfg.Rotation.Store == "db" {
			var err error
			if db, err = sqlstore.Open(ctx, cfg.RotationDB()); err != nil {
				return nil, err
			}
			defer db.Close()
		}
		store, err := openSecretStore(ctx, cfg, db, time.Now)
		if err != nil {
			return nil, err
		}
		v = &versionedSecret{store: store, name: name}
		v.refresh(ctx)
		cur, err := v.current()
		if err != nil {
			// Not seeded yet: the configured value.
			sec := map[string]config.Secret{rotation.NameEntra: cfg.Entra.ClientSecret, rotation.NameAirflow: cfg.Upstream.Password}[name]
			val, rerr := cfg.Read(sec)
			if rerr != nil {
				return nil, rerr
			}
			cur = &secrets.Version{Name: name, Version: 1, State: secrets.StateActive, Value: []byte(val)}
		}
		// Keep the value read, not a store whose database closes.
		v = &versionedSecret{name: name}
		v.snap.Store(&secretSnapshot{cur: cur})
	}
	if _, err := v.current(); err != nil {
		return nil, err
	}
	return v, nil
}

// header returns the current "Basic ..." value ("" when unreadable, which
// Airflow refuses).
func (c *upstreamCred) header() string {
	v, err := c.pw.current()
	if err != nil {
		return ""
	}
	if b := c.built.Load(); b != nil && b.ver == v {
		return b.header
	}
	h := basicAuth(c.user, string(v.Value))
	c.built.Store(&builtHeader{ver: v, header: h})
	return h
}

// wrap returns base, or for Airflow 2 a transport that, when Airflow
// refuses the password (401), re-reads the store and retries once with the
// version the request did not carry: Airflow has one password per user, so
// between a rotation's change and this replica's re-read, requests carry
// the old one (the new one is stored before Airflow is told). A nil
// receiver returns base.
func (c *upstreamCred) wrap(base http.RoundTripper) http.RoundTripper {
	if c == nil {
		return base
	}
	return &basicRetry{base: base, cred: c}
}

type basicRetry struct {
	base http.RoundTripper
	cred *upstreamCred
}

// maxRetryBody bounds the request body kept for a retry.
const maxRetryBody = 1 << 20

func (b *basicRetry) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" {
		return b.base.RoundTrip(r)
	}
	// Keep a small body so the request can be sent again if Airflow
	// refuses the password (Airflow's API bodies are small; a large one
	// is sent once).
	var body []byte
	replayable := true
	if r.Body != nil && r.Body != http.NoBody {
		if r.ContentLength < 0 || r.ContentLength > maxRetryBody {
			replayable = false
		} else {
			var err error
			body, err = io.ReadAll(io.LimitReader(r.Body, maxRetryBody+1))
			r.Body.Close()
			if err != nil {
				return nil, err
			}
			r = r.Clone(r.Context())
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
	}
	resp, err := b.base.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !replayable {
		return resp, err
	}
	// Refused: a rotation may have just changed the password (the new
	// version is stored before Airflow is told). Re-read and retry once
	// with a version this request did not carry.
	b.cred.pw.refreshSince(r.Context(), time.Now())
	used := r.Header.Get("Authorization")
	var next string
	for _, v := range []*secrets.Version{b.cred.pw.snapCurrent(), b.cred.pw.other()} {
		if v != nil && v.Value != nil {
			if h := basicAuth(b.cred.user, string(v.Value)); h != used {
				next = h
				break
			}
		}
	}
	if next == "" {
		return resp, nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	retry := r.Clone(r.Context())
	retry.Header.Set("Authorization", next)
	if body != nil {
		retry.Body = io.NopCloser(bytes.NewReader(body))
	}
	return b.base.RoundTrip(retry)
}

// ssoCredential is the versioned client secret browser sign-in uses, or
// nil for a server without rotation (explain).
func (s *Server) ssoCredential() *versionedSecret {
	if s.rot == nil {
		return nil
	}
	return s.rot.entra
}

// clientSecret is the client secret browser sign-in redeems codes and
// refreshes sessions with: the current version from the rotation store, so
// a rotation reaches sign-in without a restart; the configured one without
// rotation. A certificate credential needs a client assertion at the token
// calls instead (EntraClientAuth), which sign-in does not send yet: it
// keeps the configured secret then.
func (sr *ssoRuntime) clientSecret() string {
	if sr.cred != nil {
		if v, err := sr.cred.current(); err == nil && v.Meta["kind"] != rotation.KindCertificate {
			return string(v.Value)
		}
	}
	return sr.secret
}
