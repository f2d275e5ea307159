package rotation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/airgate/airgate/internal/secrets"
)

// SigningOptions configure the signing-key rotator.
type SigningOptions struct {
	// Keyring is airgate's keyring. Required.
	Keyring *secrets.Keyring
	// Uses are the key series to rotate; default token, audit, session.
	Uses []secrets.Use
	// Lead is how long a new key is published before it signs. Airflow
	// refetches its trusted JWKS hourly, so the default is 1h.
	Lead time.Duration
	// TTL is, per use, the longest lifetime of anything a key signs or
	// seals: an old key stays published that long after it stops
	// signing. Defaults: token 1h, session 24h, audit 100 years (audit
	// checkpoints are verified for as long as the log is kept).
	TTL map[secrets.Use]time.Duration
	// MaxAge rotates keys this old. Default 30 days.
	MaxAge time.Duration
	// Logger receives progress lines (key ids only).
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Signing rotates the keyring's keys: each new key is published at once
// and signs only after Lead; each old key stops signing then and stays
// published until every token it signed has expired, after which Tidy
// prunes it.
type Signing struct {
	o   SigningOptions
	log *slog.Logger
}

var _ Rotator = (*Signing)(nil)

// NewSigning returns the rotator for NameSigning.
func NewSigning(o SigningOptions) (*Signing, error) {
	if o.Keyring == nil {
		return nil, errors.New("rotation: signing: a keyring is required")
	}
	if len(o.Uses) == 0 {
		o.Uses = []secrets.Use{secrets.UseToken, secrets.UseAudit, secrets.UseSession}
	}
	if o.Lead <= 0 {
		o.Lead = time.Hour
	}
	ttl := map[secrets.Use]time.Duration{secrets.UseToken: time.Hour, secrets.UseAudit: 100 * 365 * 24 * time.Hour, secrets.UseSession: 24 * time.Hour}
	for k, v := range o.TTL {
		ttl[k] = v
	}
	o.TTL = ttl
	if o.MaxAge <= 0 {
		o.MaxAge = 30 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Signing{o: o, log: o.Logger}, nil
}

// Name implements Rotator.
func (s *Signing) Name() string { return NameSigning }

// Status implements Rotator: the newest token key (the first use).
func (s *Signing) Status(ctx context.Context) (Status, error) {
	st := Status{Name: NameSigning, Kind: "keyring"}
	if err := s.o.Keyring.Reload(); err != nil {
		return st, err
	}
	pub := s.o.Keyring.Published(s.o.Uses[0])
	if len(pub) == 0 {
		return st, fmt.Errorf("rotation: no %s key", s.o.Uses[0])
	}
	k := pub[0]
	st.Version, st.Created, st.Hint = k.Version, k.Created, k.ID
	st.nextRotation(s.o.MaxAge, 0)
	return st, nil
}

// Due implements Rotator.
func (s *Signing) Due(st Status, now time.Time) bool { return dueByTime(st, now) }

// Rotate implements Rotator. The intent records each use's version before
// rotating it, so Recover rotates only the uses a crash skipped.
func (s *Signing) Rotate(ctx context.Context, plan Plan) error {
	in := plan.Intent
	if err := s.o.Keyring.Reload(); err != nil {
		return err
	}
	before := map[string]string{}
	for _, use := range s.o.Uses {
		v := 0
		if pub := s.o.Keyring.Published(use); len(pub) > 0 {
			v = pub[0].Version
		}
		before["old_"+string(use)] = strconv.Itoa(v)
	}
	if err := in.Save(ctx, "rotating", before); err != nil {
		return err
	}
	return s.finish(ctx, in)
}

func (s *Signing) finish(ctx context.Context, in *Intent) error {
	if err := s.o.Keyring.Reload(); err != nil {
		return err
	}
	for _, use := range s.o.Uses {
		old, _ := strconv.Atoi(in.Get("old_" + string(use)))
		if pub := s.o.Keyring.Published(use); len(pub) > 0 && pub[0].Version > old {
			continue // rotated before a crash
		}
		k, err := s.o.Keyring.Rotate(use, s.o.Lead, s.o.TTL[use])
		if err != nil {
			return err
		}
		s.log.Info("rotation: new signing key published", "secret", NameSigning, "use", string(use), "kid", k.ID, "signs_from", k.ActiveAt)
	}
	return in.Done(ctx)
}

// Recover implements Rotator.
func (s *Signing) Recover(ctx context.Context, in *Intent) error {
	switch in.Step() {
	case "begin":
		return in.Done(ctx)
	case "rotating":
		return s.finish(ctx, in)
	}
	return fmt.Errorf("rotation: %s: unknown step %q in intent %s", NameSigning, in.Step(), in.ID)
}

// Tidy implements Tidier: it forgets keys whose tokens have all expired.
func (s *Signing) Tidy(ctx context.Context) error {
	if err := s.o.Keyring.Reload(); err != nil {
		return err
	}
	return s.o.Keyring.Prune()
}
