package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/airgate/airgate/internal/authz"
	"github.com/airgate/airgate/internal/catalog"
	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/identity"
)

func TestWantsHTML(t *testing.T) {
	for _, tc := range []struct {
		method, accept string
		want           bool
	}{
		{"GET", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true},
		{"GET", "application/xhtml+xml", true},
		{"HEAD", "text/html", true},
		{"GET", "application/json", false},
		{"GET", "*/*", false},
		{"GET", "", false},
		{"POST", "text/html", false},
		{"GET", "text/htmlx", false},
	} {
		r := httptest.NewRequest(tc.method, "/", nil)
		if tc.accept != "" {
			r.Header.Set("Accept", tc.accept)
		}
		if got := wantsHTML(r); got != tc.want {
			t.Errorf("wantsHTML(%s, %q) = %v, want %v", tc.method, tc.accept, got, tc.want)
		}
	}
}

func TestMissingText(t *testing.T) {
	for _, tc := range []struct {
		m    catalog.Requirement
		want string
	}{
		{catalog.Requirement{Resource: "Connections", Action: "can_read"}, "can_read on Connections"},
		{catalog.Requirement{Resource: "DAG", Action: "GET", DAGID: "team_b_daily"}, "GET on DAG for DAG team_b_daily"},
		{catalog.Requirement{Resource: "DAG.RUN", Action: "POST"}, "POST on DAG.RUN for every DAG"},
		{catalog.Requirement{Resource: "DAGs", Action: "can_read", AnyDAG: true}, "can_read on DAGs for at least one DAG"},
	} {
		if got := missingText(tc.m); got != tc.want {
			t.Errorf("missingText(%+v) = %q, want %q", tc.m, got, tc.want)
		}
	}
}

// TestDeniedPageEscapes renders the page with hostile values where a
// principal, a contact setting and a path could carry markup.
func TestDeniedPageEscapes(t *testing.T) {
	cfg := config.Default()
	cfg.Session.Contact = `<img src=x onerror=alert(1)> ops`
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	st := &reqState{
		id:        "req<1>",
		rt:        &runtime{cfg: cfg},
		principal: &identity.Principal{Kind: identity.User, UPN: `<script>alert("upn")</script>@x`},
		class:     catalog.Classification{},
		decision: authz.Decision{
			Reasons: []authz.Reason{"mfa-required", `custom-<b>reason</b>`},
			Roles:   []string{`admin-<i>x</i>`},
			Missing: &catalog.Requirement{Resource: `Conn<ections>`, Action: "can_read"},
		},
	}
	r := httptest.NewRequest("GET", "/x", nil)
	r.RequestURI = `/<svg/onload=alert(2)>`
	w := httptest.NewRecorder()
	s.deniedPage(w, r, st, http.StatusForbidden)
	body := w.Body.String()
	if w.Code != 403 {
		t.Errorf("status %d", w.Code)
	}
	for _, raw := range []string{"<script>", "<img", "<svg", "<b>reason", "<i>x", "<ections>", "<1>"} {
		if strings.Contains(body, raw) {
			t.Errorf("the page carries %q unescaped:\n%s", raw, body)
		}
	}
	for _, want := range []string{"&lt;script&gt;", "multi-factor authentication", "The policy denies it (custom-&lt;b&gt;reason&lt;/b&gt;).", "ops", "req&lt;1&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page does not say %q:\n%s", want, body)
		}
	}
	h := w.Header()
	for k, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	} {
		if h.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, h.Get(k), want)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("Content-Security-Policy = %q, want no scripts at all", csp)
	}
}
