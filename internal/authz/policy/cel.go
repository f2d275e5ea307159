package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // time windows work where the system has no zone database

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// Condition is a role's compiled CEL condition (`when`). It is immutable and
// safe for concurrent use.
//
// The CEL environment has these variables:
//
//	principal.kind, .tenant, .oid, .upn, .app_id, .name, .acr   string
//	principal.groups, .app_roles, .amr, .scopes                  list(string)
//	request.method, .path, .api, .operation, .dag_id, .source_ip string
//	now                                                          timestamp
//
// and, besides CEL's standard library (timestamp accessors such as
// now.getHours("Europe/Berlin") and now.getDayOfWeek("Europe/Berlin")
// included), these functions:
//
//	ip_in(ip string, cidrs list(string)) bool
//	    whether ip lies in any of the CIDR ranges (a bare address is a /32
//	    or /128); an empty or malformed ip is in none.
//	in_hours(t timestamp, tz string, from string, to string) bool
//	    whether t's local time of day in time zone tz is in [from, to),
//	    both "HH:MM"; a window with from > to wraps past midnight.
//	weekday_in(t timestamp, tz string, days list(string)) bool
//	    whether t's local weekday in tz is one of days ("Mon" .. "Sun").
//
// A condition must have type bool. Constant CIDRs, time zones, times and
// day names are checked when the policy loads.
type Condition struct {
	// Field is where the condition was declared, e.g. "roles.admin.when".
	Field string
	// Role is the role that declared it.
	Role string
	// Expr is the CEL source.
	Expr string
	// DenyReason is the reason code reported when the condition is false
	// and nothing else grants the request; empty means the default
	// (condition-failed).
	DenyReason string
	// Index numbers the policy's conditions from 0, so that evaluators can
	// keep per-request results in a slice.
	Index int

	prg cel.Program
}

// Eval evaluates the condition. An error means the condition could not be
// evaluated (a missing variable, a bad runtime value); callers MUST treat it
// as a failure to decide, not as false.
func (c *Condition) Eval(v *Vars) (bool, error) {
	out, _, err := c.prg.Eval(activation{v})
	if err != nil {
		return false, fmt.Errorf("evaluating %s: %w", c.Field, err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("evaluating %s: result is %s, not bool", c.Field, out.Type())
	}
	return bool(b), nil
}

// Vars are the values a condition sees. The zero value has empty strings,
// nil lists and the zero time.
type Vars struct {
	Principal PrincipalVars
	Request   RequestVars
	Now       time.Time
}

// PrincipalVars are the caller's attributes (CEL `principal.*`).
type PrincipalVars struct {
	Kind, Tenant, OID, UPN, AppID, Name, ACR string
	Groups, AppRoles, AMR, Scopes            []string
}

// RequestVars describe the request (CEL `request.*`).
type RequestVars struct {
	Method, Path, API, Operation, DAGID, SourceIP string
}

// celVars declares the environment's variables and their types.
var celVars = []struct {
	name string
	typ  *cel.Type
}{
	{"principal.kind", cel.StringType},
	{"principal.tenant", cel.StringType},
	{"principal.oid", cel.StringType},
	{"principal.upn", cel.StringType},
	{"principal.app_id", cel.StringType},
	{"principal.name", cel.StringType},
	{"principal.acr", cel.StringType},
	{"principal.groups", cel.ListType(cel.StringType)},
	{"principal.app_roles", cel.ListType(cel.StringType)},
	{"principal.amr", cel.ListType(cel.StringType)},
	{"principal.scopes", cel.ListType(cel.StringType)},
	{"request.method", cel.StringType},
	{"request.path", cel.StringType},
	{"request.api", cel.StringType},
	{"request.operation", cel.StringType},
	{"request.dag_id", cel.StringType},
	{"request.source_ip", cel.StringType},
	{"now", cel.TimestampType},
}

// activation resolves the environment's variables from Vars without a map.
type activation struct{ v *Vars }

// ResolveName implements interpreter.Activation.
func (a activation) ResolveName(name string) (any, bool) {
	v := a.v
	switch name {
	case "principal.kind":
		return types.String(v.Principal.Kind), true
	case "principal.tenant":
		return types.String(v.Principal.Tenant), true
	case "principal.oid":
		return types.String(v.Principal.OID), true
	case "principal.upn":
		return types.String(v.Principal.UPN), true
	case "principal.app_id":
		return types.String(v.Principal.AppID), true
	case "principal.name":
		return types.String(v.Principal.Name), true
	case "principal.acr":
		return types.String(v.Principal.ACR), true
	case "principal.groups":
		return stringList(v.Principal.Groups), true
	case "principal.app_roles":
		return stringList(v.Principal.AppRoles), true
	case "principal.amr":
		return stringList(v.Principal.AMR), true
	case "principal.scopes":
		return stringList(v.Principal.Scopes), true
	case "request.method":
		return types.String(v.Request.Method), true
	case "request.path":
		return types.String(v.Request.Path), true
	case "request.api":
		return types.String(v.Request.API), true
	case "request.operation":
		return types.String(v.Request.Operation), true
	case "request.dag_id":
		return types.String(v.Request.DAGID), true
	case "request.source_ip":
		return types.String(v.Request.SourceIP), true
	case "now":
		return types.Timestamp{Time: v.Now}, true
	}
	return nil, false
}

// Parent implements interpreter.Activation: there is none.
func (activation) Parent() interpreter.Activation { return nil }

var emptyList = types.NewStringList(types.DefaultTypeAdapter, nil)

func stringList(s []string) ref.Val {
	if len(s) == 0 {
		return emptyList
	}
	return types.NewStringList(types.DefaultTypeAdapter, s)
}

// celEnv is the environment every condition compiles in; building it is
// expensive, so it is built once.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	opts := []cel.EnvOption{
		cel.Function("ip_in",
			cel.Overload("ip_in_string_list_string",
				[]*cel.Type{cel.StringType, cel.ListType(cel.StringType)}, cel.BoolType,
				cel.BinaryBinding(celIPIn))),
		cel.Function("in_hours",
			cel.Overload("in_hours_timestamp_string_string_string",
				[]*cel.Type{cel.TimestampType, cel.StringType, cel.StringType, cel.StringType}, cel.BoolType,
				cel.FunctionBinding(celInHours))),
		cel.Function("weekday_in",
			cel.Overload("weekday_in_timestamp_string_list_string",
				[]*cel.Type{cel.TimestampType, cel.StringType, cel.ListType(cel.StringType)}, cel.BoolType,
				cel.FunctionBinding(celWeekdayIn))),
	}
	for _, v := range celVars {
		opts = append(opts, cel.Variable(v.name, v.typ))
	}
	return cel.NewEnv(opts...)
})

