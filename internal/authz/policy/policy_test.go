package policy

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/airgate/airgate/internal/testutil"
)

// testBuiltins stand in for Airflow's built-in roles, which package authz
// supplies in production.
var testBuiltins = []BuiltinRole{
	{Name: "Viewer", Grants: []Permission{
		{FAB, "DAGs", "can_read"}, {FAB, "DAG Runs", "can_read"}, {FAB, "Pools", "can_read"},
	}, Source: "test"},
	{Name: "Op", Grants: []Permission{
		{FAB, "DAGs", "can_read"}, {FAB, "Connections", "can_edit"},
	}, Source: "test"},
	{Name: "Admin", Grants: []Permission{{FAB, "*", "*"}}, Source: "test"},
	{Name: "viewer", Grants: []Permission{{Entity, "DAG", "GET"}, {Entity, "DAG.*", "GET"}}, Source: "test"},
	{Name: "admin", Grants: []Permission{{Entity, "*", "*"}}, Source: "test"},
}

func parse(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc), Options{Builtins: testBuiltins})
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	return p
}

func TestParseDemoGolden(t *testing.T) {
	data, err := os.ReadFile("testdata/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data, Options{Builtins: testBuiltins})
	if err != nil {
		t.Fatalf("Parse(demo) error = %v", err)
	}
	testutil.Golden(t, "demo.golden", []byte(p.Describe()))
	if w := p.Warnings(); len(w) != 0 {
		t.Errorf("demo Warnings() = %v, want none", w)
	}
}

func TestParseErrors(t *testing.T) {
	const head = "version: 1\nroles:\n"
	tests := []struct {
		name string
		doc  string
		// want are substrings of the error text, in any order.
		want []string
		is   error
	}{
		{
			name: "misspelt FAB action",
			doc: head + `  team-a-operator:
    permissions:
      - {resource: "DAGs", actions: [can_read]}
      - {resource: "DAG Runs", actions: [can_reed]}
`,
			want: []string{`roles.team-a-operator.permissions[1].actions[0]: "can_reed" is not a FAB action`, `did you mean "can_read"?`},
			is:   ErrFABAction,
		},
		{
			name: "unknown resource",
			doc:  head + "  r:\n    permissions: [{resource: \"Dags\", actions: [can_read]}]\n",
			want: []string{`roles.r.permissions[0].resource: "Dags" is not an Airflow resource`, `did you mean "DAGs"?`},
			is:   ErrUnknownResource,
		},
		{
			name: "FAB action on an entity",
			doc:  head + "  r:\n    permissions: [{resource: \"DAG.RUN\", actions: [can_read]}]\n",
			want: []string{`roles.r.permissions[0].actions[0]: "can_read" is not an Airflow 3 method`},
			is:   ErrMethod,
		},
		{
			name: "method on a FAB resource",
			doc:  head + "  r:\n    permissions: [{resource: \"Connections\", actions: [GET]}]\n",
			want: []string{`roles.r.permissions[0].actions[0]: "GET" is not a FAB action`},
			is:   ErrFABAction,
		},
		{
			name: "per-DAG FAB resource",
			doc:  head + "  r:\n    permissions: [{resource: \"DAG:etl\", actions: [can_read]}]\n",
			want: []string{`roles.r.permissions[0].resource: "DAG:etl" is a per-DAG FAB resource: use the role's dags selector`},
			is:   ErrPerDAGResource,
		},
		{
			name: "typo in a field name",
			doc:  head + "  r:\n    permissions: [{resource: \"DAGs\", actoins: [can_read]}]\n",
			want: []string{`roles.r.permissions[0].actoins: is not a known field`, `did you mean "actions"?`},
			is:   ErrUnknownField,
		},
		{
			name: "scalar where a list belongs",
			doc:  head + "  r:\n    permissions: [{resource: \"DAGs\", actions: can_read}]\n",
			want: []string{`roles.r.permissions[0].actions: "can_read" has the wrong type: want a list`},
			is:   ErrWrongType,
		},
		{
			name: "bad glob",
			doc:  head + "  r:\n    permissions: [{resource: \"DAGs\", actions: [can_read]}]\n    dags: [\"team a*\", \"ok_*\", \"~\"]\n",
			want: []string{`roles.r.dags[0]: "team a*" is not a DAG id or glob`, `roles.r.dags[2]: "~" is not a DAG id or glob`},
			is:   ErrDAGSelector,
		},
		{
			name: "CEL syntax error",
			doc:  head + "  r:\n    permissions: [{resource: \"DAGs\", actions: [can_read]}]\n    when: \"'mfa' in principal.amr &&\"\n",
			want: []string{`roles.r.when: "'mfa' in principal.amr &&" is not a valid condition`},
			is:   ErrCondition,
		},
		{
			name: "CEL unknown variable",
			doc:  head + "  r:\n    permissions: [{resource: \"DAGs\", actions: [can_read]}]\n    when: \"'mfa' in principal.amrs\"\n",
			want: []string{`undeclared reference to 'principal.amrs'`, `did you mean 'principal.amr'?`},
			is:   ErrCondition,
		},
		{
			name: "CEL condition not bool",
			doc:  head + "  r:\n    permissions: [{resource: \"DAGs\", actions: [can_read]}]\n    when: \"principal.upn\"\n",
			want: []string{`roles.r.when: "principal.upn" is not a valid condition: has type string, want bool`},
			is:   ErrCondition,
		},
		{
			name: "CEL bad constant CIDR",
			doc:  head + "  r:\n    permissions: [{resource: \"DAGs\", actions: [can_read]}]\n    when: \"ip_in(request.source_ip, ['10.0.0.0/33'])\"\n",
			want: []string{`CIDR "10.0.0.0/33"`},
			is:   ErrCondition,
		},
		{
			name: "CEL bad time zone",
			doc:  head + "  r:\n    permissions: [{resource: \"DAGs\", actions: [can_read]}]\n    when: \"in_hours(now, 'Europe/Berlinn', '08:00', '18:00')\"\n",
			want: []string{`time zone "Europe/Berlinn"`},
			is:   ErrCondition,
		},
		{
			name: "redefined built-in role",
			doc:  head + "  viewer:\n    permissions: [{resource: \"DAGs\", actions: [can_read]}]\n",
			want: []string{`roles.viewer: "viewer" redefines a built-in role (viewer): extend it instead`},
			is:   ErrBuiltinRole,
		},
		{
			name: "built-in role in another case",
			doc:  head + "  ADMIN:\n    extends: [Viewer]\n",
			want: []string{`roles.ADMIN: "ADMIN" redefines a built-in role`},
			is:   ErrBuiltinRole,
		},
		{
			name: "extends cycle",
			doc:  head + "  a:\n    extends: [b]\n  b:\n    extends: [c]\n  c:\n    extends: [a]\n",
			want: []string{`forms an extends cycle (a > b > c > a)`},
			is:   ErrCycle,
		},
		{
			name: "extends an unknown role",
			doc:  head + "  a:\n    extends: [Veiwer]\n",
			want: []string{`roles.a.extends[0]: "Veiwer" names no role; did you mean "Viewer"?`},
			is:   ErrUnknownRole,
		},
		{
			name: "group display name instead of object id",
			doc:  "version: 1\nmappings:\n  - group: airflow-admins\n    roles: [Admin]\n",
			want: []string{`mappings[0].group: "airflow-admins" is not a group object id`},
			is:   ErrGroupID,
		},
		{
			name: "mapping to an unknown role",
			doc:  "version: 1\nmappings:\n  - app_role: Airflow.Operator\n    roles: [Operator]\n",
			want: []string{`mappings[0].roles[0]: "Operator" names no role`},
			is:   ErrUnknownRole,
		},
		{
			name: "nested app role",
			doc:  "version: 1\nmappings:\n  - app_role: Airflow.Operator\n    roles: [Op]\n    nested: true\n",
			want: []string{`mappings[0].nested: "true" is not allowed for app roles`},
			is:   ErrNestedAppRole,
		},
		{
			name: "mapping with group and app role",
			doc:  "version: 1\nmappings:\n  - app_role: A\n    group: 11111111-1111-4111-8111-111111111111\n    roles: [Op]\n",
			want: []string{`mappings[0]: is not a valid mapping (set group or app_role, not both)`},
			is:   ErrMapping,
		},
		{
			name: "mapping without roles",
			doc:  "version: 1\nmappings:\n  - app_role: A\n",
			want: []string{`mappings[0].roles: is required`},
			is:   ErrMissing,
		},
		{
			name: "wrong version",
			doc:  "version: 2\n",
			want: []string{`version: "2" is not a supported policy version`},
			is:   ErrVersion,
		},
		{
			name: "missing version",
			doc:  "roles: {}\n",
			want: []string{`version: is required`},
			is:   ErrMissing,
		},
		{
			name: "bad deny reason",
			doc:  head + "  r:\n    extends: [Admin]\n    when: \"true\"\n    deny_reason: \"MFA required\"\n",
			want: []string{`roles.r.deny_reason: "MFA required" is not a reason code`},
			is:   ErrReasonCode,
		},
		{
			name: "deny reason without condition",
			doc:  head + "  r:\n    extends: [Admin]\n    deny_reason: mfa-required\n",
			want: []string{`roles.r.deny_reason: "mfa-required" has no effect without when`},
			is:   ErrNoEffect,
		},
		{
			name: "empty role",
			doc:  head + "  r:\n    description: nothing\n",
			want: []string{`roles.r: grants nothing`},
			is:   ErrEmptyRole,
		},
		{
			name: "bad role name",
			doc:  head + "  \"team a\":\n    extends: [Viewer]\n",
			want: []string{`roles: "team a" is not a valid role name`},
			is:   ErrRoleName,
		},
		{
			name: "nested must be a bool",
			doc:  "version: 1\nmappings:\n  - group: 11111111-1111-4111-8111-111111111111\n    roles: [Viewer]\n    nested: yes\n",
			want: []string{`mappings[0].nested: "yes" has the wrong type: want true or false`},
			is:   ErrWrongType,
		},
		{
			name: "empty file",
			doc:  "",
			want: []string{`(document): is not a policy document`},
			is:   ErrDocument,
		},
		{
			name: "several problems at once",
			doc: head + `  r:
    permissions: [{resource: "DAGs", actions: [can_reed]}]
    dags: ["a b"]
mappings:
  - group: nope
    roles: [r]
`,
			want: []string{`actions[0]: "can_reed"`, `dags[0]: "a b"`, `mappings[0].group: "nope"`},
			is:   ErrFABAction,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), Options{Builtins: testBuiltins})
			if err == nil {
				t.Fatalf("Parse() error = nil, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse() error = %v\nwant it to contain %q", err, w)
				}
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("Parse() error %v is not a *FieldError", err)
			}
		})
	}
}

