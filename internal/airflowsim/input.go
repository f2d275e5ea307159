package airflowsim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxPageLimit is Airflow's [api] maximum_page_limit.
const maxPageLimit = 100

// page reads limit and offset: Airflow 2 defaults the limit to 100,
// Airflow 3 to 50, and both cap it at maximum_page_limit.
func (c *call) page() (limit, offset int, errs []v2ValidationError) {
	limit = 50
	if c.v1() {
		limit = 100
	}
	q := c.query()
	read := func(name string, dst *int, min int) {
		raw, present := q[name]
		if !present || len(raw) == 0 {
			return
		}
		n, err := strconv.Atoi(raw[0])
		if err != nil {
			errs = append(errs, v2ValidationError{Type: "int_parsing", Loc: []any{"query", name},
				Msg: "Input should be a valid integer, unable to parse string as an integer", Input: raw[0]})
			return
		}
		if n < min {
			errs = append(errs, v2ValidationError{Type: "greater_than_equal", Loc: []any{"query", name},
				Msg: "Input should be greater than or equal to " + strconv.Itoa(min), Input: raw[0]})
			return
		}
		*dst = n
	}
	read("limit", &limit, 0)
	read("offset", &offset, 0)
	limit = min(limit, maxPageLimit)
	return limit, offset, errs
}

// window returns the [offset, offset+limit) slice bounds for n items.
func window(n, limit, offset int) (int, int) {
	lo := min(offset, n)
	return lo, min(lo+limit, n)
}

// queryBool reads an optional boolean query parameter the way connexion
// and FastAPI do; ok is false when it is malformed.
func queryBool(raw string) (val, ok bool) {
	switch strings.ToLower(raw) {
	case "true", "1", "yes", "on", "t", "y":
		return true, true
	case "false", "0", "no", "off", "f", "n":
		return false, true
	}
	return false, false
}

// likeMatcher returns a case-insensitive matcher for SQL "ILIKE
// '%pattern%'", which is how both APIs apply *_pattern parameters. In
// Airflow 3 a "~" in the pattern means "%".
func likeMatcher(pattern string, tildeIsWildcard bool) func(string) bool {
	var b strings.Builder
	b.WriteString("(?is)^.*")
	for _, r := range pattern {
		switch {
		case r == '%' || (r == '~' && tildeIsWildcard):
			b.WriteString(".*")
		case r == '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(".*$")
	re := regexp.MustCompile(b.String())
	return re.MatchString
}

// form is a request body decoded as a JSON object, with the errors found
// while reading its fields.
type form struct {
	obj  map[string]any
	errs []v2ValidationError
}

// object decodes the body as a JSON object. It returns the reply to send
// when the body is not JSON or not an object.
func (c *call) object() (*form, *reply) {
	dec := json.NewDecoder(bytes.NewReader(c.body))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil && dec.More() {
		err = errTrailingData
	}
	if err != nil {
		var rep reply
		if c.v1() {
			rep = v1ProblemReply(http.StatusBadRequest, "Bad Request", werkzeugBadRequest)
		} else {
			rep = c.invalid([]v2ValidationError{{Type: "json_invalid", Loc: []any{"body", 0},
				Msg: "JSON decode error", Input: map[string]any{}}})
		}
		return nil, &rep
	}
	obj, isObj := v.(map[string]any)
	if !isObj {
		rep := c.invalid([]v2ValidationError{{Type: "model_attributes_type", Loc: []any{"body"},
			Msg: "Input should be a valid dictionary or object to extract fields from", Input: v}})
		return nil, &rep
	}
	return &form{obj: obj}, nil
}

type jsonError string

func (e jsonError) Error() string { return string(e) }

const errTrailingData = jsonError("trailing data after JSON value")

// only reports every key not in allowed as forbidden, sorted by name.
func (f *form) only(allowed ...string) {
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	var extra []string
	for k := range f.obj {
		if !ok[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		f.errs = append(f.errs, extraField(k, f.obj[k]))
	}
}

func (f *form) require(name string) bool {
	if _, ok := f.obj[name]; !ok {
		f.errs = append(f.errs, missingField(name, f.obj))
		return false
	}
	return true
}

// str reads an optional string; a JSON null gives nil.
func (f *form) str(name string) *string {
	v, ok := f.obj[name]
	if !ok || v == nil {
		return nil
	}
	s, isStr := v.(string)
	if !isStr {
		f.errs = append(f.errs, wrongType(name, "string_type", "Input should be a valid string", v))
		return nil
	}
	return &s
}

func (f *form) boolean(name string) *bool {
	v, ok := f.obj[name]
	if !ok || v == nil {
		return nil
	}
	b, isBool := v.(bool)
	if !isBool {
		f.errs = append(f.errs, wrongType(name, "bool_type", "Input should be a valid boolean", v))
		return nil
	}
	return &b
}

func (f *form) integer(name string, minimum int) *int {
	v, ok := f.obj[name]
	if !ok || v == nil {
		return nil
	}
	num, isNum := v.(json.Number)
	n, err := strconv.Atoi(string(num))
	if !isNum || err != nil {
		f.errs = append(f.errs, wrongType(name, "int_type", "Input should be a valid integer", v))
		return nil
	}
	if n < minimum {
		f.errs = append(f.errs, wrongType(name, "greater_than_equal",
			"Input should be greater than or equal to "+strconv.Itoa(minimum), v))
		return nil
	}
	return &n
}

// timestamp reads an optional RFC 3339 timestamp with a zone; Airflow
// refuses naive datetimes in both APIs.
func (f *form) timestamp(name string) *time.Time {
	s := f.str(name)
	if s == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		f.errs = append(f.errs, wrongType(name, "datetime_parsing",
			"Input should be a valid datetime with a timezone", *s))
		return nil
	}
	t = t.UTC().Truncate(time.Microsecond)
	return &t
}

// dict reads an optional JSON object.
func (f *form) dict(name string) map[string]any {
	v, ok := f.obj[name]
	if !ok || v == nil {
		return nil
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		f.errs = append(f.errs, wrongType(name, "dict_type", "Input should be a valid dictionary", v))
		return nil
	}
	return m
}

// strings reads an optional list of strings.
func (f *form) strings(name string) []string {
	v, ok := f.obj[name]
	if !ok || v == nil {
		return nil
	}
	list, isList := v.([]any)
	if !isList {
		f.errs = append(f.errs, wrongType(name, "list_type", "Input should be a valid list", v))
		return nil
	}
	out := make([]string, 0, len(list))
	for i, item := range list {
		s, isStr := item.(string)
		if !isStr {
			f.errs = append(f.errs, v2ValidationError{Type: "string_type", Loc: []any{"body", name, i},
				Msg: "Input should be a valid string", Input: item})
			continue
		}
		out = append(out, s)
	}
	return out
}
