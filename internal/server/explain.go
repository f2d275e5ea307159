package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/airgate/airgate/internal/authn"
	"github.com/airgate/airgate/internal/authz"
	"github.com/airgate/airgate/internal/catalog"
	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/identity"
	"github.com/airgate/airgate/internal/secrets"
)

// ExplainRequest is one request to explain: who (a raw token, or a
// principal given directly) and what.
type ExplainRequest struct {
	// Token, when set, is verified exactly as the gateway verifies bearer
	// tokens, and memberships are read from Microsoft Graph as the gateway
	// reads them.
	Token string
	// Principal is used when Token is empty. DirectGroups, when known,
	// are the principal's direct memberships; Principal.Groups are the
	// transitive ones.
	Principal         *identity.Principal
	DirectGroups      []string
	DirectGroupsKnown bool

	Method, Target string // Target is the raw path with an optional query
	SourceIP       netip.Addr
	Time           time.Time
}

// Explanation is the answer: the classification and the decision's trace.
type Explanation struct {
	Class catalog.Classification
	*authz.Explanation
	// AuthError is set when the token was rejected: the request would get
	// 401 before any decision.
	AuthError error
}

// Explain answers "why" for one request under cfg's policy, with the same
// verification, membership lookups and DAG metadata as the running gateway.
func Explain(ctx context.Context, cfg *config.Config, req ExplainRequest) (*Explanation, error) {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil)), metrics: newMetrics()}
	keys, err := secrets.Open(secrets.FileStore{Path: cfg.Path(cfg.Keys.File)}, secrets.Options{})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.keys = keys
	rt, err := s.build(cfg, Options{Now: time.Now})
	if err != nil {
		return nil, err
	}
	defer rt.close()
	path, query, ok := splitRequestURI(req.Target)
	if !ok {
		return nil, fmt.Errorf("server: %q is not a request path", req.Target)
	}
	out := &Explanation{Class: rt.cat.Classify(req.Method, path, query)}
	in := authz.Input{
		Principal:         req.Principal,
		DirectGroups:      req.DirectGroups,
		DirectGroupsKnown: req.DirectGroupsKnown,
		Request:           &out.Class,
		Method:            req.Method,
		Path:              path,
		SourceIP:          req.SourceIP,
		Time:              req.Time,
		DAGs:              dagSource{rt.dags},
	}
	if req.Token != "" {
		p, err := rt.verifier.Verify(ctx, req.Token)
		if err != nil {
			if authn.CodeOf(err) == "" {
				return nil, err
			}
			out.AuthError = err
			return out, nil
		}
		in.Principal = p
		if err := rt.memberships(ctx, p, &in); err != nil {
			return nil, fmt.Errorf("server: reading memberships: %w", err)
		}
	}
	x, err := rt.engine.Explain(ctx, in)
	if err != nil {
		return nil, err
	}
	out.Explanation = x
	return out, nil
}