func TestParseYAMLSyntaxError(t *testing.T) {
	_, err := Parse([]byte("version: 1\nroles: [\n"), Options{})
	if err == nil || !strings.Contains(err.Error(), "policy: yaml:") {
		t.Errorf("Parse(bad YAML) error = %v, want a policy: yaml: error", err)
	}
}

func TestExtendsNarrows(t *testing.T) {
	p := parse(t, `version: 1
roles:
  base:
    permissions: [{resource: "DAGs", actions: [can_edit]}]
    dags: ["b_*"]
    when: "principal.kind == 'user'"
  team:
    extends: [base, Viewer]
    dags: ["t_*"]
    when: "'mfa' in principal.amr"
mappings:
  - app_role: X
    roles: [team]
`)
	team, _ := p.Role("team")
	var edit *Grant
	for i, g := range team.Grants {
		if g.Resource == "DAGs" && g.Action == "can_edit" {
			edit = &team.Grants[i]
		}
	}
	if edit == nil {
		t.Fatalf("team lacks base's DAGs can_edit: %v", team.Grants)
	}
	if got := edit.PathString(); got != "team > base" {
		t.Errorf("Path = %q, want team > base", got)
	}
	if len(edit.Scopes) != 2 || len(edit.Conditions) != 2 {
		t.Fatalf("Scopes, Conditions = %d, %d; want both selectors and both conditions", len(edit.Scopes), len(edit.Conditions))
	}
	for _, tc := range []struct {
		dag  string
		want bool
	}{{"t_1", false}, {"b_1", false}} {
		got := true
		for _, s := range edit.Scopes {
			got = got && s.MatchID(tc.dag)
		}
		if got != tc.want {
			t.Errorf("scopes select %s = %v, want %v (intersection of t_* and b_*)", tc.dag, got, tc.want)
		}
	}
	if len(p.Conditions()) != 2 || p.Conditions()[0].Index != 0 || p.Conditions()[1].Index != 1 {
		t.Errorf("Conditions() not indexed in order: %v", p.Conditions())
	}
}

