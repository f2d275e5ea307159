package authz

import (
	"context"

	"fmt"
	"strings"

	"github.com/airgate/airgate/internal/authz/policy"
	"github.com/airgate/airgate/internal/catalog"
)

// need is the DAG a permission must be held for: one DAG, any DAG, or
// (both zero) every DAG.
type need struct {
	dag string
	any bool
}

// needFor is what a catalogue permission needs for a classified request,
// as catalog.Classification.Requirements computes it; skip is set when
// Airflow does not check the permission without a DAG.
func needFor(p catalog.Perm, c *catalog.Classification) (n need, skip bool) {
	if !p.PerDAG {
		return need{}, false
	}
	if c.Scope == catalog.ScopeOne {
		return need{dag: c.DAGID}, false
	}
	switch p.WithoutDAG {
	case catalog.Skip:
		return need{}, true
	case catalog.AnyDAG:
		return need{any: true}, false
	}
	return need{}, false
}

func (n need) requirement(resource, action string) catalog.Requirement {
	return catalog.Requirement{Resource: resource, Action: action, DAGID: n.dag, AnyDAG: n.any}
}

// failKind is why a requirement was not held, in increasing precedence.
type failKind uint8

const (
	failMissing   failKind = iota // no held role grants the permission
	failNotGlobal                 // held for some DAGs, needed for all
	failScope                     // held for other DAGs
	failCond                      // held, but a condition is false
)

type failure struct {
	kind failKind
	cond int // the false condition, for failCond
}

func (f failure) worse(g failure) failure {
	if g.kind > f.kind {
		return g
	}
	return f
}

// evalState is one decision's working state; it lives on the stack.
type evalState struct {
	e   *Engine
	ctx context.Context
	in  Input // a copy: a pointer to the caller's would move it to the heap
	cls *catalog.Classification

	held       bitset // roles given by mappings
	matched    bitset // mappings that matched
	ignored    bitset // group mappings matched through nesting only
	unresolved bitset // direct-only group mappings not checkable (direct groups unknown)
	overage    bool   // nested mappings not checkable (groups overage)

	condDone, condTrue bitset
	vars               *policy.Vars

	tags     []string
	tagsDone bool

	err   error
	trace *tracer // nil except in Explain
}

// Decide decides one request. An error means the decision could not be
// made (a DAG tag lookup or a condition failed to evaluate); the caller MUST
// deny the request. A denial is a Decision with Allow false and a nil error.
func (e *Engine) Decide(ctx context.Context, in Input) (Decision, error) {
	st := evalState{e: e, ctx: ctx, in: in, cls: in.Request}
	return st.decide()
}

func (st *evalState) decide() (Decision, error) {
	cls, in := st.cls, &st.in
	if cls == nil || !cls.Known() {
		return Decision{Reasons: reasonsUnknown}, nil
	}
	switch cls.Op.Auth {
	case catalog.AuthNone:
		return Decision{Allow: true, Reasons: reasonsPublic}, nil
	case catalog.AuthAuthenticated:
		if in.Principal == nil {
			return Decision{Reasons: reasonsUnauthenticated}, nil
		}
		return Decision{Allow: true, Reasons: reasonsAuthenticated}, nil
	}
	if in.Principal == nil {
		return Decision{Reasons: reasonsUnauthenticated}, nil
	}
	st.mapRoles()
	d := Decision{Roles: st.roleNames()}
	plan := st.e.planFor(cls.Op)
	if st.held.empty() {
		d.Reasons = st.denyReasons(plan, -1, need{}, failure{})
		if st.err != nil {
			return Decision{}, st.err
		}
		return d, nil
	}
	d.Matched = make([]Match, 0, plan.maxMatches)
	for i := range plan.reqs {
		rp := &plan.reqs[i]
		n, skip := needFor(rp.perm, cls)
		if skip {
			continue
		}
		var ok bool
		var f failure
		d.Matched, ok, f = st.holdsReq(rp, n, &st.held, false, d.Matched)
		if st.err != nil {
			return Decision{}, st.err
		}
		if !ok {
			req := n.requirement(rp.perm.Resource, rp.perm.Action)
			d.Missing = &req
			d.Reasons = st.denyReasons(plan, i, n, f)
			if st.err != nil {
				return Decision{}, st.err
			}
			return d, nil
		}
	}
	if cls.Scope == catalog.ScopeAll && cls.Op.Filter != catalog.FilterNone {
		d.DAGs = st.filter(cls.Op.Filter)
		if st.err != nil {
			return Decision{}, st.err
		}
	}
	d.Allow, d.Reasons = true, reasonsAllowed
	return d, nil
}

