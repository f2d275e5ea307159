package rotation

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/airgate/airgate/internal/secrets"
)

// AirflowOptions configure the Airflow 2 service-account password rotator.
type AirflowOptions struct {
	// Store holds the password's versions. Required.
	Store secrets.SecretStore
	// URL is Airflow's base URL; Username the service account. Required.
	URL, Username string
	// HTTPClient calls Airflow. Required.
	HTTPClient *http.Client
	// MaxAge rotates a password this old. Default 30 days.
	MaxAge time.Duration
	// VerifyTimeout bounds the wait until Airflow accepts the new
	// password. Default 30s.
	VerifyTimeout time.Duration
	// Logger receives progress lines (fingerprints only).
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Fault injects failures in tests; nil in production.
	Fault Fault
}

// Airflow rotates the Airflow 2 service-account password with the user
// API: PATCH /api/v1/users/{username}. Airflow keeps one password per user,
// so there is no overlap: the old password stops working the moment the
// PATCH lands. Gateways read the password from the store (the pending
// version too, during a rotation) and retry a refused request once with the
// other version, so requests keep working across the change.
type Airflow struct {
	o   AirflowOptions
	log *slog.Logger
}

var _ Rotator = (*Airflow)(nil)

// NewAirflow returns the rotator for NameAirflow.
func NewAirflow(o AirflowOptions) (*Airflow, error) {
	if o.Store == nil || o.HTTPClient == nil || o.URL == "" || o.Username == "" {
		return nil, errors.New("rotation: airflow: store, HTTP client, URL and username are required")
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 30 * 24 * time.Hour
	}
	if o.VerifyTimeout <= 0 {
		o.VerifyTimeout = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.URL = strings.TrimSuffix(o.URL, "/")
	return &Airflow{o: o, log: o.Logger}, nil
}

// Name implements Rotator.
func (a *Airflow) Name() string { return NameAirflow }

// Status implements Rotator.
func (a *Airflow) Status(ctx context.Context) (Status, error) {
	st := Status{Name: NameAirflow, Kind: "password", ReadOnly: readOnlyReason(a.o.Store)}
	cur, err := a.o.Store.Get(ctx, NameAirflow, secrets.Current)
	if err != nil {
		return st, err
	}
	st.Version, st.Created, st.Hint = cur.Version, cur.Created, "fp:"+cur.Fingerprint()
	if !cur.ActivatedAt.IsZero() {
		st.Created = cur.ActivatedAt
	}
	st.nextRotation(a.o.MaxAge, 0)
	return st, nil
}

// Due implements Rotator.
func (a *Airflow) Due(st Status, now time.Time) bool { return dueByTime(st, now) }

// newPassword returns 32 random bytes, base64url: 256 bits.
func newPassword() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return []byte(base64.RawURLEncoding.EncodeToString(b))
}

// Rotate implements Rotator.
func (a *Airflow) Rotate(ctx context.Context, plan Plan) error {
	in := plan.Intent
	cur, err := a.o.Store.Get(ctx, NameAirflow, secrets.Current)
	if err != nil {
		return err
	}
	pw := newPassword()
	// The new password is stored before Airflow hears of it: after a crash
	// Recover can always tell which of the two Airflow accepts.
	n, err := a.o.Store.Put(ctx, NameAirflow, secrets.Version{Value: pw, Meta: map[string]string{"rotation": in.ID}})
	if err != nil {
		return fmt.Errorf("storing the new password: %w", err)
	}
	if err := in.Save(ctx, "changing", map[string]string{"old_version": strconv.Itoa(cur.Version), "new_version": strconv.Itoa(n)}); err != nil {
		return err
	}
	if err := a.o.Fault.at("before-change"); err != nil {
		return err
	}
	if err := a.change(ctx, cur.Value, pw); err != nil {
		var he *httpError
		if errors.As(err, &he) {
			// Airflow refused: the old password stands.
			_ = a.o.Store.Retire(ctx, NameAirflow, n)
			a.rollback(ctx, in, err)
		}
		return fmt.Errorf("changing the Airflow password: %w", err)
	}
	a.log.Info("rotation: Airflow password changed", "secret", NameAirflow, "version", n, "fingerprint", secrets.Fingerprint(pw))
	if err := a.o.Fault.at("after-change"); err != nil {
		return err
	}
	if err := in.Save(ctx, "changed", nil); err != nil {
		return err
	}
	return a.settle(ctx, in)
}

func (a *Airflow) rollback(ctx context.Context, in *Intent, cause error) {
	if err := in.Save(ctx, in.Step(), map[string]string{"rolled_back": "true"}); err == nil {
		_ = in.Done(ctx)
	}
	a.log.Warn("rotation: rolled back", "secret", NameAirflow, "rotation", in.ID, "err", cause.Error())
}

