package airflowsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/airgate/airgate/third_party/airflow"
)

// ErrNoOperation is wrapped by ValidateResponse when the specification has
// no operation for the request's method and path.
var ErrNoOperation = errors.New("airflowsim: no such operation in the specification")

// ValidateResponse checks one response of Airflow's REST API against the
// vendored OpenAPI specification of api ([APIv1] or [APIv2], the copies in
// third_party/airflow): the operation is found from req's method and
// escaped path (/api/v1/... or /api/v2/...), the status must be one the
// operation documents, and the body must match the documented schema for
// the response's Content-Type. It works for responses of real Airflow as
// well as of this double, and is safe for concurrent use.
//
// The specifications are loaded once with kin-openapi; OpenAPI 3.1 (the v2
// specification) is loaded natively, and its schemas are checked with
// kin-openapi's JSON Schema 2020-12 validator. One allowance is made:
// Airflow 2 sends its errors as application/problem+json while its
// specification only names application/json, so such a body is checked
// against the application/json schema.
func ValidateResponse(api string, req *http.Request, status int, header http.Header, body []byte) error {
	_, _, err := validate(api, req, status, header, body)
	return err
}

// ValidateResponseStrict is [ValidateResponse] that also rejects object
// properties the schema does not declare (the specifications seldom set
// additionalProperties: false, so a misspelt or invented field would
// otherwise pass). Free-form objects such as conf and params may hold
// anything, and so may the entries of FastAPI's 422 bodies, which carry
// input and ctx beside the loc, msg and type that Airflow's generated
// specification declares.
func ValidateResponseStrict(api string, req *http.Request, status int, header http.Header, body []byte) error {
	s, media, err := validate(api, req, status, header, body)
	if err != nil || media == nil || media.Schema == nil || len(bytes.TrimSpace(body)) == 0 {
		return err
	}
	if ct, _, _ := mime.ParseMediaType(header.Get("Content-Type")); !strings.HasSuffix(ct, "json") {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("airflowsim: decoding response body: %w", err)
	}
	var extra []string
	s.undeclared([]*openapi3.Schema{media.Schema.Value}, v, "$", &extra)
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("airflowsim: %s %s %d: undeclared properties: %s",
			req.Method, req.URL.EscapedPath(), status, strings.Join(extra, ", "))
	}
	return nil
}

// spec is a loaded specification with its path templates.
type spec struct {
	doc    *openapi3.T
	prefix string // the server URL v1 paths are relative to
	paths  []specPath
	// open are schemas whose objects may carry properties beyond those
	// declared, by name, for ValidateResponseStrict.
	open map[*openapi3.Schema]map[string]bool
}

// strictAllowances are the undeclared properties Airflow really sends,
// by component schema.
var strictAllowances = map[string][]string{
	"ValidationError": {"input", "ctx", "url"}, // pydantic v2 error details
}

type specPath struct {
	template string
	segs     []string
	item     *openapi3.PathItem
}

var specs = map[string]func() (*spec, error){
	APIv1: sync.OnceValues(func() (*spec, error) { return loadSpec(airflow.V1, "/api/v1") }),
	APIv2: sync.OnceValues(func() (*spec, error) { return loadSpec(airflow.V2, "") }),
}

func loadSpec(data []byte, prefix string) (*spec, error) {
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("airflowsim: loading specification: %w", err)
	}
	s := &spec{doc: doc, prefix: prefix, open: map[*openapi3.Schema]map[string]bool{}}
	if doc.Components != nil {
		for name, props := range strictAllowances {
			if ref := doc.Components.Schemas[name]; ref != nil && ref.Value != nil {
				s.open[ref.Value] = map[string]bool{}
				for _, p := range props {
					s.open[ref.Value][p] = true
				}
			}
		}
	}
	for tmpl, item := range doc.Paths.Map() {
		s.paths = append(s.paths, specPath{template: tmpl, segs: splitPattern(tmpl), item: item})
	}
	sort.Slice(s.paths, func(i, j int) bool { return s.paths[i].template < s.paths[j].template })
	return s, nil
}

// pathParams are the parameters Airflow declares as paths (connexion
// format: path, FastAPI {name:path}): they may hold slashes, so they take
// the rest of the path when they come last.
var pathParams = map[string]bool{"variable_key": true, "pool_name": true, "xcom_key": true, "uri": true}

// route finds the operation for method and an escaped path.
func (s *spec) route(method, escaped string) (*routers.Route, map[string]string, error) {
	rest, ok := strings.CutPrefix(escaped, s.prefix)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s %s is not below %s", ErrNoOperation, method, escaped, s.prefix)
	}
	raw := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	segs := make([]string, len(raw))
	for i, r := range raw {
		u, err := url.PathUnescape(r)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s %s: %v", ErrNoOperation, method, escaped, err)
		}
		segs[i] = u
	}
	var best *specPath
	var bestParams map[string]string
	bestScore := -1
	for i := range s.paths {
		p := &s.paths[i]
		if p.item.GetOperation(method) == nil {
			continue
		}
		params, score, ok := matchTemplate(p.segs, segs)
		if ok && score > bestScore {
			best, bestParams, bestScore = p, params, score
		}
	}
	if best == nil {
		return nil, nil, fmt.Errorf("%w: %s %s", ErrNoOperation, method, escaped)
	}
	return &routers.Route{
		Spec:      s.doc,
		Path:      best.template,
		PathItem:  best.item,
		Method:    method,
		Operation: best.item.GetOperation(method),
	}, bestParams, nil
}

