package rotation

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/airgate/airgate/internal/secrets"
)

// EntraOptions configure the Entra client credential rotator.
type EntraOptions struct {
	// Store holds the credential's versions. Required.
	Store secrets.SecretStore
	// ClientID is airgate's application (client) id; TokenURL its
	// tenant's v2 token endpoint; GraphURL Microsoft Graph's v1.0 base.
	ClientID, TokenURL, GraphURL string
	// ApplicationObjectID addresses the application by object id; empty
	// uses the /applications(appId='...') form.
	ApplicationObjectID string
	// HTTPClient calls Entra and Graph. Required.
	HTTPClient *http.Client
	// Certificate rotates to certificate credentials (client_assertion)
	// instead of client secrets.
	Certificate bool
	// Lifetime is how long a new credential is valid (endDateTime).
	// Default 180 days.
	Lifetime time.Duration
	// MaxAge rotates a credential this old; RenewBefore rotates one this
	// close to its expiry. Defaults 90 days and 30 days.
	MaxAge, RenewBefore time.Duration
	// Overlap is how long the old credential keeps working after the
	// switch, so every replica has moved on. Default 1h.
	Overlap time.Duration
	// PropagationTimeout bounds the wait until Entra accepts the new
	// credential. Default 2m.
	PropagationTimeout time.Duration
	// PollInterval is the first wait between propagation checks (then
	// growing by half up to 10s). Default 1s.
	PollInterval time.Duration
	// Logger receives progress lines (hints and key ids, never secrets).
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Fault injects failures in tests; nil in production.
	Fault Fault
}

// Entra rotates airgate's Entra client credential through Microsoft Graph:
// addPassword (or a new certificate in keyCredentials), verify with a
// client-credentials request, switch, and remove the old credential after
// the overlap. Graph is called with an app-only token obtained with the
// CURRENT credential (Application.ReadWrite.OwnedBy on its own
// application).
type Entra struct {
	o     EntraOptions
	graph *graph
	log   *slog.Logger

	mu       sync.Mutex // guards the cached Graph token
	tok      string
	tokExp   time.Time
	tokOfVer int
}

var _ Rotator = (*Entra)(nil)