// settle finds out which password Airflow accepts and makes the store
// agree: the new one is activated and the old one retired, or the new one
// is discarded.
func (a *Airflow) settle(ctx context.Context, in *Intent) error {
	n, _ := strconv.Atoi(in.Get("new_version"))
	old, _ := strconv.Atoi(in.Get("old_version"))
	nv, err := a.o.Store.Get(ctx, NameAirflow, n)
	if err != nil {
		return err
	}
	if nv.State != secrets.StateActive {
		if nv.Value == nil {
			return in.Done(ctx) // already discarded
		}
		if in.Step() == "changing" && a.check(ctx, nv.Value) != nil {
			// A crash around the PATCH: if the old password still works,
			// the change never landed.
			if ov, gerr := a.o.Store.Get(ctx, NameAirflow, old); gerr == nil && ov.Value != nil && a.check(ctx, ov.Value) == nil {
				_ = a.o.Store.Retire(ctx, NameAirflow, n)
				a.rollback(ctx, in, errors.New("the password change never reached Airflow"))
				return nil
			}
		}
		if err := a.waitAccepted(ctx, nv.Value); err != nil {
			if ctx.Err() != nil {
				return err
			}
			// Does the old one still work? Then nothing changed.
			if ov, gerr := a.o.Store.Get(ctx, NameAirflow, old); gerr == nil && ov.Value != nil && a.check(ctx, ov.Value) == nil {
				_ = a.o.Store.Retire(ctx, NameAirflow, n)
				a.rollback(ctx, in, err)
				return err
			}
			return fmt.Errorf("neither password is accepted by Airflow: %w", err)
		}
		if err := a.o.Fault.at("before-switch"); err != nil {
			return err
		}
		if err := a.o.Store.Activate(ctx, NameAirflow, n); err != nil {
			return err
		}
	}
	if old > 0 {
		if err := a.o.Store.Retire(ctx, NameAirflow, old); err != nil && !errors.Is(err, secrets.ErrNotFound) {
			return err
		}
	}
	return in.Done(ctx)
}

// Recover implements Rotator.
func (a *Airflow) Recover(ctx context.Context, in *Intent) error {
	switch in.Step() {
	case "begin":
		return in.Done(ctx)
	case "changing", "changed":
		return a.settle(ctx, in)
	}
	return fmt.Errorf("rotation: %s: unknown step %q in intent %s", NameAirflow, in.Step(), in.ID)
}

// httpError is a refusal from Airflow.
type httpError struct {
	status int
	what   string
}

func (e *httpError) Error() string { return fmt.Sprintf("%s: Airflow answered %d", e.what, e.status) }

func (a *Airflow) request(ctx context.Context, method, path string, pw []byte, body any) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.o.URL+path, rd)
	if err != nil {
		return nil, nil, err
	}
	req.SetBasicAuth(a.o.Username, string(pw))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.o.HTTPClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return resp, b, err
}

// change sets the service account's password, authenticating with the
// current one. Airflow 2's user schema wants the profile fields with the
// password, so they are read first where the API allows it.
func (a *Airflow) change(ctx context.Context, cur, next []byte) error {
	path := "/api/v1/users/" + url.PathEscape(a.o.Username)
	body := map[string]any{"username": a.o.Username}
	if resp, b, err := a.request(ctx, http.MethodGet, path, cur, nil); err == nil && resp.StatusCode == http.StatusOK {
		var user map[string]any
		if json.Unmarshal(b, &user) == nil {
			for _, k := range []string{"first_name", "last_name", "email"} {
				if v, ok := user[k]; ok {
					body[k] = v
				}
			}
		}
	}
	body["password"] = string(next)
	resp, _, err := a.request(ctx, http.MethodPatch, path+"?update_mask=password", cur, body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &httpError{status: resp.StatusCode, what: "PATCH " + path}
	}
	return nil
}

// check makes an authenticated call that needs the password.
func (a *Airflow) check(ctx context.Context, pw []byte) error {
	resp, _, err := a.request(ctx, http.MethodGet, "/api/v1/dags?limit=1", pw, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &httpError{status: resp.StatusCode, what: "GET /api/v1/dags"}
	}
	return nil
}

func (a *Airflow) waitAccepted(ctx context.Context, pw []byte) error {
	ctx, cancel := context.WithTimeout(ctx, a.o.VerifyTimeout)
	defer cancel()
	wait := 200 * time.Millisecond
	for {
		err := a.check(ctx, pw)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("airflow did not accept the new password within %s: %w", a.o.VerifyTimeout, err)
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}
