package airflowsim

import (
	"strings"
	"testing"
	"time"
)

func TestUIPage(t *testing.T) {
	rsaK, _, _, _ := testKeys(t)
	tests := []struct {
		name    string
		path    string
		auths   []auth
		want    []string
		notWant []string
		ident   Identity
	}{
		{name: "anonymous", path: "/", want: []string{`id="anonymous"`}},
		{name: "airflow 2 user", path: "/home", auths: []auth{basic(testUser, testPassword)},
			want: []string{`<dd id="basic-user">` + testUser + `</dd>`}, ident: Identity{User: testUser}},
		{name: "wrong password shows no one", path: "/home", auths: []auth{basic(testUser, "x")}, want: []string{`id="anonymous"`}},
		{name: "gateway header escaped", path: "/home", auths: []auth{header("X-Airgate-User", `<script>alert("x")</script>`)},
			want:    []string{`<dd id="header-user">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</dd>`},
			notWant: []string{"<script>"}},
		{name: "airflow 3 cookie", path: "/", auths: []auth{cookie(sign(t, rsaK, rsaK.kid, claims("bob<b>", "viewer", testNow)))},
			want: []string{`<dd id="jwt-sub">bob&lt;b&gt;</dd>`, `<dd id="jwt-role">viewer</dd>`}, notWant: []string{"<b>"},
			ident: Identity{Subject: "bob<b>", Role: "viewer"}},
		{name: "airflow 3 bearer", path: "/", auths: []auth{bearer(sign(t, rsaK, rsaK.kid, claims("carol", "op", testNow)))},
			want: []string{`<dd id="jwt-sub">carol</dd>`}, ident: Identity{Subject: "carol", Role: "op"}},
		{name: "expired token", path: "/", auths: []auth{cookie(sign(t, rsaK, rsaK.kid, claims("dave", "op", testNow.Add(-2*time.Hour))))},
			want: []string{`<dd id="token-error">Token Expired</dd>`, `id="anonymous"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			_, resp, body := f.do("GET", tc.path, "", tc.auths...)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			page := string(body)
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q:\n%s", w, page)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(page, w) {
					t.Errorf("page contains %q:\n%s", w, page)
				}
			}
			if got := f.srv.Requests()[0].Identity; got != tc.ident {
				t.Errorf("Identity = %+v, want %+v", got, tc.ident)
			}
		})
	}
	f := newFixture(t, nil)
	if _, resp, _ := f.do("POST", "/", "{}"); resp.StatusCode != 405 {
		t.Errorf("POST / = %d, want 405", resp.StatusCode)
	}
}
