package tokens

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/airgate/airgate/internal/authz"
	"github.com/airgate/airgate/internal/catalog"
	"github.com/airgate/airgate/internal/identity"
)

// Authorizer decides, under the current policy, whether a principal may
// perform a classified request. The server implements it with the
// decision engine and the group memberships the decision needs. A non-nil
// error means no decision could be made.
type Authorizer interface {
	Decide(ctx context.Context, p *identity.Principal, req *catalog.Classification) (authz.Decision, error)
}

// DAGSource tells the exchange which DAGs Airflow has and their schedules,
// as Airflow's REST API reports them (see [ParseSchedule]).
type DAGSource interface {
	// DAGs returns every DAG by id with its schedule.
	DAGs(ctx context.Context) (map[string]json.RawMessage, error)
	// DAG returns one DAG's schedule; ok is false when Airflow has no such
	// DAG. It may refresh what DAGs returns.
	DAG(ctx context.Context, id string) (schedule json.RawMessage, ok bool, err error)
}

// UsedTokens records subject tokens that were exchanged, so that each is
// exchanged once. The state store implements it.
type UsedTokens interface {
	// MarkUsed records the token hash until expires and reports whether
	// it was new. An error means the check could not run.
	MarkUsed(ctx context.Context, hash string, expires time.Time) (bool, error)
}

