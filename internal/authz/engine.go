package authz

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/airgate/airgate/internal/authz/policy"
	"github.com/airgate/airgate/internal/catalog"
)

// Options configure an [Engine]. The zero value is ready to use.
type Options struct {
	// Catalog is the route catalogue whose operations are planned ahead;
	// nil means catalog.Default(). Requests classified by another
	// catalogue are still decided, just planned per request.
	Catalog *catalog.Catalog
	// Now is the clock for conditions when Input.Time is zero; nil means
	// time.Now.
	Now func() time.Time
}

// Engine decides requests under one compiled policy. It is immutable and
// safe for concurrent use; the server builds a new Engine on reload and
// swaps it in atomically.
type Engine struct {
	pol   *policy.Policy
	now   func() time.Time
	roles []*policy.Role
	conds []*policy.Condition

	// grants are every role's resolved grants.
	grants []grant
	// groups and appRoles index the mappings.
	groups   map[string][]mapRef
	appRoles map[string][]mapRef
	// refs are the mappings by index.
	refs []mapRef

	// atoms hold, per (dialect, resource, action), the grants that cover
	// it; plans, per catalogue operation, how to check its requirements.
	// Both are filled by New and read-only afterwards.
	atoms map[atomKey]*atom
	plans map[*catalog.Operation]*opPlan
	// filters lists the grants that decide list filters, by filterSlot.
	filters [3][]int

	usesTags, directMappings, nestedMappings bool
}

// grant is one role's resolved grant, with what a decision needs of it
// precomputed.
type grant struct {
	role    int
	g       *policy.Grant
	allDAGs bool
	conds   []int
	label   string // "team-a-operator > Viewer: fab DAG Runs can_read"
}

// mapRef is a mapping as the index keeps it.
type mapRef struct {
	mapping int
	nested  bool
	roles   []int
}

type atomKey struct {
	d                policy.Dialect
	resource, action string
}

// atom is one permission in one dialect and the grants covering it,
// unconditional grants first.
type atom struct {
	key       atomKey
	label     string
	dagScoped bool
	grants    []int
}

// termMode says how a requirement's DAG need carries over to one term of
// its translation into the other dialect.
type termMode uint8

const (
	// termGlobal: checked for every DAG (Airflow 3 FAB checks entity
	// resources globally).
	termGlobal termMode = iota
	// termRun: DAG.RUN's "DAG Runs": "DAG Run:<id>" counts when the
	// request names a DAG.
	termRun
	// termDAGCheck: Airflow 3 FAB's DAG-level check before an access
	// entity: for the DAG when named; "any readable DAG" for a GET
	// without one; skipped otherwise.
	termDAGCheck
	// termDAG: Airflow 3 FAB's check of the DAG entity itself: for the DAG
	// when named; any DAG for a GET without one; every DAG otherwise.
	termDAG
	// termFromFAB: an Airflow 2 requirement in entity words: for the
	// request's DAG when the entity is per-DAG and the request names one;
	// the requirement's own need otherwise.
	termFromFAB
)

// term is one conjunct of a translated requirement: any of its atoms holds
// it.
type term struct {
	atoms []*atom
	mode  termMode
}

// reqPlan is how one catalogue permission is checked: directly in its own
// dialect, or through every term of its translation.
type reqPlan struct {
	perm   catalog.Perm
	direct *atom
	alt    []term
}

type opPlan struct {
	reqs []reqPlan
	// maxMatches bounds the matches an allowed decision records.
	maxMatches int
}

// New builds an engine for a compiled policy, planning every operation of
// the catalogue ahead so that decisions do little more than bit tests.
func New(p *policy.Policy, opts Options) (*Engine, error) {
	if p == nil {
		return nil, errors.New("authz: nil policy")
	}
	e := &Engine{
		pol:      p,
		now:      opts.Now,
		roles:    p.Roles(),
		conds:    p.Conditions(),
		groups:   map[string][]mapRef{},
		appRoles: map[string][]mapRef{},
		atoms:    map[atomKey]*atom{},
		plans:    map[*catalog.Operation]*opPlan{},
	}
	if e.now == nil {
		e.now = time.Now
	}
	roleIndex := map[string]int{}
	for i, r := range e.roles {
		roleIndex[r.Name] = i
	}
	for ri, r := range e.roles {
		for gi := range r.Grants {
			g := &r.Grants[gi]
			gr := grant{role: ri, g: g, allDAGs: g.AllDAGs(), label: g.PathString() + ": " + g.Permission.String()}
			for _, c := range g.Conditions {
				gr.conds = append(gr.conds, c.Index)
			}
			for _, s := range g.Scopes {
				if s.UsesTags() {
					e.usesTags = true
				}
			}
			e.grants = append(e.grants, gr)
		}
	}
	for mi, m := range p.Mappings() {
		ref := mapRef{mapping: mi, nested: m.Nested}
		for _, name := range m.Roles {
			ref.roles = append(ref.roles, roleIndex[name])
		}
		e.refs = append(e.refs, ref)
		if m.AppRole != "" {
			e.appRoles[m.AppRole] = append(e.appRoles[m.AppRole], ref)
			continue
		}
		e.groups[m.Group] = append(e.groups[m.Group], ref)
		if m.Nested {
			e.nestedMappings = true
		} else {
			e.directMappings = true
		}
	}
	cat := opts.Catalog
	if cat == nil {
		cat = catalog.Default()
	}
	for _, op := range cat.Operations() {
		e.plans[op] = e.buildPlan(op, true)
	}
	read := e.coverers(policy.FAB, "DAGs", "can_read", policy.Entity, "DAG", "GET")
	edit := e.coverers(policy.FAB, "DAGs", "can_edit", policy.Entity, "DAG", "PUT")
	e.filters[filterSlot(catalog.FilterReadable)] = read
	e.filters[filterSlot(catalog.FilterEditable)] = edit
	both := slices.Clone(read)
	for _, gi := range edit {
		if !slices.Contains(both, gi) {
			both = append(both, gi)
		}
	}
	slices.Sort(both)
	e.filters[filterSlot(catalog.FilterReadableOrEditable)] = both
	return e, nil
}

