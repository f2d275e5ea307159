package authz

import (
	"context"
	"fmt"
	"strings"

	"github.com/airgate/airgate/internal/authz/policy"
	"github.com/airgate/airgate/internal/catalog"
)

// StepKind says what a [Step] of an explanation is about.
type StepKind string

// Step kinds, in the order an explanation lists them.
const (
	StepRequest     StepKind = "request"
	StepPrincipal   StepKind = "principal"
	StepMapping     StepKind = "mapping"
	StepRole        StepKind = "role"
	StepCondition   StepKind = "condition"
	StepRequirement StepKind = "requirement"
	StepGrant       StepKind = "grant"
	StepHint        StepKind = "hint"
	StepFilter      StepKind = "filter"
	StepDecision    StepKind = "decision"
)

// Step is one line of an explanation: what was considered (Subject), what
// came of it (Outcome) and why (Detail). Depth nests grants under their
// requirement.
type Step struct {
	Kind    StepKind `json:"kind"`
	Subject string   `json:"subject"`
	Outcome string   `json:"outcome"`
	Detail  string   `json:"detail,omitempty"`
	Depth   int      `json:"depth,omitempty"`
}

// Explanation is a decision with the trace that led to it.
type Explanation struct {
	Decision Decision `json:"decision"`
	Steps    []Step   `json:"steps"`
}

