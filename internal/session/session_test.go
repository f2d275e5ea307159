package session

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	c := newClock()
	m := newManager(t, newFakeKeys(t), c, false)
	s := testSession(c, 3)
	w := httptest.NewRecorder()
	if err := m.Save(w, nil, s); err != nil {
		t.Fatal(err)
	}
	got, err := m.Load(roundTrip(w, nil))
	if err != nil {
		t.Fatalf("Load() = %v", err)
	}
	want := *s.Principal
	want.TokenFingerprint = s.Fingerprint()
	gp := *got.Principal
	if !gp.IssuedAt.Equal(want.IssuedAt) || !gp.Expiry.Equal(want.Expiry) {
		t.Errorf("principal times = %v/%v, want %v/%v", gp.IssuedAt, gp.Expiry, want.IssuedAt, want.Expiry)
	}
	gp.IssuedAt, gp.Expiry, want.IssuedAt, want.Expiry = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(gp, want) {
		t.Errorf("principal = %+v\nwant %+v", gp, want)
	}
	if got.ID != s.ID || got.RefreshToken != s.RefreshToken || !got.IssuedAt.Equal(s.IssuedAt) || !got.Expiry.Equal(s.Expiry) {
		t.Errorf("Load() = %+v, want %+v", got, s)
	}
	if !strings.HasPrefix(got.Principal.TokenFingerprint, "session:") || strings.Contains(got.Principal.TokenFingerprint, s.ID) {
		t.Errorf("fingerprint %q must name the session without revealing its id", got.Principal.TokenFingerprint)
	}
	// The cookie reveals nothing of the contents.
	for _, ck := range w.Result().Cookies() {
		for _, secret := range []string{"alice", "refresh", s.ID, "Airflow.Operator"} {
			if strings.Contains(ck.Value, secret) {
				t.Errorf("cookie %s reveals %q", ck.Name, secret)
			}
		}
	}
}

func TestCookieAttributes(t *testing.T) {
	for _, secure := range []bool{false, true} {
		c := newClock()
		m := newManager(t, newFakeKeys(t), c, secure)
		w := httptest.NewRecorder()
		if err := m.Save(w, nil, testSession(c, 0)); err != nil {
			t.Fatal(err)
		}
		if err := m.StartLogin(w, &Login{State: "st", Nonce: "n", Verifier: "v", RedirectURI: "https://gw/oauth2/callback", ReturnTo: "/"}); err != nil {
			t.Fatal(err)
		}
		cookies := w.Result().Cookies()
		if len(cookies) != 2 {
			t.Fatalf("secure=%v: %d cookies, want a session and a login cookie", secure, len(cookies))
		}
		for _, ck := range cookies {
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" || ck.Secure != secure {
				t.Errorf("secure=%v: cookie %+v lacks HttpOnly, SameSite=Lax, Path=/, no Domain or Secure", secure, ck)
			}
			if strings.HasPrefix(ck.Name, "__Host-") != secure {
				t.Errorf("secure=%v: cookie name %q (the __Host- prefix goes with Secure)", secure, ck.Name)
			}
			if !m.Owns(ck.Name) {
				t.Errorf("Owns(%q) = false", ck.Name)
			}
		}
		if m.Owns("_token") || m.Owns("session") {
			t.Error("Owns claims Airflow's cookies")
		}
	}
}

