package policy

import "testing"

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"team_a_*", "team_a_daily", true},
		{"team_a_*", "team_a_", true},
		{"team_a_*", "team_b_daily", false},
		{"*_daily", "team_a_daily", true},
		{"*_daily", "team_a_hourly", false},
		{"team_?_daily", "team_a_daily", true},
		{"team_?_daily", "team_ab_daily", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"a*b", "abab", true},
		{"*", "", true},
		{"?", "é", true},
		{"é*", "étl", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"**x", "abx", true},
	}
	for _, tc := range tests {
		if got := MatchDAGPattern(tc.pattern, tc.s); got != tc.want {
			t.Errorf("MatchDAGPattern(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestSelector(t *testing.T) {
	var errs problems
	s := compileSelector("roles.r", []string{"team_a_*", "shared_etl"}, []string{"team-a"}, &errs)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	tests := []struct {
		id   string
		tags []string
		want bool
	}{
		{"team_a_daily", nil, true},
		{"shared_etl", nil, true},
		{"team_b_daily", nil, false},
		{"team_b_daily", []string{"other", "team-a"}, true},
		{"team_b_daily", []string{"team-b"}, false},
	}
	for _, tc := range tests {
		if got := s.Match(tc.id, tc.tags); got != tc.want {
			t.Errorf("Match(%q, %v) = %v, want %v", tc.id, tc.tags, got, tc.want)
		}
	}
	if !s.UsesTags() || s.All() {
		t.Errorf("UsesTags, All = %v, %v; want true, false", s.UsesTags(), s.All())
	}
	var none *Selector
	if !none.All() || !none.Match("anything", nil) || none.UsesTags() {
		t.Error("a nil selector must select every DAG without tags")
	}
	star := compileSelector("roles.r", []string{"*"}, []string{"x"}, &errs)
	if !star.All() || star.UsesTags() {
		t.Error(`dags ["*"] must select every DAG without tags`)
	}
}