func TestWarnings(t *testing.T) {
	p := parse(t, `version: 1
roles:
  breakglass:
    extends: [Admin]
  everything:
    permissions:
      - {resource: "*", actions: [can_read]}
      - {resource: "Variables", actions: ["*"]}
      - {resource: "DAG.*", actions: [GET]}
  all-dags:
    permissions: [{resource: "DAGs", actions: [can_read]}]
    dags: ["*"]
  team:
    permissions:
      - {resource: "DAGs", actions: [can_read]}
      - {resource: "Connections", actions: [can_read]}
      - {resource: "Task Instances", actions: [can_read]}
    dags: ["team_*"]
  orphan:
    extends: [Viewer]
mappings:
  - group: 33333333-3333-4333-8333-333333333333
    name: airflow-admins
    nested: true
    roles: [breakglass]
  - group: 44444444-4444-4444-8444-444444444444
    nested: true
    roles: [Viewer]
  - app_role: X
    roles: [everything, all-dags, team]
`)
	var got []string
	for _, w := range p.Warnings() {
		got = append(got, w.String())
	}
	testutil.Golden(t, "warnings.golden", []byte(strings.Join(got, "\n")+"\n"))
	codes := map[WarningCode]int{}
	for _, w := range p.Warnings() {
		codes[w.Code]++
	}
	want := map[WarningCode]int{
		WarnNestedAdmin: 1, WarnWildcardResource: 2, WarnWildcardAction: 1,
		WarnWildcardDAGs: 1, WarnSelectorIgnored: 1, WarnUnusedRole: 1,
	}
	for c, n := range want {
		if codes[c] != n {
			t.Errorf("%d warnings with code %s, want %d", codes[c], c, n)
		}
	}
}

