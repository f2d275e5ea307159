package policy

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// fileDoc is the YAML schema of a policy file.
type fileDoc struct {
	// Version must be 1.
	Version int `yaml:"version"`
	// Roles are the policy's own roles by name.
	Roles map[string]roleDoc `yaml:"roles"`
	// Mappings give roles to groups and app roles.
	Mappings []mappingDoc `yaml:"mappings"`
}

type roleDoc struct {
	Description string    `yaml:"description"`
	Extends     []string  `yaml:"extends"`
	Permissions []permDoc `yaml:"permissions"`
	DAGs        []string  `yaml:"dags"`
	DAGTags     []string  `yaml:"dag_tags"`
	When        string    `yaml:"when"`
	DenyReason  string    `yaml:"deny_reason"`
}

type permDoc struct {
	Resource string   `yaml:"resource"`
	Actions  []string `yaml:"actions"`
}

type mappingDoc struct {
	Group   string   `yaml:"group"`
	AppRole string   `yaml:"app_role"`
	Name    string   `yaml:"name"`
	Roles   []string `yaml:"roles"`
	Nested  bool     `yaml:"nested"`
}

// checkShape walks a YAML node against the Go type it will decode into and
// reports unknown fields and mismatched kinds with their field paths, so
// that every such problem is reported at once and by path (the decoder's
// own KnownFields check stops at the first and names Go types).
func checkShape(n *yaml.Node, t reflect.Type, path string, errs *problems) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value decodes to the zero value
	}
	where := func() string {
		if path == "" {
			return "(document)"
		}
		return path
	}
	wrong := func(want string) {
		errs.add(where(), scalarValue(n), fmt.Errorf("%w: want %s (line %d)", ErrWrongType, want, n.Line))
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			wrong("a mapping")
			return
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			fields[name] = t.Field(i).Type
			names = append(names, name)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				err := withSuggestion(fmt.Errorf("%w (line %d; known: %s)", ErrUnknownField, k.Line, strings.Join(names, ", ")), k.Value, names)
				errs.add(join(path, k.Value), "", err)
				continue
			}
			checkShape(v, ft, join(path, k.Value), errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			wrong("a mapping")
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				errs.add(where(), "", fmt.Errorf("%w: keys must be names (line %d)", ErrWrongType, k.Line))
				continue
			}
			checkShape(v, t.Elem(), join(path, k.Value), errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			wrong("a list")
			return
		}
		for i, v := range n.Content {
			checkShape(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			wrong("a string")
		}
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			wrong("an integer")
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			wrong("true or false")
		}
	}
}

func scalarValue(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

// plainKey matches keys that need no quoting in a field path.
var plainKey = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// join appends a key to a field path; keys that are not plain names are
// quoted in brackets: roles["bad name"].
func join(path, key string) string {
	if !plainKey.MatchString(key) {
		return fmt.Sprintf("%s[%q]", path, key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
