package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	roleNameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	reasonCodeRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	guidRE       = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// Load reads and compiles the policy file at path; see [Parse].
func Load(path string, opts Options) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p, err := Parse(data, opts)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

// Parse compiles a policy document. Every problem is reported, each as a
// [*FieldError] naming the field path and the bad value, joined with
// errors.Join; YAML syntax errors are reported alone. Warnings do not fail
// the parse: see [Policy.Warnings].
func Parse(data []byte, opts Options) (*Policy, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil, &FieldError{Field: "(document)", Err: fmt.Errorf("%w: the file is empty", ErrDocument)}
	}
	var errs problems
	checkShape(root.Content[0], reflect.TypeFor[fileDoc](), "", &errs)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc fileDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); err != io.EOF {
		return nil, &FieldError{Field: "(document)", Err: fmt.Errorf("%w: the file holds more than one YAML document", ErrDocument)}
	}
	return compile(&doc, opts)
}

// compiler holds the state of one compilation.
type compiler struct {
	errs       problems
	p          *Policy
	permFields map[*Role][]string // the field of each of a role's Permissions
	state      map[*Role]int      // resolution: 0 new, 1 in progress, 2 done
}

func compile(doc *fileDoc, opts Options) (*Policy, error) {
	c := &compiler{
		p:          &Policy{byName: map[string]*Role{}},
		permFields: map[*Role][]string{},
		state:      map[*Role]int{},
	}
	switch doc.Version {
	case 1:
	case 0:
		c.errs.add("version", "", fmt.Errorf("%w (version: 1)", ErrMissing))
	default:
		c.errs.add("version", itoa(doc.Version), ErrVersion)
	}

	builtinByLower := map[string]string{}
	for _, b := range opts.Builtins {
		r := &Role{Name: b.Name, Field: "builtin." + b.Name, Builtin: true, Permissions: b.Grants, Description: b.Source}
		fields := make([]string, len(b.Grants))
		for i := range fields {
			fields[i] = r.Field
		}
		c.permFields[r] = fields
		c.p.roles = append(c.p.roles, r)
		c.p.byName[r.Name] = r
		builtinByLower[strings.ToLower(r.Name)] = r.Name
	}

	var custom []*Role
	for _, name := range sortedKeys(doc.Roles) {
		field := join("roles", name)
		if !roleNameRE.MatchString(name) {
			c.errs.add("roles", name, wrapf(ErrRoleName, `(a letter or digit, then letters, digits, "_", "." or "-"; at most 64 characters)`))
			continue
		}
		if b, ok := builtinByLower[strings.ToLower(name)]; ok {
			c.errs.add(field, name, fmt.Errorf("%w (%s): extend it instead", ErrBuiltinRole, b))
			continue
		}
		r := c.role(name, field, doc.Roles[name])
		custom = append(custom, r)
		c.p.roles = append(c.p.roles, r)
		c.p.byName[name] = r
	}

	names := make([]string, 0, len(c.p.roles))
	for _, r := range c.p.roles {
		names = append(names, r.Name)
	}
	for _, r := range custom {
		for i, e := range r.Extends {
			if _, ok := c.p.byName[e]; !ok {
				c.errs.add(fmt.Sprintf("%s.extends[%d]", r.Field, i), e, withSuggestion(ErrUnknownRole, e, names))
			}
		}
	}
	for _, r := range c.p.roles {
		c.resolve(r, nil)
	}
	for _, r := range c.p.roles {
		if r.When != nil {
			r.When.Index = len(c.p.conditions)
			c.p.conditions = append(c.p.conditions, r.When)
		}
	}

	for i, md := range doc.Mappings {
		if m := c.mapping(fmt.Sprintf("mappings[%d]", i), md, names); m != nil {
			c.p.mappings = append(c.p.mappings, m)
		}
	}
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	c.p.warnings = warnings(c.p)
	return c.p, nil
}

// role compiles one of the policy's own roles, without resolving extends.
func (c *compiler) role(name, field string, rd roleDoc) *Role {
	r := &Role{Name: name, Field: field, Description: rd.Description, Extends: rd.Extends}
	var fields []string
	permErrs := len(c.errs)
	for i, pd := range rd.Permissions {
		pf := fmt.Sprintf("%s.permissions[%d]", field, i)
		if pd.Resource == "" {
			c.errs.add(pf+".resource", "", ErrMissing)
			continue
		}
		d, err := resourceDialect(pd.Resource)
		if err != nil {
			c.errs.add(pf+".resource", pd.Resource, err)
			continue
		}
		if len(pd.Actions) == 0 {
			c.errs.add(pf+".actions", "", ErrMissing)
		}
		for j, a := range pd.Actions {
			dialects, err := checkAction(d, a)
			if err != nil {
				c.errs.add(fmt.Sprintf("%s.actions[%d]", pf, j), a, err)
				continue
			}
			for _, dd := range dialects {
				perm := Permission{Dialect: dd, Resource: pd.Resource, Action: a}
				if !slices.Contains(r.Permissions, perm) {
					r.Permissions = append(r.Permissions, perm)
					fields = append(fields, pf)
				}
			}
		}
	}
	c.permFields[r] = fields
	if len(rd.Permissions) == 0 && len(rd.Extends) == 0 && len(c.errs) == permErrs {
		c.errs.add(field, "", wrapf(ErrEmptyRole, "(give it permissions or extends)"))
	}
	for i, e := range rd.Extends {
		if slices.Index(rd.Extends, e) != i {
			c.errs.add(fmt.Sprintf("%s.extends[%d]", field, i), e, ErrDuplicateRoles)
		}
	}
	r.Selector = compileSelector(field, rd.DAGs, rd.DAGTags, &c.errs)
	if rd.DenyReason != "" {
		if !reasonCodeRE.MatchString(rd.DenyReason) {
			c.errs.add(field+".deny_reason", rd.DenyReason, wrapf(ErrReasonCode, `(lower-case words joined by "-", such as mfa-required)`))
		}
		if rd.When == "" {
			c.errs.add(field+".deny_reason", rd.DenyReason, wrapf(ErrNoEffect, "without when"))
		}
	}
	if rd.When != "" {
		r.When = compileCondition(field+".when", name, rd.When, rd.DenyReason, &c.errs)
	}
	return r
}

