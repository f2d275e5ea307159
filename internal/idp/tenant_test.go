package idp

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseTenantErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error
	}{
		{"unknown field", "id: 11111111-2222-4333-8444-555555555555\nusers:\n  - name: a\n    pasword: x\n", []string{"pasword"}},
		{"empty", "", []string{"empty document"}},
		{"bad id", "id: tenant-one\n", []string{"id: tenant-one: must be a GUID"}},
		{"duplicate names", "id: 11111111-2222-4333-8444-555555555555\nusers: [{name: a}]\ngroups: [{name: a}]\n", []string{"groups[0].name: a: is already used"}},
		{"unknown member", "id: 11111111-2222-4333-8444-555555555555\ngroups: [{name: g, members: [ghost]}]\n", []string{"groups[0].members[0]: ghost: names no user"}},
		{"bad token version", "id: 11111111-2222-4333-8444-555555555555\napplications: [{name: a, requestedAccessTokenVersion: 3}]\n", []string{"requestedAccessTokenVersion: 3"}},
		{"bad group claims", "id: 11111111-2222-4333-8444-555555555555\napplications: [{name: a, groupMembershipClaims: Everything}]\n", []string{"groupMembershipClaims: Everything"}},
		{"unknown role", "id: 11111111-2222-4333-8444-555555555555\nusers: [{name: u}]\napplications: [{name: a}]\nappRoleAssignments: [{principal: u, resource: a, role: Admin}]\n", []string{"appRoleAssignments[0].role: Admin"}},
		{"role member type", "id: 11111111-2222-4333-8444-555555555555\napplications: [{name: a, appRoles: [{value: R, allowedMemberTypes: [User]}]}, {name: b}]\nappRoleAssignments: [{principal: b, resource: a, role: R}]\n", []string{"does not allow member type Application"}},
		{"http redirect", "id: 11111111-2222-4333-8444-555555555555\napplications: [{name: a, redirectUris: [\"http://example.com/cb\"]}]\n", []string{"loopback"}},
		{"several problems at once", "id: x\nusers: [{name: u, id: y}]\n", []string{"id: x", "users[0].id: y"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ten, err := ParseTenant(strings.NewReader(tc.yaml))
			if err == nil {
				_, err = New(Options{Tenant: ten})
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	var te *TenantError
	ten, _ := ParseTenant(strings.NewReader("id: x\n"))
	if _, err := New(Options{Tenant: ten}); !errors.As(err, &te) || len(te.Problems) != 1 {
		t.Errorf("New() = %v, want a *TenantError with one problem", err)
	}
}

func TestLoadTenantCertificateFile(t *testing.T) {
	dir := t.TempDir()
	_, _, certPEM := newTestCert(t, "file")
	if err := os.WriteFile(filepath.Join(dir, "daemon.pem"), []byte(certPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tenant.yaml")
	doc := "id: 11111111-2222-4333-8444-555555555555\napplications:\n  - name: daemon\n    certificates: [{file: daemon.pem}]\n"
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	ten, err := LoadTenant(path)
	if err != nil {
		t.Fatalf("LoadTenant() = %v", err)
	}
	d, err := compileTenant(ten)
	if err != nil {
		t.Fatal(err)
	}
	if _, keys := d.credentials(d.byName["daemon"].(*app)); len(keys) != 1 {
		t.Errorf("daemon has %d certificates, want 1", len(keys))
	}
	if _, err := LoadTenant(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("LoadTenant(missing) succeeded")
	}
}

// TestGroupClaimOptions covers the overage limit setting, groups claim
// kinds, and app roles that do not follow nesting or reach service
// principals through groups.
func TestGroupClaimOptions(t *testing.T) {
	s, info := startTenant(t, `id: 22222222-3333-4444-8555-666666666666
settings: {groupsOverageLimit: 2}
users:
  - {name: ann, password: ann-password-1}
  - {name: ben, password: ben-password-1}
groups:
  - {name: g1, members: [ann, inner, bot]}
  - {name: inner, members: [ben]}
  - {name: m365, securityEnabled: false, groupTypes: [Unified], members: [ann]}
  - {name: g3, members: [ann]}
applications:
  - name: all-api
    identifierUris: [api://all-api]
    requestedAccessTokenVersion: 2
    groupMembershipClaims: All
    scopes: [{value: read}]
    appRoles: [{value: Reader}]
    allowPublicClient: true
  - name: assigned-api
    identifierUris: [api://assigned-api]
    requestedAccessTokenVersion: 2
    groupMembershipClaims: ApplicationGroup
    scopes: [{value: read}]
    appRoles: [{value: Reader}]
    appRoleAssignmentRequired: true
  - name: bot
    secrets: [{value: bot-secret-value-1}]
appRoleAssignments:
  - {principal: g1, resource: all-api, role: Reader}
  - {principal: g1, resource: assigned-api, role: Reader}
`, Options{})
	c := newClient(t, info)
	ann, err := c.Password(t.Context(), "all-api", "ann", "api://all-api/read")
	if err != nil {
		t.Fatal(err)
	}
	if cl := claimsOf(t, ann.AccessToken); cl["groups"] != nil || cl["_claim_names"] == nil {
		t.Errorf("ann is in 4 groups with a limit of 2: claims %v, want overage", cl)
	}
	ben, err := c.Password(t.Context(), "all-api", "ben", "api://all-api/read")
	if err != nil {
		t.Fatal(err)
	}
	bc := claimsOf(t, ben.AccessToken)
	if got := strs(bc["groups"]); len(got) != 2 || bc["roles"] != nil {
		t.Errorf("ben: groups %v (want inner and g1), roles %v (want none: nested)", got, bc["roles"])
	}
	// ApplicationGroup: only directly assigned groups; assignment required.
	annAssigned, err := c.Password(t.Context(), "all-api", "ann", "api://assigned-api/read")
	if err != nil {
		t.Fatal(err)
	}
	if cl := claimsOf(t, annAssigned.AccessToken); !slices.Equal(strs(cl["groups"]), []string{info.Groups["g1"]}) || !slices.Equal(strs(cl["roles"]), []string{"Reader"}) {
		t.Errorf("ann on assigned-api: %v", cl)
	}
	_, err = c.Password(t.Context(), "all-api", "ben", "api://assigned-api/read")
	var te *TokenError
	if !errors.As(err, &te) || !strings.HasPrefix(te.Description, "AADSTS50105:") {
		t.Errorf("ben (nested only) on an assignment-required API: %v, want AADSTS50105", err)
	}
	// A service principal in an assigned group gets no role from it.
	bot, err := c.ClientCredentials(t.Context(), "bot", "api://all-api/.default")
	if err != nil {
		t.Fatal(err)
	}
	if cl := claimsOf(t, bot.AccessToken); cl["roles"] != nil {
		t.Errorf("bot roles = %v, want none (group assignment does not reach service principals)", cl["roles"])
	}
	if _, err := c.ClientCredentials(t.Context(), "bot", "api://assigned-api/.default"); !errors.As(err, &te) || !strings.HasPrefix(te.Description, "AADSTS501051:") {
		t.Errorf("bot on an assignment-required API: %v, want AADSTS501051", err)
	}
	_ = s
}

func TestDemoTenantIsStable(t *testing.T) {
	a, err := compileTenant(Demo())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := compileTenant(Demo())
	if len(a.groups) != 4+DemoFrankBulkGroupCount {
		t.Errorf("demo has %d groups", len(a.groups))
	}
	for i := range a.groups {
		if a.groups[i].id != b.groups[i].id {
			t.Fatalf("group %s id differs between builds", a.groups[i].name)
		}
	}
	frank := a.byName["frank"].(*user)
	if len(transitiveGroups(frank.memberOf)) != 210 {
		t.Errorf("frank is in %d groups, want 210", len(transitiveGroups(frank.memberOf)))
	}
	if a.byName["airgate"].(*app).initialSecret == b.byName["airgate"].(*app).initialSecret {
		t.Error("demo secrets must be generated at each start")
	}
}
