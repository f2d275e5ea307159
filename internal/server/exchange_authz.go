package server

import (
	"context"
	"net/netip"

	"github.com/airgate/airgate/internal/authz"
	"github.com/airgate/airgate/internal/catalog"
	"github.com/airgate/airgate/internal/identity"
	"github.com/airgate/airgate/internal/tokens"
)

// decideExchanged decides a request made with an exchanged token: the
// token's scope must cover it (scope-not-granted otherwise), the policy
// must allow it for the subject as an agent (principal.kind "agent", with
// the subject's groups, app roles and memberships), and, when the token
// has an actor, for the actor too (actor-denied first among the reasons
// otherwise). in is the request's decision input.
func (rt *runtime) decideExchanged(ctx context.Context, p *identity.Principal, in authz.Input) (authz.Decision, error) {
	scope, err := tokens.ParseScopeList(p.Exchange.Scope)
	if err != nil || !scope.Allows(in.Request) {
		return authz.Decision{Reasons: []authz.Reason{ReasonScopeNotGranted}}, nil
	}
	d, err := rt.decideAs(ctx, p, in)
	if err != nil || !d.Allow {
		return d, err
	}
	if a := p.Exchange.Actor; a != nil {
		da, err := rt.decideAs(ctx, a, in)
		if err != nil {
			return authz.Decision{}, err
		}
		if !da.Allow {
			da.Reasons = append([]authz.Reason{"actor-denied"}, da.Reasons...)
			return da, nil
		}
	}
	return d, nil
}

// decideAs decides in for principal p, resolving the group memberships
// the decision needs. An agent's memberships are those of its subject,
// looked up as the user or app it is.
func (rt *runtime) decideAs(ctx context.Context, p *identity.Principal, in authz.Input) (authz.Decision, error) {
	in.Principal = p
	in.DirectGroups, in.DirectGroupsKnown = nil, false
	in.TransitiveGroups, in.TransitiveGroupsKnown = nil, false
	who := p
	if p.Kind == identity.Agent {
		c := *p
		c.Kind = tokens.SubjectKind(p)
		who = &c
	}
	if err := rt.memberships(ctx, who, &in); err != nil {
		return authz.Decision{}, err
	}
	return rt.engine.Decide(ctx, in)
}

// exchangeAuthorizer lets the exchange decide representative operations
// with the runtime's policy, as requests will be decided.
type exchangeAuthorizer struct{ rt *runtime }

func (a exchangeAuthorizer) Decide(ctx context.Context, p *identity.Principal, req *catalog.Classification) (authz.Decision, error) {
	ip, _ := ctx.Value(exchangeIPKey{}).(netip.Addr)
	return a.rt.decideAs(ctx, p, authz.Input{
		Request:  req,
		SourceIP: ip,
		Time:     a.rt.now(),
		DAGs:     dagSource{a.rt.dags},
	})
}

// exchangeIPKey carries the exchange request's client address to the
// decisions made for it, so that source-IP conditions hold as they will
// for requests from the same place.
type exchangeIPKey struct{}

var _ tokens.Authorizer = exchangeAuthorizer{}
