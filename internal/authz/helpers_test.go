package authz

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/authz/policy"
	"github.com/airgate/airgate/internal/catalog"
	"github.com/airgate/airgate/internal/identity"
)

// Group object ids of the demo directory. nestedAdmins is a group inside
// airflow-admins.
const (
	gViewers      = "11111111-1111-4111-8111-111111111111"
	gTeamA        = "22222222-2222-4222-8222-222222222222"
	gAdmins       = "33333333-3333-4333-8333-333333333333"
	gNestedAdmins = "44444444-4444-4444-8444-444444444444"
)

// demoPolicy is policy/testdata/demo.yaml, the policy of the demo.
func demoPolicy(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile("policy/testdata/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func newEngine(t testing.TB, doc []byte) *Engine {
	t.Helper()
	p, err := ParsePolicy(doc)
	if err != nil {
		t.Fatalf("ParsePolicy() error = %v", err)
	}
	e, err := New(p, Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return e
}

// testNow is a Wednesday, 10:30 in Berlin.
var testNow = time.Date(2025, 3, 5, 9, 30, 0, 0, time.UTC)

// user builds a person whose token lists groups (transitively).
func user(upn string, groups []string, amr ...string) *identity.Principal {
	return &identity.Principal{Kind: identity.User, TenantID: "tenant", ObjectID: "oid-" + upn, UPN: upn, Groups: groups, AMR: amr}
}

// The demo's people. Direct memberships are what the server resolves from
// Microsoft Graph; the token's groups are transitive.
var (
	alice = user("alice@example.com", []string{gViewers}, "pwd")
	bob   = user("bob@example.com", []string{gTeamA}, "pwd")
	carol = user("carol@example.com", []string{gNestedAdmins, gAdmins}, "pwd", "mfa")
	dave  = user("dave@example.com", []string{gAdmins}, "pwd", "mfa")
	erin  = user("erin@example.com", []string{gAdmins}, "pwd")
	etl   = &identity.Principal{Kind: identity.App, AppID: "etl-agent-app", ObjectID: "sp-etl", AppRoles: []string{"Airflow.Operator"}}
)

var directGroups = map[*identity.Principal][]string{
	alice: {gViewers},
	bob:   {gTeamA},
	carol: {gNestedAdmins},
	dave:  {gAdmins},
	erin:  {gAdmins},
}

// input builds a request as the server would: classified by the default
// catalogue, direct groups resolved.
func input(p *identity.Principal, method, target string) Input {
	path, query, _ := strings.Cut(target, "?")
	cls := catalog.Default().Classify(method, path, query)
	in := Input{Principal: p, Request: &cls, Method: method, Path: path,
		SourceIP: netip.MustParseAddr("10.1.2.3"), Time: testNow}
	if dg, ok := directGroups[p]; ok {
		in.DirectGroups, in.DirectGroupsKnown = dg, true
	}
	return in
}

// fakeDAGs is a DAGMetadata with fixed tags.
type fakeDAGs struct {
	tags  map[string][]string
	err   error
	calls int
}

func (f *fakeDAGs) DAGTags(_ context.Context, dagID string) ([]string, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return f.tags[dagID], nil
}

var errGraph = errors.New("airflow unreachable")

// mustParse compiles a policy for tests.
func mustParse(t testing.TB, doc string) *policy.Policy {
	t.Helper()
	p, err := ParsePolicy([]byte(doc))
	if err != nil {
		t.Fatalf("ParsePolicy() error = %v", err)
	}
	return p
}