// resolve fills r.Grants from its permissions and, recursively, from the
// roles it extends, reporting cycles. stack holds the roles being resolved.
func (c *compiler) resolve(r *Role, stack []*Role) {
	switch c.state[r] {
	case 2:
		return
	case 1:
		return // a cycle; reported by the edge that closes it
	}
	c.state[r] = 1
	stack = append(stack, r)
	var scopes []*Selector
	if !r.Selector.All() {
		scopes = []*Selector{r.Selector}
	}
	var conds []*Condition
	if r.When != nil {
		conds = []*Condition{r.When}
	}
	seen := map[string]bool{}
	add := func(g Grant) {
		if !g.IsWildcard() && !IsDAGScoped(g.Dialect, g.Resource) {
			g.Scopes = nil // Airflow checks the resource globally
		}
		key := g.Permission.String()
		for _, s := range g.Scopes {
			key += fmt.Sprintf("|s%p", s)
		}
		for _, cd := range g.Conditions {
			key += fmt.Sprintf("|c%p", cd)
		}
		if !seen[key] {
			seen[key] = true
			r.Grants = append(r.Grants, g)
		}
	}
	for i, p := range r.Permissions {
		add(Grant{Permission: p, Field: c.permFields[r][i], Path: []string{r.Name}, Scopes: scopes, Conditions: conds})
	}
	for i, name := range r.Extends {
		e, ok := c.p.byName[name]
		if !ok {
			continue // reported
		}
		if c.state[e] == 1 {
			cycle := []string{}
			for j := slices.Index(stack, e); j < len(stack); j++ {
				cycle = append(cycle, stack[j].Name)
			}
			cycle = append(cycle, e.Name)
			c.errs.add(fmt.Sprintf("%s.extends[%d]", r.Field, i), name, fmt.Errorf("%w (%s)", ErrCycle, strings.Join(cycle, " > ")))
			continue
		}
		c.resolve(e, stack)
		for _, g := range e.Grants {
			add(Grant{
				Permission: g.Permission,
				Field:      g.Field,
				Path:       append([]string{r.Name}, g.Path...),
				Scopes:     append(slices.Clip(scopes), g.Scopes...),
				Conditions: append(slices.Clip(conds), g.Conditions...),
			})
		}
	}
	c.state[r] = 2
}

// mapping compiles one mapping; nil when it is unusable.
func (c *compiler) mapping(f string, md mappingDoc, names []string) *Mapping {
	m := &Mapping{Field: f, Name: md.Name, Roles: md.Roles, Nested: md.Nested}
	switch {
	case md.Group != "" && md.AppRole != "":
		c.errs.add(f, "", wrapf(ErrMapping, "(set group or app_role, not both)"))
	case md.Group == "" && md.AppRole == "":
		c.errs.add(f, "", wrapf(ErrMapping, "(set group, an Entra group object id, or app_role)"))
	case md.Group != "":
		if !guidRE.MatchString(md.Group) {
			c.errs.add(f+".group", md.Group, wrapf(ErrGroupID, "(the group's object id, a GUID; put its display name in name)"))
		}
		m.Group = strings.ToLower(md.Group)
	default:
		if len(md.AppRole) > 250 || strings.ContainsFunc(md.AppRole, func(r rune) bool { return r <= ' ' }) {
			c.errs.add(f+".app_role", md.AppRole, wrapf(ErrAppRole, "(an app role's value: no spaces, at most 250 characters)"))
		}
		m.AppRole = md.AppRole
		if md.Nested {
			c.errs.add(f+".nested", "true", wrapf(ErrNestedAppRole, "(Entra never passes app roles through group nesting)"))
		}
	}
	if len(md.Roles) == 0 {
		c.errs.add(f+".roles", "", ErrMissing)
	}
	for j, rn := range md.Roles {
		rf := fmt.Sprintf("%s.roles[%d]", f, j)
		if _, ok := c.p.byName[rn]; !ok {
			c.errs.add(rf, rn, withSuggestion(ErrUnknownRole, rn, names))
		} else if slices.Index(md.Roles, rn) != j {
			c.errs.add(rf, rn, ErrDuplicateRoles)
		}
	}
	return m
}