// compileCondition parses, type-checks and plans a condition; problems are
// added to errs and nil returned.
func compileCondition(field, role, expr, denyReason string, errs *problems) *Condition {
	env, err := celEnv()
	if err != nil {
		errs.add(field, expr, fmt.Errorf("%w: CEL environment: %v", ErrCondition, err))
		return nil
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		var msgs []string
		for _, e := range iss.Errors() {
			loc := e.Location
			msgs = append(msgs, fmt.Sprintf("%d:%d: %s", loc.Line(), loc.Column()+1, e.Message))
		}
		errs.add(field, expr, fmt.Errorf("%w: %s", ErrCondition, strings.Join(msgs, "; ")))
		return nil
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) {
		errs.add(field, expr, fmt.Errorf("%w: has type %s, want bool", ErrCondition, t))
		return nil
	}
	if err := checkConstants(ast.NativeRep()); err != nil {
		errs.add(field, expr, fmt.Errorf("%w: %v", ErrCondition, err))
		return nil
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		errs.add(field, expr, fmt.Errorf("%w: %v", ErrCondition, err))
		return nil
	}
	return &Condition{Field: field, Role: role, Expr: expr, DenyReason: denyReason, prg: prg}
}

// timestampTZFuncs are the standard timestamp accessors that take a time
// zone argument.
var timestampTZFuncs = map[string]bool{
	"getFullYear": true, "getMonth": true, "getDayOfYear": true, "getDayOfMonth": true,
	"getDate": true, "getDayOfWeek": true, "getHours": true, "getMinutes": true,
	"getSeconds": true, "getMilliseconds": true,
}

// checkConstants checks the constant arguments of airgate's functions and
// of the timestamp accessors: CIDRs, time zones, times of day and weekdays,
// so that a typo fails at load time, not on a request.
func checkConstants(a *celast.AST) error {
	var errs []error
	constString := func(e celast.Expr) (string, bool) {
		if e.Kind() != celast.LiteralKind {
			return "", false
		}
		s, ok := e.AsLiteral().(types.String)
		return string(s), ok
	}
	constStrings := func(e celast.Expr, check func(string) error) {
		if e.Kind() != celast.ListKind {
			return
		}
		for _, el := range e.AsList().Elements() {
			if s, ok := constString(el); ok {
				if err := check(s); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	checkOne := func(e celast.Expr, check func(string) error) {
		if s, ok := constString(e); ok {
			if err := check(s); err != nil {
				errs = append(errs, err)
			}
		}
	}
	celast.PreOrderVisit(a.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() != celast.CallKind {
			return
		}
		call := e.AsCall()
		args := call.Args()
		switch name := call.FunctionName(); {
		case name == "ip_in" && len(args) == 2:
			checkOne(args[0], func(s string) error { _, err := parseAddr(s); return err })
			constStrings(args[1], func(s string) error { _, err := parsePrefix(s); return err })
		case name == "in_hours" && len(args) == 4:
			checkOne(args[1], func(s string) error { _, err := location(s); return err })
			checkOne(args[2], func(s string) error { _, err := parseClock(s); return err })
			checkOne(args[3], func(s string) error { _, err := parseClock(s); return err })
		case name == "weekday_in" && len(args) == 3:
			checkOne(args[1], func(s string) error { _, err := location(s); return err })
			constStrings(args[2], func(s string) error { _, err := parseWeekday(s); return err })
		case timestampTZFuncs[name] && call.IsMemberFunction() && len(args) == 1:
			checkOne(args[0], func(s string) error {
				if strings.Contains(s, ":") {
					return nil // a numeric offset such as "+01:00"
				}
				_, err := time.LoadLocation(s)
				if err != nil {
					return fmt.Errorf("time zone %q: %v", s, err)
				}
				return nil
			})
		}
	}))
	return errors.Join(errs...)
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("IP address %q: %v", s, err)
	}
	return a.Unmap(), nil
}

