package policy

import (
	"fmt"
	"strings"
)

// Describe renders the compiled policy as text for people and golden tests:
// every role with its resolved grants (built-in roles by name only), every
// mapping and every warning. The format may change between versions.
func (p *Policy) Describe() string {
	var b strings.Builder
	b.WriteString("roles:\n")
	for _, r := range p.roles {
		if r.Builtin {
			fmt.Fprintf(&b, "  %s (built-in, %d grants)\n", r.Name, len(r.Grants))
			continue
		}
		fmt.Fprintf(&b, "  %s\n", r.Name)
		if r.Description != "" {
			fmt.Fprintf(&b, "    description: %s\n", r.Description)
		}
		if len(r.Extends) > 0 {
			fmt.Fprintf(&b, "    extends: %s\n", strings.Join(r.Extends, ", "))
		}
		fmt.Fprintf(&b, "    selects: %s\n", r.Selector)
		if r.When != nil {
			fmt.Fprintf(&b, "    when: %s", r.When.Expr)
			if r.When.DenyReason != "" {
				fmt.Fprintf(&b, " (else %s)", r.When.DenyReason)
			}
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "    grants (%d):\n", len(r.Grants))
		for _, g := range r.Grants {
			fmt.Fprintf(&b, "      %s\n", g.describe())
		}
	}
	b.WriteString("mappings:\n")
	for _, m := range p.mappings {
		fmt.Fprintf(&b, "  %s: %s -> %s\n", m.Label(), m.Subject(), strings.Join(m.Roles, ", "))
	}
	if len(p.warnings) > 0 {
		b.WriteString("warnings:\n")
		for _, w := range p.warnings {
			fmt.Fprintf(&b, "  %s\n", w)
		}
	}
	return b.String()
}

// describe reads "fab DAGs can_read via team-a > Viewer on dags [team_a_*]
// if roles.team-a.when".
func (g *Grant) describe() string {
	var b strings.Builder
	b.WriteString(g.Permission.String())
	if len(g.Path) > 1 {
		b.WriteString(" via " + g.PathString())
	}
	for i, s := range g.Scopes {
		if i == 0 {
			b.WriteString(" on ")
		} else {
			b.WriteString(" and ")
		}
		b.WriteString(s.String())
	}
	for i, c := range g.Conditions {
		if i == 0 {
			b.WriteString(" if ")
		} else {
			b.WriteString(" and ")
		}
		b.WriteString(c.Field)
	}
	return b.String()
}