func TestLoadRejects(t *testing.T) {
	c := newClock()
	keys := newFakeKeys(t)
	m := newManager(t, keys, c, false)
	w := httptest.NewRecorder()
	if err := m.Save(w, nil, testSession(c, 0)); err != nil {
		t.Fatal(err)
	}
	good := w.Result().Cookies()[0].Value
	other := newManager(t, newFakeKeys(t), c, false) // another keyring
	ow := httptest.NewRecorder()
	_ = other.Save(ow, nil, testSession(c, 0))
	foreign := ow.Result().Cookies()[0].Value
	// A sign-in state sealed with the same key must not open as a session.
	lw := httptest.NewRecorder()
	_ = m.StartLogin(lw, &Login{State: "s", Nonce: "n", Verifier: "v", RedirectURI: "https://gw/cb"})
	login := "1~" + lw.Result().Cookies()[0].Value

	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	kid := strings.Split(good, ".")[1]
	cases := []struct {
		name  string
		value string // "" sends no cookie
		want  error
	}{
		{"no cookie", "", ErrNoSession},
		{"control", good, nil},
		{"tampered ciphertext", flip(good, len(good)-10), ErrInvalid},
		{"tampered nonce", flip(good, len("1~v1.")+len(kid)+3), ErrInvalid},
		{"truncated", good[:len(good)-20], ErrInvalid},
		{"unknown key id", strings.Replace(good, kid, "session-9-deadbeef", 1), ErrInvalid},
		{"other version", strings.Replace(good, "~v1.", "~v2.", 1), ErrInvalid},
		{"another keyring's cookie", foreign, ErrInvalid},
		{"sign-in state as session", login, ErrInvalid},
		{"bad chunk count", strings.Replace(good, "1~", "9~", 1), ErrInvalid},
		{"missing chunk", strings.Replace(good, "1~", "2~", 1), ErrInvalid},
		{"no count", strings.TrimPrefix(good, "1~"), ErrInvalid},
		{"garbage", "1~v1.x.!!!", ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.value != "" {
				r.AddCookie(&http.Cookie{Name: m.SessionCookie(), Value: tc.value})
			}
			_, err := m.Load(r)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Load() = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	c := newClock()
	m := newManager(t, newFakeKeys(t), c, false)
	s := testSession(c, 0)
	w := httptest.NewRecorder()
	if err := m.Save(w, nil, s); err != nil {
		t.Fatal(err)
	}
	r := roundTrip(w, nil)
	c.advance(8*time.Hour - time.Second)
	if _, err := m.Load(r); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	c.advance(time.Second)
	if _, err := m.Load(r); !errors.Is(err, ErrExpired) {
		t.Errorf("at expiry: Load() = %v, want ErrExpired", err)
	}
}

func TestKeyRotation(t *testing.T) {
	c := newClock()
	keys := newFakeKeys(t)
	m := newManager(t, keys, c, true)
	first, _, _ := keys.SealingKey()
	w := httptest.NewRecorder()
	if err := m.Save(w, nil, testSession(c, 0)); err != nil {
		t.Fatal(err)
	}
	old := roundTrip(w, nil)

	second := keys.rotate(t)
	if _, err := m.Load(old); err != nil {
		t.Fatalf("a session sealed with the previous, still published key: %v", err)
	}
	w2 := httptest.NewRecorder()
	if err := m.Save(w2, old, testSession(c, 0)); err != nil {
		t.Fatal(err)
	}
	if v := w2.Result().Cookies()[0].Value; !strings.Contains(v, "."+second+".") {
		t.Errorf("new sessions are sealed with %q, want the current key %s", v[:30], second)
	}
	fresh := roundTrip(w2, nil)
	keys.unpublish(first)
	if _, err := m.Load(old); !errors.Is(err, ErrInvalid) {
		t.Errorf("session sealed with an unpublished key: Load() = %v, want ErrInvalid", err)
	}
	if _, err := m.Load(fresh); err != nil {
		t.Errorf("session sealed with the current key: %v", err)
	}
}

func TestChunking(t *testing.T) {
	c := newClock()
	m := newManager(t, newFakeKeys(t), c, true)
	big := testSession(c, 100)
	big.RefreshToken = "0.AVEA" + randomText(4000) // incompressible, like Entra's
	w := httptest.NewRecorder()
	if err := m.Save(w, nil, big); err != nil {
		t.Fatal(err)
	}
	cookies := w.Result().Cookies()
	if len(cookies) < 2 {
		t.Fatalf("a large session fits in %d cookie(s); want it split", len(cookies))
	}
	for i, ck := range cookies {
		if want := "__Host-airgate_session_" + string(rune('0'+i)); ck.Name != want {
			t.Errorf("chunk %d is named %q, want %q", i, ck.Name, want)
		}
		if len(ck.String()) > 4000 {
			t.Errorf("cookie %s is %d bytes; browsers keep 4096 at most", ck.Name, len(ck.String()))
		}
	}
	r := roundTrip(w, nil)
	got, err := m.Load(r)
	if err != nil {
		t.Fatalf("Load(chunked) = %v", err)
	}
	if got.RefreshToken != big.RefreshToken || len(got.Principal.Groups) != 100 {
		t.Errorf("chunked session lost data: %d groups, refresh token %d bytes", len(got.Principal.Groups), len(got.RefreshToken))
	}

	// A later, smaller session deletes the stale chunks.
	w2 := httptest.NewRecorder()
	if err := m.Save(w2, r, testSession(c, 0)); err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for _, ck := range w2.Result().Cookies() {
		if ck.MaxAge < 0 {
			deleted++
		}
	}
	if deleted != len(cookies)-1 {
		t.Errorf("%d stale chunks deleted, want %d", deleted, len(cookies)-1)
	}
	if _, err := m.Load(roundTrip(w2, r)); err != nil {
		t.Errorf("Load(after shrinking) = %v", err)
	}

	// A chunk missing or from another session fails closed.
	noSecond := httptest.NewRequest("GET", "/", nil)
	for _, ck := range cookies {
		if !strings.HasSuffix(ck.Name, "_1") {
			noSecond.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
		}
	}
	if _, err := m.Load(noSecond); !errors.Is(err, ErrInvalid) {
		t.Errorf("Load(missing chunk) = %v, want ErrInvalid", err)
	}

	// Past the budget: refused rather than truncated.
	huge := testSession(c, 0)
	huge.RefreshToken = randomText(20000)
	if err := m.Save(httptest.NewRecorder(), nil, huge); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Save(20 KB) = %v, want ErrTooLarge", err)
	}
}

// randomText returns n characters that do not compress.
func randomText(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := []byte(NewID() + NewID())
	out := make([]byte, n)
	x := uint32(2166136261)
	for i := range out {
		x ^= uint32(b[i%len(b)])
		x *= 16777619
		x ^= x >> 13
		out[i] = alphabet[x%64]
	}
	return string(out)
}

func TestGroupsOverage(t *testing.T) {
	c := newClock()
	m, err := New(Options{Keys: newFakeKeys(t), MaxGroups: 10, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := m.Save(w, nil, testSession(c, 11)); err != nil {
		t.Fatal(err)
	}
	got, err := m.Load(roundTrip(w, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Principal.Groups) != 0 || !got.Principal.GroupsOverage {
		t.Errorf("11 groups over a limit of 10: groups %d, overage %v; want none kept and overage set", len(got.Principal.Groups), got.Principal.GroupsOverage)
	}
}

func TestLogin(t *testing.T) {
	c := newClock()
	m := newManager(t, newFakeKeys(t), c, true)
	start := func(state string) *http.Request {
		w := httptest.NewRecorder()
		if err := m.StartLogin(w, &Login{State: state, Nonce: "nonce-" + state, Verifier: "verifier", RedirectURI: "https://gw/oauth2/callback", ReturnTo: "/home"}); err != nil {
			t.Fatal(err)
		}
		return roundTrip(w, nil)
	}
	t.Run("round trip, one use", func(t *testing.T) {
		r := start("state-1")
		w := httptest.NewRecorder()
		l, err := m.FinishLogin(w, r, "state-1")
		if err != nil || l.Nonce != "nonce-state-1" || l.ReturnTo != "/home" {
			t.Fatalf("FinishLogin = %+v, %v", l, err)
		}
		if ck := w.Result().Cookies(); len(ck) != 1 || ck[0].MaxAge >= 0 {
			t.Errorf("the sign-in cookie is not deleted: %v", ck)
		}
		if _, err := m.FinishLogin(httptest.NewRecorder(), roundTrip(w, r), "state-1"); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("second use: %v, want ErrStateMismatch", err)
		}
	})
	t.Run("two tabs", func(t *testing.T) {
		a, b := start("tab-a"), start("tab-b")
		both := httptest.NewRequest("GET", "/", nil)
		for _, ck := range append(a.Cookies(), b.Cookies()...) {
			both.AddCookie(ck)
		}
		for _, st := range []string{"tab-a", "tab-b"} {
			if _, err := m.FinishLogin(httptest.NewRecorder(), both, st); err != nil {
				t.Errorf("FinishLogin(%s) = %v", st, err)
			}
		}
	})
	t.Run("forged state", func(t *testing.T) {
		r := start("real")
		for _, st := range []string{"", "forged", "real ", strings.Repeat("x", 600)} {
			if _, err := m.FinishLogin(httptest.NewRecorder(), r, st); !errors.Is(err, ErrStateMismatch) {
				t.Errorf("FinishLogin(%q) = %v, want ErrStateMismatch", st, err)
			}
		}
	})
	t.Run("cookie moved to another state's name", func(t *testing.T) {
		r := start("victim")
		moved := httptest.NewRequest("GET", "/", nil)
		moved.AddCookie(&http.Cookie{Name: m.loginCookie("attacker"), Value: r.Cookies()[0].Value})
		if _, err := m.FinishLogin(httptest.NewRecorder(), moved, "attacker"); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("FinishLogin = %v, want ErrStateMismatch", err)
		}
	})
	t.Run("no cookie (blocked, or another browser)", func(t *testing.T) {
		if _, err := m.FinishLogin(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), "state"); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("FinishLogin = %v, want ErrStateMismatch", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		r := start("slow")
		c.advance(10*time.Minute + time.Second)
		if _, err := m.FinishLogin(httptest.NewRecorder(), r, "slow"); !errors.Is(err, ErrExpired) {
			t.Errorf("FinishLogin = %v, want ErrExpired", err)
		}
	})
	t.Run("incomplete", func(t *testing.T) {
		if err := m.StartLogin(httptest.NewRecorder(), &Login{State: "s"}); err == nil {
			t.Error("StartLogin without nonce and verifier succeeded")
		}
	})
}
