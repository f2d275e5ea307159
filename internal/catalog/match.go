package catalog

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxParams bounds the path parameters of one operation (Airflow's deepest
// routes have five).
const maxParams = 8

// node is one level of a route tree: a path segment.
type node struct {
	lit   map[string]*node
	param *node                   // a one-segment parameter
	rest  map[string][]*Operation // method -> ops whose last parameter takes the rest
	ops   map[string][]*Operation // method -> ops ending here
}

func (n *node) insert(op *Operation) error {
	cur := n
	pi := 0
	for _, s := range strings.Split(strings.TrimPrefix(op.Path, "/"), "/") {
		if _, ok := paramName(s); ok {
			p := op.params[pi]
			pi++
			if p.rest {
				if cur.rest == nil {
					cur.rest = map[string][]*Operation{}
				}
				return addOp(cur.rest, op)
			}
			if cur.param == nil {
				cur.param = &node{}
			}
			cur = cur.param
			continue
		}
		if cur.lit == nil {
			cur.lit = map[string]*node{}
		}
		next := cur.lit[s]
		if next == nil {
			next = &node{}
			cur.lit[s] = next
		}
		cur = next
	}
	if cur.ops == nil {
		cur.ops = map[string][]*Operation{}
	}
	return addOp(cur.ops, op)
}

func addOp(m map[string][]*Operation, op *Operation) error {
	for _, o := range m[op.Method] {
		if o.constraintsEqual(op) {
			return fmt.Errorf("%s %s and %s both route %s %s", op.API, o.ID, op.ID, op.Method, op.Path)
		}
	}
	m[op.Method] = append(m[op.Method], op)
	return nil
}

func (o *Operation) constraintsEqual(p *Operation) bool {
	if len(o.params) != len(p.params) {
		return false
	}
	for i := range o.params {
		a, b := o.params[i], p.params[i]
		if a.integer != b.integer || a.constant != b.constant {
			return false
		}
	}
	return true
}

// accepts reports whether the captured values satisfy the parameters' types.
func (o *Operation) accepts(vals *[maxParams]string) bool {
	for i, p := range o.params {
		v := vals[i]
		if p.constant != "" && v != p.constant {
			return false
		}
		if p.integer && !isDigits(v) {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" || len(s) > 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// find matches the remaining path (segments separated by "/", without the
// leading slash; more is false when no segment is left) the way Airflow's
// routers do: a literal segment before a parameter, a one-segment parameter
// before one that takes the rest of the path, and a route whose path matches
// but whose method does not lets the search go on. pathSeen records that some
// route matched the path, to tell "method not allowed" from "no route".
func (n *node) find(rest string, more bool, method string, vals *[maxParams]string, np int, pathSeen *bool) *Operation {
	if !more {
		if op := pick(n.ops, method, vals, pathSeen); op != nil {
			return op
		}
		return nil
	}
	seg, after, hasMore := strings.Cut(rest, "/")
	if child := n.lit[seg]; child != nil {
		if op := child.find(after, hasMore, method, vals, np, pathSeen); op != nil {
			return op
		}
	}
	if n.param != nil && seg != "" && np < maxParams {
		vals[np] = seg
		if op := n.param.find(after, hasMore, method, vals, np+1, pathSeen); op != nil {
			return op
		}
	}
	if len(n.rest) > 0 && rest != "" && np < maxParams {
		vals[np] = rest
		if op := pick(n.rest, method, vals, pathSeen); op != nil {
			return op
		}
	}
	return nil
}

// pick returns the first op for method whose parameters accept vals. When
// none does, it records in pathSeen whether an op of another method would
// have.
func pick(ops map[string][]*Operation, method string, vals *[maxParams]string, pathSeen *bool) *Operation {
	for _, op := range ops[method] {
		if op.accepts(vals) {
			return op
		}
	}
	if !*pathSeen {
		for m, list := range ops {
			if m == method {
				continue
			}
			for _, op := range list {
				if op.accepts(vals) {
					*pathSeen = true
				}
			}
		}
	}
	return nil
}

// Reason says why a request could not be classified. Reasons are
// machine-readable codes.
type Reason string

// Reasons for an unknown request.
const (
	ReasonNotAirflowAPI    Reason = "not-airflow-api"
	ReasonBadEncoding      Reason = "bad-encoding"
	ReasonDotSegment       Reason = "dot-segment"
	ReasonNoRoute          Reason = "no-route"
	ReasonMethodNotAllowed Reason = "method-not-allowed"
	ReasonInvalidDAGID     Reason = "invalid-dag-id"
	ReasonAmbiguousQuery   Reason = "ambiguous-query"
)

// Scope says which DAGs a request reaches.
type Scope string

// DAG scopes.
const (
	// ScopeOne: the request names one DAG and Airflow checks it.
	ScopeOne Scope = "one"
	// ScopeAll: the request reaches every DAG the caller may read (DAG
	// lists, the "~" wildcard, responses Airflow filters, batch bodies).
	ScopeAll Scope = "all"
	// ScopeNone: no DAG is involved.
	ScopeNone Scope = "none"
)

// Classification is what the catalogue knows about one request. The zero
// value is an unknown request.
type Classification struct {
	// API is the Airflow API the path belongs to, empty when none.
	API API
	// Op is the matched operation, nil when the request is unknown.
	Op *Operation
	// Reason says why Op is nil.
	Reason Reason
	// DAGID is the DAG the request names: a valid DAG id, or "~" for
	// Airflow's wildcard. Empty when the request names none.
	DAGID string
	// Scope says which DAGs the request reaches.
	Scope Scope

	params [maxParams]string
}

// Known reports whether the request matched an Airflow operation.
func (c *Classification) Known() bool { return c.Op != nil }

// Param returns the decoded value of the named path parameter.
func (c *Classification) Param(name string) (string, bool) {
	if c.Op == nil {
		return "", false
	}
	for i, p := range c.Op.params {
		if p.name == name {
			return c.params[i], true
		}
	}
	return "", false
}

// Requirement is one permission a classified request needs, in Airflow's
// words.
type Requirement struct {
	Resource string `json:"resource"`
	Action   string `json:"action"`
	// DAGID is set when Airflow checks the permission for this DAG.
	DAGID string `json:"dag_id,omitempty"`
	// AnyDAG is set when holding the permission for at least one DAG
	// suffices (the response is then narrowed to those DAGs).
	AnyDAG bool `json:"any_dag,omitempty"`
}

// Requirements returns every permission the request needs; all must hold. It
// allocates; hot paths use Op.Requires with DAGID and Scope instead.
func (c *Classification) Requirements() []Requirement {
	if c.Op == nil {
		return nil
	}
	out := make([]Requirement, 0, len(c.Op.Requires))
	for _, p := range c.Op.Requires {
		r := Requirement{Resource: p.Resource, Action: p.Action}
		if p.PerDAG {
			if c.Scope == ScopeOne {
				r.DAGID = c.DAGID
			} else {
				switch p.WithoutDAG {
				case Skip:
					continue
				case AnyDAG:
					r.AnyDAG = true
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// Classify finds the Airflow operation for a request. rawPath is the path as
// sent on the wire (percent-encoded, without the query); rawQuery is the
// query string without "?". The path is percent-decoded once, as Airflow's
// servers decode it before routing, so "%2F" separates segments and "+"
// stays "+". Requests that match no operation, or whose path or DAG id
// Airflow would not accept, are unknown, never guessed.
func (c *Catalog) Classify(method, rawPath, rawQuery string) Classification {
	var out Classification
	path, ok := decodePath(rawPath)
	if !ok {
		out.Reason = ReasonBadEncoding
		return out
	}
	api, ok := apiOf(path)
	if !ok {
		out.Reason = ReasonNotAirflowAPI
		return out
	}
	out.API = api
	if hasDotSegment(path) {
		out.Reason = ReasonDotSegment
		return out
	}
	tree := c.trees[api]
	if tree == nil {
		out.Reason = ReasonNoRoute
		return out
	}
	var pathSeen bool
	op := tree.find(path[1:], true, method, &out.params, 0, &pathSeen)
	if op == nil {
		out.params = [maxParams]string{}
		out.Reason = ReasonNoRoute
		if pathSeen {
			out.Reason = ReasonMethodNotAllowed
		}
		return out
	}
	out.Op = op
	hasDAGPerm := op.Filter != FilterNone
	for _, p := range op.Requires {
		if p.PerDAG {
			hasDAGPerm = true
		}
	}
	out.Scope = ScopeNone
	if hasDAGPerm {
		out.Scope = ScopeAll
	}
	switch op.DAG {
	case DAGPath:
		id, _ := out.Param("dag_id")
		if id == "~" {
			out.DAGID, out.Scope = id, ScopeAll
			break
		}
		if !ValidDAGID(id) {
			return unknown(out, ReasonInvalidDAGID)
		}
		out.DAGID, out.Scope = id, ScopeOne
	case DAGQuery:
		id, n, ok := queryValue(rawQuery, "dag_id")
		if !ok {
			return unknown(out, ReasonBadEncoding)
		}
		if n > 1 {
			return unknown(out, ReasonAmbiguousQuery)
		}
		if n == 1 {
			if !ValidDAGID(id) {
				return unknown(out, ReasonInvalidDAGID)
			}
			out.DAGID, out.Scope = id, ScopeOne
		}
	case DAGBody, DAGFileToken:
		out.Scope = ScopeAll
	}
	return out
}

func unknown(c Classification, r Reason) Classification {
	return Classification{API: c.API, Reason: r}
}

func apiOf(path string) (API, bool) {
	for _, p := range [...]struct {
		prefix string
		api    API
	}{{"/api/v1", V1}, {"/api/v2", V2}, {"/auth", Auth}} {
		if rest, ok := strings.CutPrefix(path, p.prefix); ok && (rest == "" || rest[0] == '/') {
			return p.api, true
		}
	}
	return "", false
}

// decodePath percent-decodes a raw path once. It refuses malformed escapes,
// invalid UTF-8, control characters, a missing leading slash and a fragment.
// It does not allocate when nothing is escaped.
func decodePath(raw string) (string, bool) {
	if raw == "" || raw[0] != '/' || strings.IndexByte(raw, '#') >= 0 {
		return "", false
	}
	if strings.IndexByte(raw, '%') < 0 {
		return raw, validPathText(raw)
	}
	buf := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		b := raw[i]
		if b != '%' {
			buf = append(buf, b)
			continue
		}
		if i+2 >= len(raw) {
			return "", false
		}
		h, ok1 := unhex(raw[i+1])
		l, ok2 := unhex(raw[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		buf = append(buf, h<<4|l)
		i += 2
	}
	s := string(buf)
	return s, validPathText(s)
}

func validPathText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// hasDotSegment reports a "." or ".." segment. Airflow would take them
// literally, but anything between airgate and Airflow that normalises paths
// would not, so they are refused rather than guessed at.
func hasDotSegment(path string) bool {
	for rest := path[1:]; ; {
		seg, after, more := strings.Cut(rest, "/")
		if seg == "." || seg == ".." {
			return true
		}
		if !more {
			return false
		}
		rest = after
	}
}

// queryValue finds a parameter in a raw query string the way Airflow's
// servers parse it (form encoding: keys and values percent-decoded, "+" is a
// space). It returns the first value and how many times the key occurs; ok
// is false for a malformed escape.
func queryValue(rawQuery, key string) (val string, n int, ok bool) {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(pair, "=")
		dk, ok := formDecode(k)
		if !ok {
			return "", 0, false
		}
		if dk != key {
			continue
		}
		dv, ok := formDecode(v)
		if !ok {
			return "", 0, false
		}
		if n == 0 {
			val = dv
		}
		n++
	}
	return val, n, true
}

func formDecode(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, true
	}
	buf := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch b := s[i]; b {
		case '+':
			buf = append(buf, ' ')
		case '%':
			if i+2 >= len(s) {
				return "", false
			}
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			buf = append(buf, h<<4|l)
			i += 2
		default:
			buf = append(buf, b)
		}
	}
	if !utf8.Valid(buf) {
		return "", false
	}
	return string(buf), true
}

// ValidDAGID reports whether s is a DAG id Airflow accepts: KEY_REGEX
// ^[\w.-]+$ with Python's Unicode \w (letters, numbers, underscore), at
// most 250 characters. Python's "$" would also accept one trailing newline;
// airgate does not. Source: airflow/utils/helpers.py validate_key.
func ValidDAGID(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > 250 {
		return false
	}
	for _, r := range s {
		if r == '_' || r == '.' || r == '-' || unicode.IsLetter(r) || unicode.IsNumber(r) {
			continue
		}
		return false
	}
	return true
}