// ExchangeOptions configure an [Exchanger].
type ExchangeOptions struct {
	// Issuer is airgate's issuer URL, the iss of every token. Required.
	Issuer string
	// Audiences are the audiences a token may be issued for; the first is
	// the default. Required.
	Audiences []string
	// MaxTTL bounds every token's lifetime. Required.
	MaxTTL time.Duration
	// ScheduleGrace is added to the shortest schedule interval of the
	// scheduled DAGs a scope names.
	ScheduleGrace time.Duration
	// API is the Airflow API the gateway serves (catalog.V1 for Airflow
	// 2, catalog.V2 for Airflow 3): representative operations are decided
	// in it.
	API catalog.API
	// Catalog classifies representative operations; default
	// catalog.Default().
	Catalog *catalog.Catalog
	// Keys signs the tokens (ES256). Required.
	Keys KeySource
	// Authorizer decides representative operations. Required.
	Authorizer Authorizer
	// DAGs lists Airflow's DAGs and schedules. Required.
	DAGs DAGSource
	// Used makes subject tokens single-use when set.
	Used UsedTokens
	// Limiter bounds exchanges per subject when set.
	Limiter *Limiter
	// AllowedActors, when not empty, lists the app ids that may act for a
	// subject (actor_token).
	AllowedActors []string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Exchanger is the transport-neutral logic of the RFC 8693 exchange: it
// narrows a verified Entra identity to a scope the policy grants it now,
// fits the lifetime to the DAGs' schedules and signs the token. It is safe
// for concurrent use.
type Exchanger struct {
	o ExchangeOptions
}

// NewExchanger checks o and returns an Exchanger.
func NewExchanger(o ExchangeOptions) (*Exchanger, error) {
	switch {
	case o.Issuer == "":
		return nil, errors.New("tokens: exchange issuer is required")
	case len(o.Audiences) == 0:
		return nil, errors.New("tokens: exchange audiences are required")
	case o.MaxTTL <= 0:
		return nil, errors.New("tokens: exchange max TTL must be positive")
	case o.Keys == nil || o.Authorizer == nil || o.DAGs == nil:
		return nil, errors.New("tokens: exchange keys, authorizer and DAG source are required")
	case o.API != catalog.V1 && o.API != catalog.V2:
		return nil, fmt.Errorf("tokens: exchange API %q is not v1 or v2", o.API)
	}
	if o.Catalog == nil {
		o.Catalog = catalog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Exchanger{o: o}, nil
}

// Issuer returns the issuer URL.
func (x *Exchanger) Issuer() string { return x.o.Issuer }

// ErrorCode is an OAuth 2.0 error code (RFC 6749 §5.2, RFC 8693 §2.2.2).
type ErrorCode string

// Error codes of the token endpoint.
const (
	ErrInvalidRequest       ErrorCode = "invalid_request"
	ErrInvalidClient        ErrorCode = "invalid_client"
	ErrInvalidGrant         ErrorCode = "invalid_grant"
	ErrUnauthorizedClient   ErrorCode = "unauthorized_client"
	ErrUnsupportedGrantType ErrorCode = "unsupported_grant_type"
	ErrInvalidScope         ErrorCode = "invalid_scope"
	ErrInvalidTarget        ErrorCode = "invalid_target"
	// ErrTemporarilyUnavailable answers rate-limited exchanges (with
	// RetryAfter) and checks that could not run.
	ErrTemporarilyUnavailable ErrorCode = "temporarily_unavailable"
)

// Error is a refused exchange. Description is safe to show the client: it
// never contains a token or an unverified claim.
type Error struct {
	Code        ErrorCode
	Description string
	// Reasons are machine-readable codes for the audit record, e.g.
	// "scope-not-held", "dag-not-in-scope".
	Reasons []string
	// RetryAfter is set for rate-limited requests.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return "tokens: " + string(e.Code) + ": " + e.Description }

func refuse(code ErrorCode, reasons []string, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...), Reasons: reasons}
}

// ExchangeRequest is one verified exchange request.
type ExchangeRequest struct {
	// Subject is the principal of the verified subject token. Required.
	Subject *identity.Principal
	// SubjectTokenHash identifies the subject token for single use (hex
	// SHA-256 of the raw token).
	SubjectTokenHash string
	// Actor is the principal of the verified actor token, if any.
	Actor *identity.Principal
	// ClientID is the client that authenticated with client credentials,
	// if any.
	ClientID string
	// Scope is the requested scope as sent.
	Scope string
	// Audience is the requested audience; empty means the default.
	Audience string
	// RequestedTTL is the lifetime asked for; zero means the maximum.
	RequestedTTL time.Duration
	// RequestedTokenType is requested_token_type; empty means JWT.
	RequestedTokenType string
}

// Grant is a successful exchange.
type Grant struct {
	// Token is the signed JWT. It MUST NOT be logged.
	Token string
	// IssuedTokenType is TokenTypeJWT or TokenTypeAccessToken, as asked.
	IssuedTokenType string
	// ID is the token's jti.
	ID string
	// Scope is the granted scope.
	Scope Scope
	// Audience is the token's aud.
	Audience string
	IssuedAt time.Time
	Expiry   time.Time
	// Lifetime says what bounded the lifetime: "max", "requested",
	// "subject-token", or "schedule:<dag id>".
	Lifetime string
	// Principal is the principal the token proves.
	Principal *identity.Principal
}

// ExpiresIn is the token's lifetime in whole seconds.
func (g *Grant) ExpiresIn() int64 { return int64(g.Expiry.Sub(g.IssuedAt) / time.Second) }

// Exchange checks a verified request and returns a grant, or an *Error
// for a refusal. Other errors mean a check could not run (Airflow or the
// state store unreachable, a decision failed): the caller answers 503 and
// issues nothing.
//
// The checks, in order: the actor is an app and allowed; the subject's
// rate limit; the audience; the scope parses; every DAG the scope names
// exists (globs are expanded against Airflow's DAGs) and, for each, the
// subject and the actor are both allowed the action's representative
// operations now; the subject token has not been exchanged before. The
// lifetime is the least of the maximum, the requested TTL, the subject
// token's remaining lifetime, and the shortest schedule interval of the
// scheduled DAGs named plus the grace.
func (x *Exchanger) Exchange(ctx context.Context, req ExchangeRequest) (*Grant, error) {
	now := x.o.Now()
	sub, act := req.Subject, req.Actor
	if sub == nil {
		return nil, refuse(ErrInvalidRequest, []string{"no-subject"}, "subject_token is required")
	}
	if sub.Kind != identity.User && sub.Kind != identity.App {
		return nil, refuse(ErrInvalidGrant, []string{"subject-not-entra"}, "the subject token must be a Microsoft Entra ID access token")
	}
	if act != nil {
		if act.Kind != identity.App {
			return nil, refuse(ErrInvalidGrant, []string{"actor-not-app"}, "the actor token must be an app-only Microsoft Entra ID token (client credentials, managed or federated identity)")
		}
		if len(x.o.AllowedActors) > 0 && !containsFold(x.o.AllowedActors, act.AppID) {
			return nil, refuse(ErrUnauthorizedClient, []string{"actor-not-allowed"}, "the actor application %s may not act for subjects here", act.AppID)
		}
	}
	if x.o.Limiter != nil {
		if ok, wait := x.o.Limiter.Allow(sub.TenantID+"/"+sub.ObjectID, now); !ok {
			e := refuse(ErrTemporarilyUnavailable, []string{"rate-limited"}, "too many exchanges for this subject; retry after %s", wait.Round(time.Second))
			e.RetryAfter = wait
			return nil, e
		}
	}
	aud := req.Audience
	if aud == "" {
		aud = x.o.Audiences[0]
	}
	if !slices.Contains(x.o.Audiences, aud) {
		return nil, refuse(ErrInvalidTarget, []string{"audience-unknown"}, "audience %q is not served here (want one of %s)", truncate(aud, 100), strings.Join(x.o.Audiences, ", "))
	}
	issued := TokenTypeJWT
	switch req.RequestedTokenType {
	case "", TokenTypeJWT:
	case TokenTypeAccessToken:
		issued = TokenTypeAccessToken
	default:
		return nil, refuse(ErrInvalidRequest, []string{"token-type-unsupported"}, "requested_token_type must be %s or %s", TokenTypeJWT, TokenTypeAccessToken)
	}
	if req.RequestedTTL < 0 {
		return nil, refuse(ErrInvalidRequest, []string{"bad-ttl"}, "requested_ttl must be positive")
	}
	scope, err := ParseScope(req.Scope)
	if err != nil {
		return nil, refuse(ErrInvalidScope, []string{"scope-malformed"}, "%s", strings.TrimPrefix(err.Error(), "tokens: "))
	}

	claims := &Claims{
		Issuer:   x.o.Issuer,
		Audience: aud,
		Subject:  sub.ObjectID,
		Scope:    scope.String(),
		ClientID: req.ClientID,
		ID:       newJTI(),
		Party:    PartyOf(sub),
	}
	if act != nil {
		claims.Actor = &Actor{Subject: act.ObjectID, Party: PartyOf(act)}
	}
	// The principals the token will prove, as the gateway will rebuild
	// them: the decisions now are the decisions later.
	agent := claims.Principal("")

	dagSchedules, err := x.narrow(ctx, scope, agent)
	if err != nil {
		return nil, err
	}

	ttl, why := x.o.MaxTTL, "max"
	if req.RequestedTTL > 0 && req.RequestedTTL < ttl {
		ttl, why = req.RequestedTTL, "requested"
	}
	if d, dag := shortestSchedule(dagSchedules); dag != "" && d+x.o.ScheduleGrace < ttl {
		ttl, why = d+x.o.ScheduleGrace, "schedule:"+dag
	}
	if rest := sub.Expiry.Sub(now); rest < ttl {
		ttl, why = rest, "subject-token"
	}
	if ttl < time.Second {
		return nil, refuse(ErrInvalidGrant, []string{"subject-token-expiring"}, "the subject token expires too soon to be exchanged")
	}

	if x.o.Used != nil {
		if req.SubjectTokenHash == "" {
			return nil, errors.New("tokens: no subject token hash for the single-use check")
		}
		fresh, err := x.o.Used.MarkUsed(ctx, req.SubjectTokenHash, sub.Expiry)
		if err != nil {
			return nil, fmt.Errorf("tokens: recording the subject token: %w", err)
		}
		if !fresh {
			return nil, refuse(ErrInvalidGrant, []string{"subject-token-replayed"}, "the subject token was already exchanged; each Entra token can be exchanged once: get a fresh one")
		}
	}

	iat := now.Truncate(time.Second)
	exp := iat.Add(ttl.Truncate(time.Second))
	claims.IssuedAt, claims.NotBefore, claims.Expiry = iat.Unix(), iat.Unix(), exp.Unix()
	tok, err := x.sign(claims)
	if err != nil {
		return nil, err
	}
	return &Grant{
		Token:           tok,
		IssuedTokenType: issued,
		ID:              claims.ID,
		Scope:           scope,
		Audience:        aud,
		IssuedAt:        iat,
		Expiry:          exp,
		Lifetime:        why,
		Principal:       claims.Principal(""),
	}, nil
}

// narrow checks that the subject (and actor) hold every scope item on
// every DAG it names, and returns the schedules of those DAGs.
func (x *Exchanger) narrow(ctx context.Context, scope Scope, agent *identity.Principal) (map[string]json.RawMessage, error) {
	named := map[string]json.RawMessage{}
	var all map[string]json.RawMessage
	for _, it := range scope {
		var ids []string
		if it.IsGlob() {
			if all == nil {
				var err error
				if all, err = x.o.DAGs.DAGs(ctx); err != nil {
					return nil, fmt.Errorf("tokens: listing DAGs: %w", err)
				}
			}
			for id, s := range all {
				if it.Matches(id) {
					ids = append(ids, id)
					named[id] = s
				}
			}
			if len(ids) == 0 {
				return nil, refuse(ErrInvalidScope, []string{"scope-matches-no-dag"}, "scope %s matches no DAG in Airflow", it)
			}
			sort.Strings(ids)
		} else {
			s, ok, err := x.o.DAGs.DAG(ctx, it.DAG)
			if err != nil {
				return nil, fmt.Errorf("tokens: looking up DAG: %w", err)
			}
			if !ok {
				return nil, refuse(ErrInvalidScope, []string{"scope-dag-unknown"}, "scope %s names a DAG Airflow does not have", it)
			}
			ids = []string{it.DAG}
			named[it.DAG] = s
		}
		for _, id := range ids {
			if err := x.holds(ctx, it, id, agent); err != nil {
				return nil, err
			}
		}
	}
	return named, nil
}

// holds decides the representative operations of one scope item on one DAG
// for the subject, then the actor.
func (x *Exchanger) holds(ctx context.Context, it ScopeItem, dagID string, agent *identity.Principal) error {
	for _, opID := range RepresentativeOperations(it.Action, x.o.API) {
		op, ok := x.o.Catalog.Lookup(x.o.API, opID)
		if !ok {
			return fmt.Errorf("tokens: catalogue has no operation %s %s", x.o.API, opID)
		}
		cls := probe(x.o.Catalog, op, dagID)
		if !cls.Known() || cls.Op != op {
			return fmt.Errorf("tokens: probing %s %s for DAG %s classified as %v", x.o.API, opID, dagID, cls.Reason)
		}
		who := []struct {
			role string
			p    *identity.Principal
		}{{"subject", agent}}
		if a := agent.Exchange.Actor; a != nil {
			who = append(who, struct {
				role string
				p    *identity.Principal
			}{"actor", a})
		}
		for _, w := range who {
			d, err := x.o.Authorizer.Decide(ctx, w.p, &cls)
			if err != nil {
				return fmt.Errorf("tokens: deciding %s for the %s: %w", opID, w.role, err)
			}
			if !d.Allow {
				reasons := []string{"scope-not-held", w.role + "-denied"}
				for _, r := range d.Reasons {
					reasons = append(reasons, string(r))
				}
				why := ""
				if len(d.Reasons) > 0 {
					why = " (" + string(d.Reasons[0]) + ")"
				}
				return refuse(ErrInvalidScope, reasons, "scope %s is not held: the %s may not %s DAG %s%s", it, w.role, actionVerb(it.Action), dagID, why)
			}
		}
	}
	return nil
}

func actionVerb(a Action) string {
	if a == ActionEdit {
		return "edit"
	}
	return string(a)
}

// shortestSchedule returns the shortest interval among the scheduled DAGs
// and the DAG that has it, or "" when none is scheduled. Schedules that do
// not parse count as unscheduled.
func shortestSchedule(dags map[string]json.RawMessage) (time.Duration, string) {
	ids := make([]string, 0, len(dags))
	for id := range dags {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var best time.Duration
	bestID := ""
	for _, id := range ids {
		s, err := ParseSchedule(dags[id])
		if err != nil || !s.Scheduled {
			continue
		}
		if bestID == "" || s.Interval < best {
			best, bestID = s.Interval, id
		}
	}
	return best, bestID
}

// sign serialises claims as a compact JWS with the kid and typ at+jwt.
func (x *Exchanger) sign(c *Claims) (string, error) {
	kid, alg, key, err := x.o.Keys.SigningKey()
	if err != nil {
		return "", fmt.Errorf("tokens: %w", err)
	}
	return signTyped(kid, alg, key, JWTType, c)
}

func signTyped(kid, alg string, key crypto.Signer, typ string, claims any) (string, error) {
	if alg != string(jose.ES256) {
		return "", fmt.Errorf("tokens: exchanged tokens are signed with ES256, the key is %s", alg)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		return "", fmt.Errorf("tokens: signer: %w", err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("tokens: encoding claims: %w", err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("tokens: signing: %w", err)
	}
	return jws.CompactSerialize()
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