// NewEntra returns the rotator for NameEntra.
func NewEntra(o EntraOptions) (*Entra, error) {
	if o.Store == nil || o.HTTPClient == nil || o.ClientID == "" || o.TokenURL == "" || o.GraphURL == "" {
		return nil, errors.New("rotation: entra: store, HTTP client, client id, token URL and Graph URL are required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Lifetime, 180*24*time.Hour)
	def(&o.MaxAge, 90*24*time.Hour)
	def(&o.RenewBefore, 30*24*time.Hour)
	def(&o.PropagationTimeout, 2*time.Minute)
	def(&o.PollInterval, time.Second)
	if o.Overlap < 0 {
		o.Overlap = 0
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Entra{o: o, log: o.Logger}
	e.graph = newGraph(o.GraphURL, o.ClientID, o.ApplicationObjectID, o.HTTPClient, e.graphToken)
	return e, nil
}

// Name implements Rotator.
func (e *Entra) Name() string { return NameEntra }

// graphToken returns an app-only Graph token got with the current
// credential, cached per credential version until a minute before expiry.
func (e *Entra) graphToken(ctx context.Context) (string, error) {
	cur, err := e.o.Store.Get(ctx, NameEntra, secrets.Current)
	if err != nil {
		return "", err
	}
	now := e.o.Now()
	e.mu.Lock()
	if e.tok != "" && e.tokOfVer == cur.Version && now.Before(e.tokExp) {
		t := e.tok
		e.mu.Unlock()
		return t, nil
	}
	e.mu.Unlock()
	auth, err := ClientAuth(cur, e.o.ClientID, e.o.TokenURL, time.Now())
	if err != nil {
		return "", err
	}
	tok, life, err := RequestToken(ctx, e.o.HTTPClient, e.o.TokenURL, GraphScope, auth)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	e.tok, e.tokExp, e.tokOfVer = tok, now.Add(life-time.Minute), cur.Version
	e.mu.Unlock()
	return tok, nil
}

// hint is what identifies a credential version in logs and audit.
func hint(v *secrets.Version) string {
	if v == nil {
		return ""
	}
	if h := v.Meta["hint"]; h != "" {
		return h
	}
	if t := v.Meta["thumbprint"]; t != "" {
		return "x5t#S256:" + t[:min(16, len(t))]
	}
	return "fp:" + v.Fingerprint()
}

// Status implements Rotator. Expires comes from Graph (the credential's
// endDateTime), or from the store when Graph cannot be read.
func (e *Entra) Status(ctx context.Context) (Status, error) {
	st := Status{Name: NameEntra, Kind: KindClientSecret, ReadOnly: readOnlyReason(e.o.Store)}
	cur, err := e.o.Store.Get(ctx, NameEntra, secrets.Current)
	if err != nil {
		return st, err
	}
	if k := cur.Meta["kind"]; k != "" {
		st.Kind = k
	}
	st.Version, st.Created, st.Expires, st.Hint = cur.Version, cur.Created, cur.Expires, hint(cur)
	if !cur.ActivatedAt.IsZero() {
		st.Created = cur.ActivatedAt
	}
	var gerr error
	if st.ReadOnly == "" {
		if app, err := e.graph.application(ctx); err != nil {
			gerr = err
		} else if end := e.credentialEnd(app, cur); !end.IsZero() {
			st.Expires = end
		}
	}
	st.nextRotation(e.o.MaxAge, e.o.RenewBefore)
	return st, gerr
}

// credentialEnd finds v's endDateTime in app.
func (e *Entra) credentialEnd(app *application, v *secrets.Version) time.Time {
	if v.Meta["kind"] == KindCertificate {
		for _, k := range app.KeyCredentials {
			if strings.EqualFold(k.KeyID, v.Meta["key_id"]) && k.EndDateTime != nil {
				return *k.EndDateTime
			}
		}
		return time.Time{}
	}
	if pc := findPassword(app, v); pc != nil && pc.EndDateTime != nil {
		return *pc.EndDateTime
	}
	return time.Time{}
}

// findPassword finds v's passwordCredential: by keyId, or for a secret
// seeded from the configuration (keyId unknown) by a hint that matches
// exactly one credential.
func findPassword(app *application, v *secrets.Version) *passwordCredential {
	if id := v.Meta["key_id"]; id != "" {
		for i, pc := range app.PasswordCredentials {
			if strings.EqualFold(pc.KeyID, id) {
				return &app.PasswordCredentials[i]
			}
		}
		return nil
	}
	if len(v.Value) < 3 {
		return nil
	}
	var found *passwordCredential
	for i, pc := range app.PasswordCredentials {
		if pc.Hint == string(v.Value[:3]) {
			if found != nil {
				return nil // ambiguous
			}
			found = &app.PasswordCredentials[i]
		}
	}
	return found
}

// Due implements Rotator.
func (e *Entra) Due(st Status, now time.Time) bool { return dueByTime(st, now) }

// Rotate implements Rotator.
func (e *Entra) Rotate(ctx context.Context, plan Plan) error {
	in := plan.Intent
	cur, err := e.o.Store.Get(ctx, NameEntra, secrets.Current)
	if err != nil {
		return err
	}
	old := map[string]string{"old_version": strconv.Itoa(cur.Version), "old_kind": kindOf(cur), "old_key_id": cur.Meta["key_id"]}
	if old["old_key_id"] == "" && kindOf(cur) == KindClientSecret {
		// A secret seeded from the configuration: find its keyId now, so
		// that it can be removed after the overlap.
		if app, err := e.graph.application(ctx); err == nil {
			if pc := findPassword(app, cur); pc != nil {
				old["old_key_id"] = pc.KeyID
			}
		}
	}
	if e.o.Certificate {
		return e.rotateCertificate(ctx, in, old)
	}
	return e.rotateSecret(ctx, in, old)
}

func kindOf(v *secrets.Version) string {
	if v.Meta["kind"] == KindCertificate {
		return KindCertificate
	}
	return KindClientSecret
}

func (e *Entra) rotateSecret(ctx context.Context, in *Intent, old map[string]string) error {
	now := e.o.Now().UTC()
	name := "airgate " + now.Format(time.RFC3339)
	end := now.Add(e.o.Lifetime)
	old["kind"] = KindClientSecret
	old["display_name"] = name
	old["end"] = end.Format(time.RFC3339)
	// Write-ahead: the display name lets Recover find (and remove) a
	// secret added just before a crash, whose text was never stored.
	if err := in.Save(ctx, "adding", old); err != nil {
		return err
	}
	if err := e.o.Fault.at("before-add"); err != nil {
		return err
	}
	pc, err := e.graph.addPassword(ctx, name, end)
	if err != nil {
		// Graph refused: nothing was added. Any other failure (a lost
		// answer) leaves the intent for Recover, which finds the secret
		// by its display name.
		if _, refused := errors.AsType[*GraphError](err); refused {
			e.rollback(ctx, in, err)
		}
		return fmt.Errorf("graph addPassword: %w", err)
	}
	e.log.Info("rotation: added a client secret", "secret", NameEntra, "key_id", pc.KeyID, "hint", pc.Hint)
	if err := e.o.Fault.at("after-add"); err != nil {
		return err
	}
	exp := end
	if pc.EndDateTime != nil {
		exp = *pc.EndDateTime
	}
	n, err := e.o.Store.Put(ctx, NameEntra, secrets.Version{
		Value: []byte(pc.SecretText), Expires: exp,
		Meta: map[string]string{"kind": KindClientSecret, "key_id": pc.KeyID, "hint": pc.Hint, "rotation": in.ID},
	})
	if err != nil {
		if rerr := e.graph.removePassword(ctx, pc.KeyID); rerr == nil {
			e.rollback(ctx, in, err)
		}
		return fmt.Errorf("storing the new secret: %w", err)
	}
	if err := in.Save(ctx, "added", map[string]string{"new_version": strconv.Itoa(n), "new_key_id": pc.KeyID, "hint": pc.Hint}); err != nil {
		return err
	}
	return e.verifyAndSwitch(ctx, in)
}

func (e *Entra) rotateCertificate(ctx context.Context, in *Intent, old map[string]string) error {
	now := e.o.Now().UTC()
	end := now.Add(e.o.Lifetime)
	value, cert, err := NewCertificateCredential("airgate", now, end)
	if err != nil {
		return err
	}
	keyID := newGUID()
	thumb := Thumbprint(cert)
	// The certificate is stored before Graph hears of it; Recover looks
	// for its keyId to tell whether the upload happened.
	n, err := e.o.Store.Put(ctx, NameEntra, secrets.Version{
		Value: value, Expires: cert.NotAfter,
		Meta: map[string]string{"kind": KindCertificate, "key_id": keyID, "thumbprint": thumb, "rotation": in.ID},
	})
	if err != nil {
		return fmt.Errorf("storing the new certificate: %w", err)
	}
	old["kind"] = KindCertificate
	old["new_version"] = strconv.Itoa(n)
	old["new_key_id"] = keyID
	old["hint"] = "x5t#S256:" + thumb[:16]
	if err := in.Save(ctx, "adding", old); err != nil {
		return err
	}
	if err := e.o.Fault.at("before-add"); err != nil {
		return err
	}
	app, err := e.graph.application(ctx)
	if err == nil {
		keep := make([]string, 0, len(app.KeyCredentials))
		for _, k := range app.KeyCredentials {
			keep = append(keep, k.KeyID)
		}
		err = e.graph.setKeys(ctx, keep, map[string]any{
			"keyId": keyID, "type": "AsymmetricX509Cert", "usage": "Verify",
			"key": base64.StdEncoding.EncodeToString(cert.Raw), "displayName": "CN=airgate " + now.Format(time.RFC3339),
			"startDateTime": cert.NotBefore.Format(time.RFC3339), "endDateTime": cert.NotAfter.Format(time.RFC3339),
		})
	}
	if err != nil {
		if _, refused := errors.AsType[*GraphError](err); refused {
			_ = e.o.Store.Retire(ctx, NameEntra, n)
			e.rollback(ctx, in, err)
		}
		return fmt.Errorf("graph keyCredentials: %w", err)
	}
	e.log.Info("rotation: added a certificate", "secret", NameEntra, "key_id", keyID, "thumbprint", thumb)
	if err := e.o.Fault.at("after-add"); err != nil {
		return err
	}
	if err := in.Save(ctx, "added", nil); err != nil {
		return err
	}
	return e.verifyAndSwitch(ctx, in)
}

// rollback closes an intent whose external change did not happen or was
// undone, recording why.
func (e *Entra) rollback(ctx context.Context, in *Intent, cause error) {
	if err := in.Save(ctx, in.Step(), map[string]string{"rolled_back": "true"}); err == nil {
		_ = in.Done(ctx)
	}
	e.log.Warn("rotation: rolled back", "secret", NameEntra, "rotation", in.ID, "err", cause.Error())
}

// verifyAndSwitch waits until Entra accepts the new credential, makes it
// the active version, and retires the old one now or after the overlap.
// If Entra never accepts it, the new credential is removed again.
func (e *Entra) verifyAndSwitch(ctx context.Context, in *Intent) error {
	n, _ := strconv.Atoi(in.Get("new_version"))
	nv, err := e.o.Store.Get(ctx, NameEntra, n)
	if err != nil {
		return err
	}
	if nv.State != secrets.StateActive {
		if err := e.waitAccepted(ctx, nv); err != nil {
			if ctx.Err() != nil {
				return err // interrupted: Recover resumes
			}
			if rerr := e.removeVersion(ctx, nv); rerr != nil {
				return fmt.Errorf("%w (and removing the new credential failed: %v)", err, rerr)
			}
			_ = e.o.Store.Retire(ctx, NameEntra, n)
			e.rollback(ctx, in, err)
			return err
		}
		if err := e.o.Fault.at("before-switch"); err != nil {
			return err
		}
		if err := e.o.Store.Activate(ctx, NameEntra, n); err != nil {
			return err
		}
	}
	retireAt := e.o.Now().Add(e.o.Overlap).UTC()
	if err := in.Save(ctx, "switched", map[string]string{"retire_after": retireAt.Format(time.RFC3339Nano)}); err != nil {
		return err
	}
	e.log.Info("rotation: switched", "secret", NameEntra, "version", n, "hint", in.Get("hint"), "old_retires_at", retireAt)
	return e.retireIfDue(ctx, in)
}

// waitAccepted polls a client-credentials request with v until it succeeds
// or PropagationTimeout passes.
func (e *Entra) waitAccepted(ctx context.Context, v *secrets.Version) error {
	ctx, cancel := context.WithTimeout(ctx, e.o.PropagationTimeout)
	defer cancel()
	wait := e.o.PollInterval
	for {
		auth, err := ClientAuth(v, e.o.ClientID, e.o.TokenURL, time.Now())
		if err != nil {
			return err
		}
		_, _, err = RequestToken(ctx, e.o.HTTPClient, e.o.TokenURL, GraphScope, auth)
		if err == nil {
			return nil
		}
		e.log.Info("rotation: new credential not accepted yet", "secret", NameEntra, "version", v.Version, "err", err.Error())
		select {
		case <-ctx.Done():
			return fmt.Errorf("entra did not accept the new credential within %s: %w", e.o.PropagationTimeout, err)
		case <-time.After(wait):
		}
		wait = min(wait*3/2, 10*time.Second)
	}
}

// removeVersion removes v's credential from the application.
func (e *Entra) removeVersion(ctx context.Context, v *secrets.Version) error {
	return e.removeCredential(ctx, kindOf(v), v.Meta["key_id"])
}

func (e *Entra) removeCredential(ctx context.Context, kind, keyID string) error {
	if keyID == "" {
		return nil
	}
	if kind != KindCertificate {
		return e.graph.removePassword(ctx, keyID)
	}
	app, err := e.graph.application(ctx)
	if err != nil {
		return err
	}
	var keep []string
	found := false
	for _, k := range app.KeyCredentials {
		if strings.EqualFold(k.KeyID, keyID) {
			found = true
			continue
		}
		keep = append(keep, k.KeyID)
	}
	if !found {
		return nil
	}
	return e.graph.setKeys(ctx, keep, nil)
}

// retireIfDue removes the old credential once the overlap has passed.
func (e *Entra) retireIfDue(ctx context.Context, in *Intent) error {
	at, err := time.Parse(time.RFC3339Nano, in.Get("retire_after"))
	if err != nil {
		return fmt.Errorf("intent %s: bad retire_after: %w", in.ID, err)
	}
	if e.o.Now().Before(at) {
		return nil
	}
	if err := e.o.Fault.at("before-retire"); err != nil {
		return err
	}
	oldKeyID := in.Get("old_key_id")
	if oldKeyID == "" {
		e.log.Warn("rotation: the old credential's keyId is unknown (seeded from the configuration with an ambiguous hint): remove it in Entra by hand", "secret", NameEntra)
	}
	if err := e.removeCredential(ctx, in.Get("old_kind"), oldKeyID); err != nil {
		return fmt.Errorf("removing the old credential: %w", err)
	}
	if oldV, _ := strconv.Atoi(in.Get("old_version")); oldV > 0 {
		if err := e.o.Store.Retire(ctx, NameEntra, oldV); err != nil && !errors.Is(err, secrets.ErrNotFound) {
			return err
		}
	}
	e.log.Info("rotation: retired the old credential", "secret", NameEntra, "key_id", oldKeyID)
	return in.Done(ctx)
}

// Recover implements Rotator.
func (e *Entra) Recover(ctx context.Context, in *Intent) error {
	switch in.Step() {
	case "begin":
		return in.Done(ctx) // nothing happened yet
	case "adding":
		return e.recoverAdding(ctx, in)
	case "added":
		return e.verifyAndSwitch(ctx, in)
	case "switched":
		return e.retireIfDue(ctx, in)
	}
	return fmt.Errorf("rotation: %s: unknown step %q in intent %s", NameEntra, in.Step(), in.ID)
}

// recoverAdding resolves a crash around the external change: roll forward
// when the new credential is both stored and registered, otherwise remove
// whatever reached Entra so that no orphan stays behind.
func (e *Entra) recoverAdding(ctx context.Context, in *Intent) error {
	app, err := e.graph.application(ctx)
	if err != nil {
		return err
	}
	if in.Get("kind") == KindCertificate {
		n, _ := strconv.Atoi(in.Get("new_version"))
		for _, k := range app.KeyCredentials {
			if strings.EqualFold(k.KeyID, in.Get("new_key_id")) {
				if err := in.Save(ctx, "added", nil); err != nil {
					return err
				}
				return e.verifyAndSwitch(ctx, in)
			}
		}
		if n > 0 {
			_ = e.o.Store.Retire(ctx, NameEntra, n)
		}
		e.rollback(ctx, in, errors.New("the certificate never reached Entra"))
		return nil
	}
	// A secret: was its text stored before the crash?
	if lat, err := e.o.Store.Get(ctx, NameEntra, secrets.Latest); err == nil && lat.State == secrets.StatePending && lat.Meta["rotation"] == in.ID {
		for _, pc := range app.PasswordCredentials {
			if strings.EqualFold(pc.KeyID, lat.Meta["key_id"]) {
				if err := in.Save(ctx, "added", map[string]string{"new_version": strconv.Itoa(lat.Version), "new_key_id": pc.KeyID, "hint": pc.Hint}); err != nil {
					return err
				}
				return e.verifyAndSwitch(ctx, in)
			}
		}
		_ = e.o.Store.Retire(ctx, NameEntra, lat.Version)
	}
	// Its text is lost: remove every secret this rotation added.
	removed := 0
	for _, pc := range app.PasswordCredentials {
		if pc.name() == in.Get("display_name") && in.Get("display_name") != "" {
			if err := e.graph.removePassword(ctx, pc.KeyID); err != nil {
				return fmt.Errorf("removing orphan secret %s: %w", pc.KeyID, err)
			}
			e.log.Info("rotation: removed an orphan client secret", "secret", NameEntra, "key_id", pc.KeyID, "hint", pc.Hint)
			removed++
		}
	}
	e.rollback(ctx, in, fmt.Errorf("interrupted before the new secret was stored (%d orphan removed)", removed))
	return nil
}