func TestPermissionCovers(t *testing.T) {
	tests := []struct {
		p                Permission
		resource, action string
		want             bool
	}{
		{Permission{FAB, "DAGs", "can_read"}, "DAGs", "can_read", true},
		{Permission{FAB, "DAGs", "can_read"}, "DAGs", "can_edit", false},
		{Permission{FAB, "*", "*"}, "Users", "can_delete", true},
		{Permission{FAB, "*", "*"}, "Roles", "PATCH", false}, // not a FAB action: no FAB role holds it
		{Permission{FAB, "DAGs", "*"}, "DAG Runs", "can_read", false},
		{Permission{Entity, "DAG.*", "GET"}, "DAG.RUN", "GET", true},
		{Permission{Entity, "DAG.*", "GET"}, "DAG", "GET", false},
		{Permission{Entity, "VIEW.*", "GET"}, "VIEW.PLUGINS", "GET", true},
		{Permission{Entity, "*", "*"}, "CUSTOM_VIEW.Roles", "PATCH", true}, // simple admin is always allowed
		{Permission{Entity, "DAG.RUN", "*"}, "DAG.RUN", "DELETE", true},
	}
	for _, tc := range tests {
		if got := tc.p.Covers(tc.resource, tc.action); got != tc.want {
			t.Errorf("%v.Covers(%q, %q) = %v, want %v", tc.p, tc.resource, tc.action, got, tc.want)
		}
	}
}

func TestStarStarGrantsBothDialects(t *testing.T) {
	p := parse(t, "version: 1\nroles:\n  god:\n    permissions: [{resource: \"*\", actions: [\"*\"]}]\nmappings:\n  - app_role: G\n    roles: [god]\n")
	r, _ := p.Role("god")
	if len(r.Permissions) != 2 || r.Permissions[0].Dialect != FAB || r.Permissions[1].Dialect != Entity {
		t.Errorf(`"*" "*" Permissions = %v, want one per dialect`, r.Permissions)
	}
}
