package catalog

import (
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// specOp is one operation read from an OpenAPI document: what the route table
// needs and nothing else.
type specOp struct {
	method string // upper case
	path   string // full template, e.g. /api/v1/dags/{dag_id}
	id     string // operationId
	params map[string]specParam
}

type specParam struct {
	Ref    string `yaml:"$ref"`
	Name   string `yaml:"name"`
	In     string `yaml:"in"`
	Schema struct {
		Type   string `yaml:"type"`
		Format string `yaml:"format"`
		Const  string `yaml:"const"`
		AnyOf  []struct {
			Type string `yaml:"type"`
		} `yaml:"anyOf"`
	} `yaml:"schema"`
}

// integer reports whether the parameter only takes integers: type integer,
// or FastAPI's anyOf [integer, null] for an optional int (a path segment is
// never null).
func (p specParam) integer() bool {
	if p.Schema.Type == "integer" {
		return true
	}
	if len(p.Schema.AnyOf) == 0 {
		return false
	}
	for _, a := range p.Schema.AnyOf {
		if a.Type != "integer" && a.Type != "null" {
			return false
		}
	}
	return true
}

type specOperation struct {
	OperationID string      `yaml:"operationId"`
	Parameters  []specParam `yaml:"parameters"`
}

type specDoc struct {
	Servers []struct {
		URL string `yaml:"url"`
	} `yaml:"servers"`
	Paths      map[string]map[string]yaml.Node `yaml:"paths"`
	Components struct {
		Parameters map[string]specParam `yaml:"parameters"`
	} `yaml:"components"`
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// parseSpec reads the operations of one OpenAPI document. prefix is prepended
// to every path (Airflow 2's spec has its paths relative to /api/v1).
func parseSpec(doc []byte, prefix string) ([]specOp, error) {
	var d specDoc
	if err := yaml.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("parsing spec: %w", err)
	}
	resolve := func(p specParam) (specParam, error) {
		if p.Ref == "" {
			return p, nil
		}
		name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/")
		if !ok {
			return p, fmt.Errorf("unsupported parameter reference %q", p.Ref)
		}
		r, ok := d.Components.Parameters[name]
		if !ok {
			return p, fmt.Errorf("unresolved parameter reference %q", p.Ref)
		}
		return r, nil
	}
	var ops []specOp
	for path, item := range d.Paths {
		var shared []specParam
		if n, ok := item["parameters"]; ok {
			if err := n.Decode(&shared); err != nil {
				return nil, fmt.Errorf("path %s parameters: %w", path, err)
			}
		}
		for _, m := range httpMethods {
			n, ok := item[m]
			if !ok {
				continue
			}
			var o specOperation
			if err := n.Decode(&o); err != nil {
				return nil, fmt.Errorf("%s %s: %w", m, path, err)
			}
			op := specOp{method: strings.ToUpper(m), path: prefix + path, id: o.OperationID, params: map[string]specParam{}}
			for _, p := range append(append([]specParam(nil), shared...), o.Parameters...) {
				r, err := resolve(p)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", m, path, err)
				}
				if r.In == "path" {
					op.params[r.Name] = r
				}
			}
			if op.id == "" {
				return nil, fmt.Errorf("%s %s: no operationId", m, path)
			}
			ops = append(ops, op)
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].path != ops[j].path {
			return ops[i].path < ops[j].path
		}
		return ops[i].method < ops[j].method
	})
	return ops, nil
}