func matchTemplate(tmpl, segs []string) (map[string]string, int, bool) {
	params := map[string]string{}
	literals := 0
	for i, t := range tmpl {
		if i >= len(segs) {
			return nil, 0, false
		}
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			name := t[1 : len(t)-1]
			if i == len(tmpl)-1 && pathParams[name] && len(segs) > len(tmpl) {
				params[name] = strings.Join(segs[i:], "/")
				return params, literals, true
			}
			if segs[i] == "" {
				return nil, 0, false
			}
			params[name] = segs[i]
			continue
		}
		if t != segs[i] {
			return nil, 0, false
		}
		literals++
	}
	return params, literals, len(segs) == len(tmpl)
}

// validate runs kin-openapi's response validation and returns the media
// type the body was checked against (nil when the response has no body).
func validate(api string, req *http.Request, status int, header http.Header, body []byte) (*spec, *openapi3.MediaType, error) {
	load, ok := specs[api]
	if !ok {
		return nil, nil, fmt.Errorf("airflowsim: unknown API %q (want %q or %q)", api, APIv1, APIv2)
	}
	s, err := load()
	if err != nil {
		return nil, nil, err
	}
	route, params, err := s.route(req.Method, req.URL.EscapedPath())
	if err != nil {
		return nil, nil, err
	}
	header = header.Clone()
	if header == nil {
		header = http.Header{}
	}
	var media *openapi3.MediaType
	if resp := route.Operation.Responses.Status(status); resp != nil && resp.Value != nil {
		content := resp.Value.Content
		ct := header.Get("Content-Type")
		if base, _, _ := mime.ParseMediaType(ct); base == "application/problem+json" && content.Get(ct) == nil {
			header.Set("Content-Type", "application/json")
		}
		media = content.Get(header.Get("Content-Type"))
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: params,
			Route:      route,
		},
		Status:  status,
		Header:  header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		return nil, nil, fmt.Errorf("airflowsim: %s %s %d (%s): %w", req.Method, req.URL.EscapedPath(), status, route.Path, err)
	}
	return s, media, nil
}

// undeclared walks v against the union of schemas and appends the JSON
// paths of object properties that none of them declares.
func (sp *spec) undeclared(schemas []*openapi3.Schema, v any, at string, out *[]string) {
	var flat []*openapi3.Schema
	for _, s := range schemas {
		flatten(s, &flat)
	}
	switch val := v.(type) {
	case map[string]any:
		props := map[string][]*openapi3.Schema{}
		open := false
		objects := 0
		allowed := map[string]bool{}
		for _, s := range flat {
			if !objectish(s) {
				continue
			}
			objects++
			for name := range sp.open[s] {
				allowed[name] = true
			}
			for name, ref := range s.Properties {
				if ref != nil && ref.Value != nil {
					props[name] = append(props[name], ref.Value)
				}
			}
			ap := s.AdditionalProperties
			switch {
			case ap.Schema != nil && ap.Schema.Value != nil:
				open = true
				for name := range val {
					props[name] = append(props[name], ap.Schema.Value)
				}
			case ap.Has != nil && *ap.Has:
				open = true
			case ap.Has == nil && len(s.Properties) == 0 && len(s.AllOf)+len(s.AnyOf)+len(s.OneOf) == 0:
				open = true // a free-form object such as conf or params
			}
		}
		if objects == 0 {
			return
		}
		for name, item := range val {
			sub, declared := props[name]
			if !declared {
				if !open && !allowed[name] {
					*out = append(*out, at+"."+name)
				}
				continue
			}
			sp.undeclared(sub, item, at+"."+name, out)
		}
	case []any:
		var items []*openapi3.Schema
		for _, s := range flat {
			if s.Items != nil && s.Items.Value != nil {
				items = append(items, s.Items.Value)
			}
		}
		if len(items) == 0 {
			return
		}
		for i, item := range val {
			sp.undeclared(items, item, fmt.Sprintf("%s[%d]", at, i), out)
		}
	}
}

// flatten appends s and, recursively, the members of its allOf, anyOf and
// oneOf.
func flatten(s *openapi3.Schema, out *[]*openapi3.Schema) {
	if s == nil {
		return
	}
	*out = append(*out, s)
	for _, group := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
		for _, ref := range group {
			if ref != nil {
				flatten(ref.Value, out)
			}
		}
	}
}

func objectish(s *openapi3.Schema) bool {
	return s.Type.Includes(openapi3.TypeObject) || len(s.Properties) > 0 ||
		s.AdditionalProperties.Has != nil || s.AdditionalProperties.Schema != nil
}
