package catalog

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/airgate/airgate/third_party/airflow"
)

// Operation is one operation of an Airflow OpenAPI spec together with what
// Airflow checks for it. Operations are immutable and shared; callers MUST
// NOT modify them.
type Operation struct {
	API    API
	ID     string // operationId
	Method string // upper case
	Path   string // template with the API prefix, e.g. /api/v1/dags/{dag_id}
	Rule

	params []paramSpec // path parameters in template order
}

// paramSpec is how one path parameter matches.
type paramSpec struct {
	name     string
	integer  bool   // digits only (schema type integer)
	rest     bool   // takes the rest of the path, slashes included
	constant string // the only accepted value, when the schema has const
}

// ParamNames returns the operation's path parameter names in template order.
func (o *Operation) ParamNames() []string {
	names := make([]string, len(o.params))
	for i, p := range o.params {
		names[i] = p.name
	}
	return names
}

// Catalog is the route table of every Airflow API airgate knows. It is
// immutable and safe for concurrent use.
type Catalog struct {
	ops   []*Operation
	byKey map[string]*Operation // api + " " + operationId
	trees map[API]*node
}

// pathParams lists the Airflow 3 path parameters declared with FastAPI's
// ":path" converter, which the generated spec does not show: they match
// slashes. Source: airflow-core/src/airflow/api_fastapi/core_api/routes/public/
// variables.py ("/{variable_key:path}"), pools.py ("/{pool_name:path}") and
// xcom.py ("/{xcom_key:path}").
var pathParams = map[API]map[string]bool{
	V2: {"variable_key": true, "pool_name": true, "xcom_key": true},
}

type specSource struct {
	api    API
	doc    []byte
	prefix string
	rules  map[string]Rule
}

func specSources() []specSource {
	return []specSource{
		{V1, airflow.V1, "/api/v1", v1Rules},
		{V2, airflow.V2, "", v2Rules},
		{Auth, airflow.AuthSimple, "", authRules},
		{Auth, airflow.AuthFAB, "", authRules},
		{Auth, airflow.AuthKeycloak, "", authRules},
	}
}

// Default returns the catalogue built from the embedded Airflow specs and
// rule tables. It is built once; it panics if they disagree, which the
// package tests rule out.
var Default = sync.OnceValue(func() *Catalog {
	c, err := build(specSources(), false)
	if err != nil {
		panic("catalog: " + err.Error())
	}
	return c
})

// build joins the specs' operations with the rule tables. Unless lenient, an
// operation without a rule, or a rule without an operation, is an error.
func build(sources []specSource, lenient bool) (*Catalog, error) {
	c := &Catalog{byKey: map[string]*Operation{}, trees: map[API]*node{}}
	var errs []error
	used := map[API]map[string]bool{}
	for _, src := range sources {
		ops, err := parseSpec(src.doc, src.prefix)
		if err != nil {
			return nil, fmt.Errorf("%s spec: %w", src.api, err)
		}
		if used[src.api] == nil {
			used[src.api] = map[string]bool{}
		}
		for _, so := range ops {
			key := string(src.api) + " " + so.id
			if prev, ok := c.byKey[key]; ok {
				// The auth managers' specs share operations such as
				// create_token: one entry serves them all.
				if prev.Method == so.method && prev.Path == so.path {
					continue
				}
				errs = append(errs, fmt.Errorf("%s: operationId %s names both %s %s and %s %s", src.api, so.id, prev.Method, prev.Path, so.method, so.path))
				continue
			}
			rule, ok := src.rules[so.id]
			if !ok {
				if !lenient {
					errs = append(errs, fmt.Errorf("%s: operation %s (%s %s) has no rule", src.api, so.id, so.method, so.path))
				}
				continue
			}
			used[src.api][so.id] = true
			op := &Operation{API: src.api, ID: so.id, Method: so.method, Path: so.path, Rule: rule}
			if err := op.compile(so, pathParams[src.api]); err != nil {
				errs = append(errs, err)
				continue
			}
			c.ops = append(c.ops, op)
			c.byKey[key] = op
			t := c.trees[src.api]
			if t == nil {
				t = &node{}
				c.trees[src.api] = t
			}
			if err := t.insert(op); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if !lenient {
		seen := map[API]bool{}
		for _, src := range sources {
			if seen[src.api] {
				continue
			}
			seen[src.api] = true
			for id := range src.rules {
				if !used[src.api][id] {
					errs = append(errs, fmt.Errorf("%s: rule %s matches no spec operation", src.api, id))
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(c.ops, func(i, j int) bool {
		a, b := c.ops[i], c.ops[j]
		if a.API != b.API {
			return a.API < b.API
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Method < b.Method
	})
	return c, nil
}

// compile derives the operation's parameter specs from its spec entry.
func (o *Operation) compile(so specOp, restParams map[string]bool) error {
	segs := strings.Split(strings.TrimPrefix(o.Path, "/"), "/")
	for i, s := range segs {
		name, ok := paramName(s)
		if !ok {
			continue
		}
		sp, ok := so.params[name]
		if !ok {
			return fmt.Errorf("%s %s: path parameter %s is not declared", o.API, o.ID, name)
		}
		p := paramSpec{
			name:     name,
			integer:  sp.integer(),
			rest:     sp.Schema.Format == "path" || restParams[name],
			constant: sp.Schema.Const,
		}
		if p.rest && i != len(segs)-1 {
			return fmt.Errorf("%s %s: path parameter %s matches slashes but is not last", o.API, o.ID, name)
		}
		o.params = append(o.params, p)
	}
	if len(o.params) > maxParams {
		return fmt.Errorf("%s %s: %d path parameters, at most %d supported", o.API, o.ID, len(o.params), maxParams)
	}
	return nil
}

func paramName(seg string) (string, bool) {
	if len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' {
		return seg[1 : len(seg)-1], true
	}
	return "", false
}

// Operations returns every operation, sorted by API, path and method. The
// slice is shared: callers MUST NOT modify it.
func (c *Catalog) Operations() []*Operation { return c.ops }

// Lookup returns the operation with the given API and operationId.
func (c *Catalog) Lookup(api API, id string) (*Operation, bool) {
	op, ok := c.byKey[string(api)+" "+id]
	return op, ok
}
