package server

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/idp"
	"github.com/airgate/airgate/internal/secrets"
	"github.com/airgate/airgate/internal/secrets/rotation"
)

// newRotationStack is newStack with emulator options and a rotation store.
func newRotationStack(t *testing.T, version int, idpOpts idp.Options, edit func(*config.Config)) *stack {
	t.Helper()
	return newStackWith(t, version, stackOptions{idp: idpOpts, edit: func(cfg *config.Config) {
		cfg.Rotation.Store = "file"
		cfg.Rotation.Reread = config.Duration(100 * time.Millisecond)
		cfg.Rotation.Entra.Overlap = config.Duration(time.Second)
		cfg.Rotation.Entra.PropagationTimeout = config.Duration(10 * time.Second)
		if edit != nil {
			edit(cfg)
		}
	}})
}

// traffic sends requests through the gateway until stop is closed and
// counts those that did not answer 200.
type traffic struct {
	sent, failed atomic.Int64
	mu           sync.Mutex
	firstFailure string
	done         chan struct{}
}

func runTraffic(s *stack, path string, token func() string, stop <-chan struct{}) *traffic {
	tr := &traffic{done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			req, _ := http.NewRequest("GET", s.gwURL+path, nil)
			req.Header.Set("Authorization", "Bearer "+token())
			resp, err := http.DefaultClient.Do(req)
			tr.sent.Add(1)
			if err != nil {
				tr.fail(err.Error())
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				tr.fail(fmt.Sprintf("%d %s", resp.StatusCode, b))
			}
		}
	}()
	return tr
}

func (tr *traffic) fail(msg string) {
	tr.failed.Add(1)
	tr.mu.Lock()
	if tr.firstFailure == "" {
		tr.firstFailure = msg
	}
	tr.mu.Unlock()
}

// waitFor polls cond every 20ms for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func clientSecretWorks(s *stack, secret string) error {
	auth, err := rotation.ClientAuth(&secrets.Version{Value: []byte(secret)}, s.info.Apps["airgate"].ClientID, s.info.TokenEndpoint, time.Now())
	if err != nil {
		return err
	}
	_, _, err = rotation.RequestToken(context.Background(), s.idp.HTTPClient(), s.info.TokenEndpoint, rotation.GraphScope, auth)
	return err
}

// The gateway's own scheduler rotates a client secret near its expiry
// while Graph-needing requests flow; none fails, and afterwards the old
// secret is gone and the gateway keeps getting Graph tokens with the new.
func TestRotationEntraSecretUnderTraffic(t *testing.T) {
	// Graph tokens live one second, so the gateway fetches them with its
	// credential throughout; memberships are looked up per request.
	s := newRotationStack(t, 3, idp.Options{TokenLifetime: time.Second}, func(c *config.Config) {
		c.Entra.MembershipTTL = config.Duration(time.Millisecond)
		c.Entra.ClockSkew = config.Duration(10 * time.Minute)
		c.Rotation.Enabled = true
		c.Rotation.Interval = config.Duration(time.Second)
		// The demo secret expires in two years: inside renew_before.
		c.Rotation.Entra.Lifetime = config.Duration(3 * 365 * 24 * time.Hour)
		c.Rotation.Entra.RenewBefore = config.Duration(2*365*24*time.Hour + 30*24*time.Hour)
	})
	initial := s.info.Apps["airgate"].ClientSecret
	alice := s.userToken("alice", false)
	stop := make(chan struct{})
	tr := runTraffic(s, "/api/v2/dags", func() string { return alice }, stop)
	store := s.gw.rot.rot.Store
	waitFor(t, 20*time.Second, "the rotation to retire the old secret", func() bool {
		st, err := s.gw.RotationManager().Status(context.Background())
		return err == nil && len(st) > 0 && st[0].Name == rotation.NameEntra && st[0].LastResult == "retired"
	})
	// Keep going on the new secret alone for a few token lifetimes.
	time.Sleep(2500 * time.Millisecond)
	close(stop)
	<-tr.done
	if tr.failed.Load() != 0 || tr.sent.Load() < 20 {
		t.Fatalf("%d of %d requests failed during the rotation; first: %s", tr.failed.Load(), tr.sent.Load(), tr.firstFailure)
	}
	cur, err := store.Get(context.Background(), rotation.NameEntra, secrets.Current)
	if err != nil || cur.Version != 2 {
		t.Fatalf("current = %+v, %v", cur, err)
	}
	if err := clientSecretWorks(s, initial); err == nil {
		t.Fatal("the old secret still works after the overlap")
	}
	// Browser sign-in redeems codes with the new secret too.
	if sr := s.gw.rt.Load().sso; sr == nil || sr.clientSecret() != string(cur.Value) {
		t.Fatal("browser sign-in does not use the rotated client secret")
	}
	if auth, err := s.gw.EntraClientAuth(); err != nil || auth.Get("client_secret") != string(cur.Value) {
		t.Fatalf("EntraClientAuth = %v", err)
	}
	if err := clientSecretWorks(s, string(cur.Value)); err != nil {
		t.Fatalf("the new secret is refused: %v", err)
	}
	// The rotation is in the audit chain, with hints and no secret.
	recs := rotationRecords(t, s)
	results := []string{}
	for _, r := range recs {
		if r.Detail["secret"] == rotation.NameEntra {
			results = append(results, r.Detail["result"])
		}
		b, _ := json.Marshal(r)
		if strings.Contains(string(b), initial) || strings.Contains(string(b), string(cur.Value)) {
			t.Fatalf("audit record carries a secret: %s", b)
		}
	}
	if strings.Join(results, ",") != "started,switched,retired" {
		t.Fatalf("audited results %v", results)
	}
	if m := s.do("GET", "/-/metrics", "", "", nil); !strings.Contains(string(m.body), `airgate_rotation_failures_total{secret="entra-client-secret"} 0`) {
		t.Fatalf("metrics lack the rotation series:\n%s", grep(string(m.body), "airgate_rotation"))
	}
}