// Policy returns the policy the engine decides under.
func (e *Engine) Policy() *policy.Policy { return e.pol }

// UsesTags reports whether some grant selects DAGs by tag, so that
// Input.DAGs is needed.
func (e *Engine) UsesTags() bool { return e.usesTags }

// NeedsDirectGroups reports whether some group mapping counts direct
// membership only, so that the server must resolve Input.DirectGroups for
// principals in any mapped group.
func (e *Engine) NeedsDirectGroups() bool { return e.directMappings }

// HasNestedMappings reports whether some group mapping counts transitive
// membership, so that the server must resolve Input.TransitiveGroups for
// principals whose token has a groups overage.
func (e *Engine) HasNestedMappings() bool { return e.nestedMappings }

func filterSlot(f catalog.Filter) int {
	switch f {
	case catalog.FilterEditable:
		return 1
	case catalog.FilterReadableOrEditable:
		return 2
	}
	return 0
}

// coverers lists the grants covering either of two permissions.
func (e *Engine) coverers(d1 policy.Dialect, r1, a1 string, d2 policy.Dialect, r2, a2 string) []int {
	var out []int
	for gi, g := range e.grants {
		if (g.g.Dialect == d1 && g.g.Covers(r1, a1)) || (g.g.Dialect == d2 && g.g.Covers(r2, a2)) {
			out = append(out, gi)
		}
	}
	return out
}

// dialectOf is the dialect an API's requirements are written in.
func dialectOf(api catalog.API) policy.Dialect {
	if api == catalog.V2 {
		return policy.Entity
	}
	return policy.FAB
}

// planFor returns the operation's plan, building an uncached one for an
// operation New did not see.
func (e *Engine) planFor(op *catalog.Operation) *opPlan {
	if p, ok := e.plans[op]; ok {
		return p
	}
	return e.buildPlan(op, false)
}

// buildPlan plans an operation's requirements; cache says whether new atoms
// may be stored (only while New runs).
func (e *Engine) buildPlan(op *catalog.Operation, cache bool) *opPlan {
	d := dialectOf(op.API)
	plan := &opPlan{}
	for _, p := range op.Requires {
		rp := reqPlan{perm: p, direct: e.atom(d, p.Resource, p.Action, cache)}
		if d == policy.FAB {
			ent, m := entityFor(p.Resource, p.Action)
			rp.alt = []term{{atoms: []*atom{e.atom(policy.Entity, ent, m, cache)}, mode: termFromFAB}}
		} else if resources, action, ok := fabFor(p.Resource, p.Action); ok {
			for _, alts := range resources {
				t := term{mode: termGlobal}
				switch {
				case p.Resource == "DAG":
					t.mode = termDAG
				case p.Resource == "DAG.RUN":
					t.mode = termRun
				}
				for _, r := range alts {
					t.atoms = append(t.atoms, e.atom(policy.FAB, r, action, cache))
				}
				rp.alt = append(rp.alt, t)
			}
			if strings.HasPrefix(p.Resource, "DAG.") {
				dagAction := "can_edit"
				if p.Action == "GET" {
					dagAction = "can_read"
				}
				rp.alt = append(rp.alt, term{atoms: []*atom{e.atom(policy.FAB, "DAGs", dagAction, cache)}, mode: termDAGCheck})
			}
		}
		plan.reqs = append(plan.reqs, rp)
		plan.maxMatches += max(1, len(rp.alt))
	}
	return plan
}

// atom returns the atom for a permission, computing its grants.
func (e *Engine) atom(d policy.Dialect, resource, action string, cache bool) *atom {
	k := atomKey{d, resource, action}
	if a, ok := e.atoms[k]; ok {
		return a
	}
	a := &atom{key: k, label: d.String() + " " + resource + " " + action, dagScoped: policy.IsDAGScoped(d, resource)}
	for pass := 0; pass < 2; pass++ { // unconditional grants first
		for gi, g := range e.grants {
			if (len(g.conds) == 0) == (pass == 0) && g.g.Dialect == d && g.g.Covers(resource, action) {
				a.grants = append(a.grants, gi)
			}
		}
	}
	if cache {
		e.atoms[k] = a
	}
	return a
}
