package authz

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"time"

	"github.com/airgate/airgate/internal/catalog"
	"github.com/airgate/airgate/internal/identity"
)

// DAGMetadata tells the engine about DAGs it cannot see in a request. The
// server implements it over Airflow's API with a cache.
type DAGMetadata interface {
	// DAGTags returns the tags of a DAG; an unknown DAG has none. An error
	// makes the decision fail (closed).
	DAGTags(ctx context.Context, dagID string) ([]string, error)
}

// Input is everything a decision depends on. The engine does not modify it
// or keep references to it.
type Input struct {
	// Principal is the verified caller; nil for an anonymous request,
	// which only public operations allow.
	Principal *identity.Principal

	// DirectGroups are the principal's direct group memberships (Microsoft
	// Graph /memberOf), valid when DirectGroupsKnown. Group mappings
	// without nested: true count only these. When DirectGroupsKnown is
	// false such mappings match nothing and a group in the transitive list
	// that they name is reported as direct-groups-unresolved; see
	// [Engine.NeedsDirectGroups].
	DirectGroups      []string
	DirectGroupsKnown bool

	// TransitiveGroups, valid when TransitiveGroupsKnown, replace
	// Principal.Groups as the transitive memberships (Graph
	// /transitiveMemberOf or getMemberObjects). The server MUST fill them
	// when Principal.GroupsOverage is set, because the token then lists no
	// groups; otherwise nested mappings are reported as overage-unresolved.
	TransitiveGroups      []string
	TransitiveGroupsKnown bool

	// Request is the classified request; nil or unknown denies.
	Request *catalog.Classification
	// Method and Path are the request's method and raw path, for
	// conditions (request.method, request.path). An empty Method means the
	// operation's.
	Method, Path string
	// SourceIP is the client's address (request.source_ip); the zero
	// value is an unknown address, in no range.
	SourceIP netip.Addr
	// Time is when the request arrived (now); zero means the engine's
	// clock.
	Time time.Time

	// DAGs looks up DAG tags for dag_tags selectors; it may be nil when
	// [Engine.UsesTags] is false.
	DAGs DAGMetadata
}

// Decision is the outcome of [Engine.Decide]. A Decision is owned by the
// caller, except Reasons, which may be shared and MUST NOT be modified.
type Decision struct {
	// Allow is the verdict.
	Allow bool `json:"allow"`
	// Reasons explain it, most specific first: "allowed",
	// "public-operation", or why the request was denied.
	Reasons []Reason `json:"reasons"`
	// Roles are the names of the roles the principal holds through
	// mappings, in policy order.
	Roles []string `json:"roles,omitempty"`
	// Matched names, for each requirement held, the role path and grant
	// that held it (several for a requirement checked through the other
	// dialect's words). On a denial it lists the requirements held before
	// the missing one.
	Matched []Match `json:"matched,omitempty"`
	// Missing is the first requirement not held, in the words of the
	// request's API; nil when allowed or when no requirement was checked.
	Missing *catalog.Requirement `json:"missing,omitempty"`
	// DAGs says which DAGs the caller may see in the response of an
	// allowed request that reaches every DAG (catalog.ScopeAll) and that
	// Airflow narrows by DAG; inactive otherwise.
	DAGs DAGFilter `json:"dags"`
}

// Match is one requirement and the grant that held it.
type Match struct {
	// Resource and Action are the requirement, in the request's words.
	Resource string `json:"resource"`
	Action   string `json:"action"`
	// Grant is the role path and permission that held it, e.g.
	// "team-a-operator > Viewer: fab DAG Runs can_read".
	Grant string `json:"grant"`
}

// String reads "DAG Runs can_read <- team-a-operator > Viewer: fab DAG Runs can_read".
func (m Match) String() string { return m.Resource + " " + m.Action + " <- " + m.Grant }

// DAGFilter tells which DAGs a caller may see in a list response, as
// Airflow's get_permitted_dag_ids / get_authorized_dag_ids would (AIRFLOW.md
// §7). The zero value is inactive and permits every DAG. A DAGFilter is
// immutable and safe for concurrent use.
type DAGFilter struct {
	// Kind is the filter Airflow applies (readable, editable, readable or
	// editable); catalog.FilterNone means no filtering.
	Kind catalog.Filter

	all  bool
	e    *Engine
	list []int // grant indices the bits refer to
	bits bitset
}

// Active reports whether the response must be filtered.
func (f *DAGFilter) Active() bool { return f.Kind != catalog.FilterNone }

// All reports whether every DAG is permitted (or the filter is inactive).
func (f *DAGFilter) All() bool { return f.Kind == catalog.FilterNone || f.all }

// NeedsTags reports whether Permits needs DAG tags to decide.
func (f *DAGFilter) NeedsTags() bool {
	if f.All() {
		return false
	}
	needs := false
	f.bits.each(func(i int) bool {
		for _, s := range f.e.grants[f.list[i]].g.Scopes {
			if s.UsesTags() {
				needs = true
			}
		}
		return !needs
	})
	return needs
}

// Permits reports whether the caller may see the DAG with this id and tags
// (tags matter only when NeedsTags).
func (f *DAGFilter) Permits(dagID string, tags []string) bool {
	if f.All() {
		return true
	}
	ok := false
	f.bits.each(func(i int) bool {
		ok = selects(f.e.grants[f.list[i]].g.Scopes, dagID, tags)
		return !ok
	})
	return ok
}

// String describes the filter: "readable: every DAG", "readable: dags
// [team_a_*]", "readable: no DAG", or "" when inactive.
func (f *DAGFilter) String() string {
	switch {
	case !f.Active():
		return ""
	case f.all:
		return string(f.Kind) + ": every DAG"
	}
	var parts []string
	f.bits.each(func(i int) bool {
		var sel []string
		for _, s := range f.e.grants[f.list[i]].g.Scopes {
			sel = append(sel, s.String())
		}
		if p := strings.Join(sel, " and "); !containsString(parts, p) {
			parts = append(parts, p)
		}
		return true
	})
	if len(parts) == 0 {
		return string(f.Kind) + ": no DAG"
	}
	return string(f.Kind) + ": " + strings.Join(parts, " or ")
}

// MarshalJSON renders the filter as {"filter": kind, "all": bool,
// "selects": description}; an inactive filter is null.
func (f DAGFilter) MarshalJSON() ([]byte, error) {
	if !f.Active() {
		return []byte("null"), nil
	}
	return json.Marshal(struct {
		Filter  catalog.Filter `json:"filter"`
		All     bool           `json:"all"`
		Selects string         `json:"selects"`
	}{f.Kind, f.all, f.String()})
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