func grep(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func rotationRecords(t *testing.T, s *stack) []audit.Record {
	t.Helper()
	lg, err := audit.Open(context.Background(), s.cfg.Audit.DB, audit.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	var out []audit.Record
	err = lg.Query(context.Background(), audit.Filter{Kind: audit.KindSecretRotation}, func(e audit.Entry) error {
		out = append(out, e.Record)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The Airflow 2 password rotates while requests flow through the gateway:
// none fails, and the old password is refused by Airflow afterwards.
func TestRotationAirflowPasswordUnderTraffic(t *testing.T) {
	s := newRotationStack(t, 2, idp.Options{}, nil)
	alice := s.userToken("alice", false)
	stop := make(chan struct{})
	tr := runTraffic(s, "/api/v1/dags", func() string { return alice }, stop)
	time.Sleep(200 * time.Millisecond)
	for i := range 3 {
		res := s.gw.RotationManager().Rotate(context.Background(), rotation.NameAirflow, rotation.RotateOptions{Force: true, Wait: true})
		if res.Outcome != "rotated" || res.Version != i+2 {
			t.Fatalf("rotation %d = %+v (%v)", i, res, res.Err)
		}
		time.Sleep(150 * time.Millisecond)
	}
	close(stop)
	<-tr.done
	if tr.failed.Load() != 0 || tr.sent.Load() < 10 {
		t.Fatalf("%d of %d requests failed during the rotations; first: %s", tr.failed.Load(), tr.sent.Load(), tr.firstFailure)
	}
	req, _ := http.NewRequest("GET", s.cfg.Upstream.URL+"/api/v1/dags", nil)
	req.SetBasicAuth(svcUser, svcPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("old password answered %d, want 401", resp.StatusCode)
	}
	// A second gateway started later reads the rotated password.
	if r := s.do("GET", "/api/v1/dags", alice, "", nil); r.status != 200 {
		t.Fatalf("after the rotations: %d %s", r.status, r.body)
	}
}

// Signing-key rollover: a new key is published before it signs, and
// Airflow 3 JWTs minted before the rotation keep verifying against the
// published JWKS until they expire.
func TestRotationSigningKeyKeepsOutstandingTokens(t *testing.T) {
	s := newRotationStack(t, 3, idp.Options{}, func(c *config.Config) {
		c.Rotation.SigningKey.Lead = config.Duration(300 * time.Millisecond)
	})
	rt := s.gw.rt.Load()
	before, err := rt.minter.Mint("alice@airgate.example", "viewer")
	if err != nil {
		t.Fatal(err)
	}
	oldKid := kidOf(t, before)
	res := s.gw.RotationManager().Rotate(context.Background(), rotation.NameSigning, rotation.RotateOptions{Force: true})
	if res.Outcome != "rotated" {
		t.Fatalf("Rotate = %+v (%v)", res, res.Err)
	}
	// Published at once, old key still signing during the lead.
	set := s.jwksKeys(t)
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS has %d keys right after the rotation, want old and new", len(set.Keys))
	}
	during, _ := rt.minter.Mint("alice@airgate.example", "viewer")
	if kidOf(t, during) != oldKid {
		t.Fatal("the new key signs before its lead passed")
	}
	time.Sleep(400 * time.Millisecond)
	after, _ := rt.minter.Mint("alice@airgate.example", "viewer")
	if kidOf(t, after) == oldKid {
		t.Fatal("the new key does not sign after the lead")
	}
	// Every token verifies against what the gateway publishes now.
	set = s.jwksKeys(t)
	for name, tok := range map[string]string{"before": before, "during": during, "after": after} {
		if err := verifyWith(set, tok); err != nil {
			t.Errorf("%s-rotation token does not verify against the published JWKS: %v", name, err)
		}
	}
	// And Airflow itself accepts requests signed either way.
	alice := s.userToken("alice", false)
	if r := s.do("GET", "/api/v2/dags", alice, "", nil); r.status != 200 {
		t.Fatalf("request after the rollover: %d %s", r.status, r.body)
	}
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	p, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	return p.Headers[0].KeyID
}

func (s *stack) jwksKeys(t *testing.T) jose.JSONWebKeySet {
	t.Helper()
	r := s.do("GET", "/.well-known/jwks.json", "", "", nil)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.body, &set); err != nil {
		t.Fatal(err)
	}
	return set
}

func verifyWith(set jose.JSONWebKeySet, tok string) error {
	p, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return err
	}
	keys := set.Key(p.Headers[0].KeyID)
	if len(keys) == 0 {
		return errors.New("kid not published")
	}
	if _, ok := keys[0].Key.(*ecdsa.PublicKey); !ok {
		return errors.New("not an EC key")
	}
	var c josejwt.Claims
	return p.Claims(keys[0].Key, &c)
}