// mapRoles finds the roles the principal holds through mappings.
func (st *evalState) mapRoles() {
	e, in, p := st.e, &st.in, st.in.Principal
	if in.DirectGroupsKnown {
		for _, g := range in.DirectGroups {
			for _, ref := range e.groupRefs(g) {
				st.hold(ref)
			}
		}
	}
	trans, known := in.TransitiveGroups, in.TransitiveGroupsKnown
	if !known && !p.GroupsOverage {
		trans, known = p.Groups, true
	}
	if known {
		for _, g := range trans {
			for _, ref := range e.groupRefs(g) {
				switch {
				case ref.nested:
					st.hold(ref)
				case !in.DirectGroupsKnown:
					st.unresolved.set(ref.mapping)
				case !containsFold(in.DirectGroups, g):
					st.ignored.set(ref.mapping)
				}
			}
		}
	} else {
		st.overage = e.nestedMappings || (e.directMappings && !in.DirectGroupsKnown)
	}
	for _, r := range p.AppRoles {
		for _, ref := range e.appRoles[r] {
			st.hold(ref)
		}
	}
}

func (st *evalState) hold(ref mapRef) {
	st.matched.set(ref.mapping)
	for _, r := range ref.roles {
		st.held.set(r)
	}
}

// groupRefs looks a group up; object ids compare case-insensitively.
func (e *Engine) groupRefs(g string) []mapRef {
	if refs, ok := e.groups[g]; ok || strings.ToLower(g) == g {
		return refs
	}
	return e.groups[strings.ToLower(g)]
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func (st *evalState) roleNames() []string {
	if st.held.empty() {
		return nil
	}
	names := make([]string, 0, st.held.len())
	st.held.each(func(i int) bool {
		names = append(names, st.e.roles[i].Name)
		return true
	})
	return names
}

// holdsReq checks one requirement against the roles in roles, appending to
// out the matches that held it. skipConds treats every condition as true
// (for the hypothetical checks behind membership reasons).
func (st *evalState) holdsReq(rp *reqPlan, n need, roles *bitset, skipConds bool, out []Match) ([]Match, bool, failure) {
	gi, best := st.holdsAtom(rp.direct, n, roles, skipConds)
	if gi >= 0 {
		return append(out, Match{rp.perm.Resource, rp.perm.Action, st.e.grants[gi].label}), true, failure{}
	}
	if st.err != nil || len(rp.alt) == 0 {
		return out, false, best
	}
	mark := len(out)
	for _, t := range rp.alt {
		tn, skip := st.termNeed(t, n, rp.perm.Action)
		if skip {
			continue
		}
		held := false
		for _, a := range t.atoms {
			gi, f := st.holdsAtom(a, tn, roles, skipConds)
			if st.err != nil {
				return out[:mark], false, best
			}
			if gi >= 0 {
				out = append(out, Match{rp.perm.Resource, rp.perm.Action, st.e.grants[gi].label})
				held = true
				break
			}
			best = best.worse(f)
		}
		if !held {
			return out[:mark], false, best
		}
	}
	return out, true, failure{}
}

// termNeed is what one term of a translated requirement needs.
func (st *evalState) termNeed(t term, n need, method string) (need, bool) {
	switch t.mode {
	case termRun:
		return need{dag: n.dag}, false
	case termDAGCheck:
		if n.dag != "" {
			return need{dag: n.dag}, false
		}
		return need{any: true}, method != "GET"
	case termDAG:
		if n.dag != "" {
			return need{dag: n.dag}, false
		}
		return need{any: method == "GET"}, false
	case termFromFAB:
		if t.atoms[0].dagScoped && st.cls.Scope == catalog.ScopeOne {
			return need{dag: st.cls.DAGID}, false
		}
		return n, false
	}
	return need{}, false
}

// holdsAtom returns the first grant of a held role that holds the atom for
// the need, or -1 and the best reason why none did.
func (st *evalState) holdsAtom(a *atom, n need, roles *bitset, skipConds bool) (int, failure) {
	var best failure
	for _, gi := range a.grants {
		g := &st.e.grants[gi]
		if !roles.has(g.role) {
			continue
		}
		if a.dagScoped {
			switch {
			case n.dag != "":
				ok := st.selectsDAG(g, n.dag)
				if st.err != nil {
					return -1, best
				}
				if !ok {
					best = best.worse(failure{kind: failScope})
					if st.trace != nil {
						st.trace.grant(st.e, a, gi, "does not select DAG "+n.dag)
					}
					continue
				}
			case !n.any && !g.allDAGs:
				best = best.worse(failure{kind: failNotGlobal})
				if st.trace != nil {
					st.trace.grant(st.e, a, gi, "holds it for some DAGs only; every DAG is needed")
				}
				continue
			}
		}
		if !skipConds {
			if c, ok := st.condsHold(g); !ok {
				if st.err != nil {
					return -1, best
				}
				best = best.worse(failure{kind: failCond, cond: c})
				if st.trace != nil {
					st.trace.grant(st.e, a, gi, "condition "+st.e.conds[c].Field+" is false")
				}
				continue
			}
		}
		if st.trace != nil {
			st.trace.grant(st.e, a, gi, "holds")
		}
		return gi, failure{}
	}
	return -1, best
}

// selectsDAG reports whether every scope of the grant selects the DAG,
// looking its tags up once when a tag selector needs them.
func (st *evalState) selectsDAG(g *grant, dag string) bool {
	for _, s := range g.g.Scopes {
		if s.MatchID(dag) {
			continue
		}
		if !s.UsesTags() {
			return false
		}
		tags, err := st.dagTags(dag)
		if err != nil {
			st.err = err
			return false
		}
		if !s.MatchTags(tags) {
			return false
		}
	}
	return true
}

func (st *evalState) dagTags(dag string) ([]string, error) {
	if !st.tagsDone {
		if st.in.DAGs == nil {
			return nil, fmt.Errorf("authz: role selects DAGs by tag and no DAG metadata source is configured")
		}
		tags, err := st.in.DAGs.DAGTags(st.ctx, dag)
		if err != nil {
			return nil, fmt.Errorf("authz: looking up tags of DAG %s: %w", dag, err)
		}
		st.tags, st.tagsDone = tags, true
	}
	return st.tags, nil
}

// condsHold evaluates the grant's conditions once per decision each; it
// returns the first false one.
func (st *evalState) condsHold(g *grant) (int, bool) {
	for _, c := range g.conds {
		if !st.condDone.has(c) {
			ok, err := st.e.conds[c].Eval(st.celVars())
			if err != nil {
				st.err = fmt.Errorf("authz: %w", err)
				return c, false
			}
			st.condDone.set(c)
			if ok {
				st.condTrue.set(c)
			}
		}
		if !st.condTrue.has(c) {
			return c, false
		}
	}
	return -1, true
}

// celVars builds the condition variables on first use.
func (st *evalState) celVars() *policy.Vars {
	if st.vars != nil {
		return st.vars
	}
	in, p := &st.in, st.in.Principal
	groups := p.Groups
	if in.TransitiveGroupsKnown {
		groups = in.TransitiveGroups
	}
	v := &policy.Vars{
		Principal: policy.PrincipalVars{
			Kind: string(p.Kind), Tenant: p.TenantID, OID: p.ObjectID, UPN: p.UPN,
			AppID: p.AppID, Name: p.DisplayName, ACR: p.ACR,
			Groups: groups, AppRoles: p.AppRoles, AMR: p.AMR, Scopes: p.Scopes,
		},
		Request: policy.RequestVars{
			Method: in.Method, Path: in.Path, API: string(st.cls.API),
			Operation: st.cls.Op.ID, DAGID: st.cls.DAGID,
		},
		Now: in.Time,
	}
	if v.Request.Method == "" {
		v.Request.Method = st.cls.Op.Method
	}
	if in.SourceIP.IsValid() {
		v.Request.SourceIP = in.SourceIP.String()
	}
	if v.Now.IsZero() {
		v.Now = st.e.now()
	}
	st.vars = v
	return v
}

// filter computes which DAGs a list response may show.
func (st *evalState) filter(kind catalog.Filter) DAGFilter {
	list := st.e.filters[filterSlot(kind)]
	f := DAGFilter{Kind: kind, e: st.e, list: list}
	for i, gi := range list {
		g := &st.e.grants[gi]
		if !st.held.has(g.role) {
			continue
		}
		if _, ok := st.condsHold(g); !ok {
			if st.err != nil {
				return DAGFilter{}
			}
			continue
		}
		if g.allDAGs {
			f.all = true
			break
		}
		f.bits.set(i)
	}
	return f
}

// selects reports whether every scope selects the DAG.
func selects(scopes []*policy.Selector, dagID string, tags []string) bool {
	for _, s := range scopes {
		if !s.Match(dagID, tags) {
			return false
		}
	}
	return true
}

// denyReasons explains a denial: the membership problems that would have
// changed it, then why requirement i (-1: no role at all) was not held.
func (st *evalState) denyReasons(plan *opPlan, i int, n need, f failure) []Reason {
	tr := st.trace // the hypothetical checks are not part of an explanation
	st.trace = nil
	defer func() { st.trace = tr }()
	var out []Reason
	// Would the roles of ignored or unresolved mappings have held it?
	// Conditions are not evaluated for these hypothetical roles.
	hypo := func(maps *bitset) bool {
		if maps.empty() {
			return false
		}
		var roles bitset
		maps.each(func(mi int) bool {
			for _, r := range st.e.refs[mi].roles {
				roles.set(r)
			}
			return true
		})
		// Requirement i, or every requirement when no role is held.
		for j := range plan.reqs {
			if i >= 0 && j != i {
				continue
			}
			rp := &plan.reqs[j]
			rn, skip := needFor(rp.perm, st.cls)
			if skip {
				continue
			}
			if _, ok, _ := st.holdsReq(rp, rn, &roles, true, nil); !ok {
				return false
			}
		}
		return true
	}
	if hypo(&st.ignored) {
		out = append(out, ReasonNestedMembershipIgnored)
	}
	if hypo(&st.unresolved) {
		out = append(out, ReasonDirectGroupsUnresolved)
	}
	if st.overage {
		out = append(out, ReasonOverageUnresolved)
	}
	switch {
	case i < 0:
		out = append(out, ReasonNoMatchingRole)
	case f.kind == failCond:
		r := ReasonConditionFailed
		if dr := st.e.conds[f.cond].DenyReason; dr != "" {
			r = Reason(dr)
		}
		out = append(out, r)
	case f.kind == failScope:
		out = append(out, ReasonDAGNotInScope)
	case f.kind == failNotGlobal:
		out = append(out, ReasonAllDAGsRequired)
	default:
		out = append(out, ReasonPermissionMissing)
	}
	return out
}