// parsePrefix parses a CIDR or a bare address.
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := parseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("CIDR %q: %v", s, err)
	}
	if p.Addr().Is4In6() {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// locations caches time zones by name: time.LoadLocation reads the zone
// database on every call.
var locations sync.Map // string -> *time.Location

func location(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		return nil, fmt.Errorf("time zone %q: want an IANA name such as \"Europe/Berlin\" or \"UTC\"", name)
	}
	locations.Store(name, l)
	return l, nil
}

// parseClock parses "HH:MM" into minutes after midnight.
func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, fmt.Errorf("time of day %q: want HH:MM, 00:00 to 23:59", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

var weekdays = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func parseWeekday(s string) (time.Weekday, error) {
	for i, d := range weekdays {
		if strings.EqualFold(s, d) {
			return time.Weekday(i), nil
		}
	}
	return 0, fmt.Errorf("weekday %q: want Mon, Tue, Wed, Thu, Fri, Sat or Sun", s)
}

func celIPIn(ipv, cidrs ref.Val) ref.Val {
	s, ok := ipv.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(ipv)
	}
	l, ok := cidrs.(traits.Lister)
	if !ok {
		return types.MaybeNoSuchOverloadErr(cidrs)
	}
	addr, err := parseAddr(string(s))
	if err != nil {
		return types.False // an unknown source address is in no range
	}
	it := l.Iterator()
	for it.HasNext() == types.True {
		c, ok := it.Next().(types.String)
		if !ok {
			return types.NewErr("ip_in: CIDR list holds a non-string")
		}
		p, err := parsePrefix(string(c))
		if err != nil {
			return types.WrapErr(err)
		}
		if p.Contains(addr) {
			return types.True
		}
	}
	return types.False
}

func celLocalTime(t, tz ref.Val) (time.Time, ref.Val) {
	ts, ok := t.(types.Timestamp)
	if !ok {
		return time.Time{}, types.MaybeNoSuchOverloadErr(t)
	}
	name, ok := tz.(types.String)
	if !ok {
		return time.Time{}, types.MaybeNoSuchOverloadErr(tz)
	}
	loc, err := location(string(name))
	if err != nil {
		return time.Time{}, types.WrapErr(err)
	}
	return ts.Time.In(loc), nil
}

func celInHours(args ...ref.Val) ref.Val {
	local, errv := celLocalTime(args[0], args[1])
	if errv != nil {
		return errv
	}
	from, ok1 := args[2].(types.String)
	to, ok2 := args[3].(types.String)
	if !ok1 || !ok2 {
		return types.NewErr("in_hours: from and to must be strings")
	}
	f, err := parseClock(string(from))
	if err != nil {
		return types.WrapErr(err)
	}
	u, err := parseClock(string(to))
	if err != nil {
		return types.WrapErr(err)
	}
	m := local.Hour()*60 + local.Minute()
	if f <= u {
		return types.Bool(f <= m && m < u)
	}
	return types.Bool(m >= f || m < u)
}

func celWeekdayIn(args ...ref.Val) ref.Val {
	local, errv := celLocalTime(args[0], args[1])
	if errv != nil {
		return errv
	}
	l, ok := args[2].(traits.Lister)
	if !ok {
		return types.MaybeNoSuchOverloadErr(args[2])
	}
	it := l.Iterator()
	for it.HasNext() == types.True {
		s, ok := it.Next().(types.String)
		if !ok {
			return types.NewErr("weekday_in: day list holds a non-string")
		}
		d, err := parseWeekday(string(s))
		if err != nil {
			return types.WrapErr(err)
		}
		if d == local.Weekday() {
			return types.True
		}
	}
	return types.False
}