// Text renders the explanation, one step per line.
func (x *Explanation) Text() string {
	var b strings.Builder
	for _, s := range x.Steps {
		b.WriteString(strings.Repeat("  ", s.Depth))
		fmt.Fprintf(&b, "%s %s: %s", s.Kind, s.Subject, s.Outcome)
		if s.Detail != "" {
			fmt.Fprintf(&b, " (%s)", s.Detail)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// tracer collects steps while a decision is explained.
type tracer struct {
	steps   []Step
	dialect policy.Dialect // of the requirement being checked
}

func (t *tracer) add(kind StepKind, subject, outcome, detail string, depth int) {
	t.steps = append(t.steps, Step{Kind: kind, Subject: subject, Outcome: outcome, Detail: detail, Depth: depth})
}

func (t *tracer) grant(e *Engine, a *atom, gi int, outcome string) {
	g := e.grants[gi]
	var details []string
	if a.label != g.g.Permission.String() {
		details = append(details, "as "+a.label)
	}
	for _, s := range g.g.Scopes {
		details = append(details, "on "+s.String())
	}
	details = append(details, "from "+g.g.Field)
	t.add(StepGrant, g.label, outcome, strings.Join(details, "; "), 2)
}

// Explain decides the request as [Engine.Decide] does and records every
// step: each mapping (matched, ignored because only nested membership
// matched, unresolved, or not matched), each held role and condition,
// each requirement with the grant that held it or why none did, the list
// filter and the decision. Unlike Decide it checks every requirement and
// evaluates every condition of the held roles, and it allocates freely: it
// is for `airgate explain` and the admin page, not the request path. An
// error is returned with the steps recorded so far.
func (e *Engine) Explain(ctx context.Context, in Input) (*Explanation, error) {
	d, err := e.Decide(ctx, in)
	x := &Explanation{Decision: d}
	t := &tracer{}
	defer func() { x.Steps = t.steps }()

	cls := in.Request
	subject := strings.TrimSpace(in.Method + " " + in.Path)
	if subject == "" {
		subject = "(request)"
	}
	switch {
	case cls == nil:
		t.add(StepRequest, subject, "not classified", "", 0)
	case !cls.Known():
		t.add(StepRequest, subject, "unknown operation", string(cls.Reason), 0)
	default:
		detail := "auth " + string(cls.Op.Auth)
		if cls.DAGID != "" {
			detail += "; DAG " + cls.DAGID
		}
		if cls.Scope != "" && cls.Scope != catalog.ScopeNone {
			detail += "; scope " + string(cls.Scope)
		}
		t.add(StepRequest, subject, string(cls.API)+" "+cls.Op.ID, detail, 0)
	}
	if cls == nil || !cls.Known() || cls.Op.Auth != catalog.AuthRequired || in.Principal == nil {
		e.explainDecision(t, &d)
		return x, err
	}

	st := evalState{e: e, ctx: ctx, in: in, cls: cls}
	st.mapRoles()
	e.explainPrincipal(t, &st.in)
	e.explainMappings(t, &st)
	e.explainRoles(t, &st)
	if cerr := e.explainConditions(t, &st); cerr != nil {
		return x, cerr
	}

	plan := e.planFor(cls.Op)
	st.trace = t
	t.dialect = dialectOf(cls.Op.API)
	for i := range plan.reqs {
		rp := &plan.reqs[i]
		n, skip := needFor(rp.perm, cls)
		subj := requirementText(n.requirement(rp.perm.Resource, rp.perm.Action))
		if skip {
			t.add(StepRequirement, rp.perm.Action+" on "+rp.perm.Resource, "not checked", "Airflow skips it when the request names no DAG", 1)
			continue
		}
		at := len(t.steps)
		t.add(StepRequirement, subj, "", "", 1)
		_, ok, f := st.holdsReq(rp, n, &st.held, false, nil)
		if st.err != nil {
			return x, st.err
		}
		if ok {
			t.steps[at].Outcome = "held"
			continue
		}
		t.steps[at].Outcome = "missing"
		t.steps[at].Detail = strings.Join(reasonStrings(st.denyReasons(plan, i, n, f)), ", ")
		if others := e.grantingRoles(rp, &st.held); len(others) > 0 {
			t.add(StepHint, "roles not held", "would grant it", strings.Join(others, ", "), 2)
		}
	}
	st.trace = nil
	if d.DAGs.Active() {
		t.add(StepFilter, "list responses", d.DAGs.String(), "", 1)
	}
	e.explainDecision(t, &d)
	return x, err
}

// requirementText reads "can_create on DAG Runs for DAG team_b_daily";
// "for every DAG" only for per-DAG resources.
func requirementText(r catalog.Requirement) string {
	s := r.Action + " on " + r.Resource
	switch {
	case r.DAGID != "":
		return s + " for DAG " + r.DAGID
	case r.AnyDAG:
		return s + " for any DAG"
	case policy.IsDAGScoped(policy.FAB, r.Resource) || policy.IsDAGScoped(policy.Entity, r.Resource):
		return s + " for every DAG"
	}
	return s
}

func reasonStrings(rs []Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

func (e *Engine) explainPrincipal(t *tracer, in *Input) {
	p := in.Principal
	var details []string
	if p.GroupsOverage {
		details = append(details, "groups in token: overage")
	} else {
		details = append(details, fmt.Sprintf("groups in token: %d", len(p.Groups)))
	}
	if in.TransitiveGroupsKnown {
		details = append(details, fmt.Sprintf("transitive groups: %d", len(in.TransitiveGroups)))
	}
	if in.DirectGroupsKnown {
		details = append(details, fmt.Sprintf("direct groups: %d", len(in.DirectGroups)))
	} else {
		details = append(details, "direct groups: not resolved")
	}
	if len(p.AppRoles) > 0 {
		details = append(details, "app roles "+strings.Join(p.AppRoles, ", "))
	}
	if len(p.AMR) > 0 {
		details = append(details, "amr "+strings.Join(p.AMR, ", "))
	}
	t.add(StepPrincipal, p.Name(), string(p.Kind), strings.Join(details, "; "), 0)
}

func (e *Engine) explainMappings(t *tracer, st *evalState) {
	for mi, m := range e.pol.Mappings() {
		subject := m.Label() + " " + m.Subject()
		roles := "roles " + strings.Join(m.Roles, ", ")
		switch {
		case st.matched.has(mi) && m.AppRole != "":
			t.add(StepMapping, subject, "matched", "the token holds the app role; "+roles, 0)
		case st.matched.has(mi) && st.in.DirectGroupsKnown && containsFold(st.in.DirectGroups, m.Group):
			t.add(StepMapping, subject, "matched", "direct member; "+roles, 0)
		case st.matched.has(mi):
			t.add(StepMapping, subject, "matched", "member through nesting, which the mapping allows; "+roles, 0)
		case st.ignored.has(mi):
			t.add(StepMapping, subject, "ignored", "member only through a nested group, and the mapping counts direct members (nested: false)", 0)
		case st.unresolved.has(mi):
			t.add(StepMapping, subject, "unresolved", "the token lists the group but direct memberships were not resolved", 0)
		case st.overage && m.AppRole == "":
			t.add(StepMapping, subject, "unresolved", "groups overage: memberships were not resolved", 0)
		default:
			t.add(StepMapping, subject, "not matched", "", 0)
		}
	}
}

func (e *Engine) explainRoles(t *tracer, st *evalState) {
	if st.held.empty() {
		t.add(StepRole, "(none)", "no role held", "", 0)
		return
	}
	st.held.each(func(ri int) bool {
		r := e.roles[ri]
		var via []string
		for mi, ref := range e.refs {
			if st.matched.has(mi) && containsInt(ref.roles, ri) {
				via = append(via, e.pol.Mappings()[mi].Label())
			}
		}
		detail := "via " + strings.Join(via, ", ")
		if len(r.Extends) > 0 {
			detail += "; extends " + strings.Join(r.Extends, ", ")
		}
		if !r.Selector.All() {
			detail += "; selects " + r.Selector.String()
		}
		t.add(StepRole, r.Name, "held", detail, 0)
		return true
	})
}

// explainConditions evaluates every condition the held roles' grants
// carry, in policy order, recording the results for the requirement checks.
func (e *Engine) explainConditions(t *tracer, st *evalState) error {
	var used bitset
	for _, g := range e.grants {
		if st.held.has(g.role) {
			for _, c := range g.conds {
				used.set(c)
			}
		}
	}
	var err error
	used.each(func(ci int) bool {
		c := e.conds[ci]
		g := grant{conds: []int{ci}}
		_, ok := st.condsHold(&g)
		if st.err != nil {
			t.add(StepCondition, c.Field, "error", st.err.Error(), 0)
			err = st.err
			return false
		}
		detail := c.Expr
		if !ok && c.DenyReason != "" {
			detail += "; denies with " + c.DenyReason
		}
		t.add(StepCondition, c.Field, fmt.Sprint(ok), detail, 0)
		return true
	})
	return err
}

// grantingRoles names the roles not held whose grants cover the
// requirement directly or through its translation, for "why not" hints.
func (e *Engine) grantingRoles(rp *reqPlan, held *bitset) []string {
	var roles bitset
	add := func(a *atom) {
		for _, gi := range a.grants {
			if ri := e.grants[gi].role; !held.has(ri) {
				roles.set(ri)
			}
		}
	}
	add(rp.direct)
	if len(rp.alt) == 1 {
		for _, a := range rp.alt[0].atoms {
			add(a)
		}
	}
	var names []string
	roles.each(func(ri int) bool {
		names = append(names, e.roles[ri].Name)
		return true
	})
	return names
}

func (e *Engine) explainDecision(t *tracer, d *Decision) {
	outcome := "deny"
	if d.Allow {
		outcome = "allow"
	}
	detail := strings.Join(reasonStrings(d.Reasons), ", ")
	if d.Missing != nil {
		detail += "; missing " + requirementText(*d.Missing)
	}
	t.add(StepDecision, "verdict", outcome, detail, 0)
}

func containsInt(list []int, i int) bool {
	for _, x := range list {
		if x == i {
			return true
		}
	}
	return false
}
