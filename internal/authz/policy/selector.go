package policy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Selector chooses the DAGs a role's per-DAG permissions apply to: DAG ids,
// globs over DAG ids ("*" any run of characters, "?" one character), and DAG
// tags. A DAG is selected when its id matches any id or glob, or when it
// carries any of the tags. A nil *Selector selects every DAG. Selectors are
// immutable and safe for concurrent use.
type Selector struct {
	// Field is where the selector was declared, e.g. "roles.team-a".
	Field string
	// DAGs are the ids and globs as written; Tags the tags.
	DAGs []string
	Tags []string

	all   bool
	ids   map[string]struct{}
	globs []string
}

// All reports whether the selector selects every DAG (nil, or a "*" glob).
func (s *Selector) All() bool { return s == nil || s.all }

// UsesTags reports whether the selector needs a DAG's tags to decide.
func (s *Selector) UsesTags() bool { return s != nil && !s.all && len(s.Tags) > 0 }

// MatchID reports whether the DAG id alone selects the DAG.
func (s *Selector) MatchID(dagID string) bool {
	if s.All() {
		return true
	}
	if _, ok := s.ids[dagID]; ok {
		return true
	}
	for _, g := range s.globs {
		if MatchDAGPattern(g, dagID) {
			return true
		}
	}
	return false
}

// MatchTags reports whether any of tags is one of the selector's tags.
func (s *Selector) MatchTags(tags []string) bool {
	if s.All() {
		return true
	}
	for _, t := range tags {
		for _, want := range s.Tags {
			if t == want {
				return true
			}
		}
	}
	return false
}

// Match reports whether the selector selects the DAG with this id and tags.
func (s *Selector) Match(dagID string, tags []string) bool {
	return s.MatchID(dagID) || s.MatchTags(tags)
}

// String describes the selector: `dags [a b*] tags [x]`, or "every DAG".
func (s *Selector) String() string {
	if s.All() {
		return "every DAG"
	}
	var b strings.Builder
	if len(s.DAGs) > 0 {
		b.WriteString("dags [" + strings.Join(s.DAGs, " ") + "]")
	}
	if len(s.Tags) > 0 {
		if b.Len() > 0 {
			b.WriteString(" or ")
		}
		b.WriteString("tags [" + strings.Join(s.Tags, " ") + "]")
	}
	return b.String()
}

// compileSelector builds a role's selector; nil when the role names no DAGs
// and no tags.
func compileSelector(field string, dags, tags []string, errs *problems) *Selector {
	if len(dags) == 0 && len(tags) == 0 {
		return nil
	}
	s := &Selector{Field: field, DAGs: dags, Tags: tags, ids: map[string]struct{}{}}
	for i, d := range dags {
		f := field + ".dags[" + itoa(i) + "]"
		switch {
		case d == "*":
			s.all = true
		case !ValidDAGPattern(d):
			errs.add(f, d, errDAGSelector)
		case strings.ContainsAny(d, "*?"):
			s.globs = append(s.globs, d)
		default:
			s.ids[d] = struct{}{}
		}
	}
	for i, t := range tags {
		if t == "" || utf8.RuneCountInString(t) > 100 || strings.TrimSpace(t) != t {
			errs.add(field+".dag_tags["+itoa(i)+"]", t, ErrTag)
		}
	}
	return s
}

// errDAGSelector explains what a DAG selector may contain.
var errDAGSelector = wrapf(ErrDAGSelector, `(letters, digits, "_", ".", "-" and the wildcards "*" and "?"; at most 250 characters)`)

// ValidDAGPattern reports whether p is a DAG id (Airflow's KEY_REGEX
// ^[\w.-]+$, at most 250 characters) in which "*" and "?" may also appear.
// It mirrors catalog.ValidDAGID, which this package may not import.
func ValidDAGPattern(p string) bool {
	if p == "" || utf8.RuneCountInString(p) > 250 {
		return false
	}
	for _, r := range p {
		switch {
		case r == '_' || r == '.' || r == '-' || r == '*' || r == '?':
		case unicode.IsLetter(r) || unicode.IsNumber(r):
		default:
			return false
		}
	}
	return true
}

// MatchDAGPattern reports whether s matches pattern p, where "*" matches
// any run of characters and "?" exactly one. It does not allocate.
func MatchDAGPattern(p, s string) bool {
	var px, sx int
	starP, starS := -1, -1
	for sx < len(s) {
		if px < len(p) {
			switch c := p[px]; c {
			case '*':
				starP, starS = px, sx
				px++
				continue
			case '?':
				_, n := utf8.DecodeRuneInString(s[sx:])
				px++
				sx += n
				continue
			default:
				if c == s[sx] {
					px++
					sx++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last star take one more character and retry.
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		px, sx = starP+1, starS
	}
	for px < len(p) && p[px] == '*' {
		px++
	}
	return px == len(p)
}
