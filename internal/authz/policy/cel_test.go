package policy

import (
	"strings"
	"testing"
	"time"
)

func TestConditionEval(t *testing.T) {
	// 2025-03-05 was a Wednesday; 09:30 UTC is 10:30 in Berlin.
	wed0930 := time.Date(2025, 3, 5, 9, 30, 0, 0, time.UTC)
	sat0930 := time.Date(2025, 3, 8, 9, 30, 0, 0, time.UTC)
	base := Vars{
		Principal: PrincipalVars{Kind: "user", UPN: "alice@example.com", AMR: []string{"pwd", "mfa"}, Groups: []string{"g1"}},
		Request:   RequestVars{Method: "POST", API: "v1", Operation: "post_dag_run", DAGID: "team_a_daily", SourceIP: "10.1.2.3"},
		Now:       wed0930,
	}
	tests := []struct {
		name string
		expr string
		vars func(v *Vars)
		want bool
	}{
		{"mfa present", "'mfa' in principal.amr", nil, true},
		{"mfa absent", "'mfa' in principal.amr", func(v *Vars) { v.Principal.AMR = []string{"pwd"} }, false},
		{"no amr", "'mfa' in principal.amr", func(v *Vars) { v.Principal.AMR = nil }, false},
		{"ip in range", "ip_in(request.source_ip, ['10.0.0.0/8', '192.168.0.0/16'])", nil, true},
		{"ip outside", "ip_in(request.source_ip, ['192.168.0.0/16'])", nil, false},
		{"bare address", "ip_in(request.source_ip, ['10.1.2.3'])", nil, true},
		{"ipv6", "ip_in(request.source_ip, ['2001:db8::/32'])", func(v *Vars) { v.Request.SourceIP = "2001:db8::1" }, true},
		{"4in6 source", "ip_in(request.source_ip, ['10.0.0.0/8'])", func(v *Vars) { v.Request.SourceIP = "::ffff:10.1.2.3" }, true},
		{"no source ip", "ip_in(request.source_ip, ['0.0.0.0/0'])", func(v *Vars) { v.Request.SourceIP = "" }, false},
		{"office hours Berlin", "in_hours(now, 'Europe/Berlin', '08:00', '18:00')", nil, true},
		{"before hours", "in_hours(now, 'Europe/Berlin', '11:00', '18:00')", nil, false},
		{"night window wraps", "in_hours(now, 'UTC', '22:00', '06:00')", nil, false},
		{"night window inside", "in_hours(now, 'UTC', '22:00', '10:00')", nil, true},
		{"weekday", "weekday_in(now, 'Europe/Berlin', ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'])", nil, true},
		{"weekend", "weekday_in(now, 'Europe/Berlin', ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'])", func(v *Vars) { v.Now = sat0930 }, false},
		{"standard accessor with zone", "now.getHours('Europe/Berlin') == 10", nil, true},
		{"request fields", "request.operation == 'post_dag_run' && request.dag_id.startsWith('team_a_') && request.api == 'v1'", nil, true},
		{"principal fields", "principal.kind == 'user' && principal.upn.endsWith('@example.com') && 'g1' in principal.groups", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var errs problems
			c := compileCondition("roles.r.when", "r", tc.expr, "", &errs)
			if len(errs) > 0 {
				t.Fatalf("compile %q: %v", tc.expr, errs)
			}
			v := base
			if tc.vars != nil {
				tc.vars(&v)
			}
			got, err := c.Eval(&v)
			if err != nil {
				t.Fatalf("Eval() error = %v", err)
			}
			if got != tc.want {
				t.Errorf("Eval(%s) = %v, want %v", tc.expr, got, tc.want)
			}
		})
	}
}

func TestConditionEvalError(t *testing.T) {
	var errs problems
	c := compileCondition("roles.r.when", "r", "ip_in(request.source_ip, [request.path])", "", &errs)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	_, err := c.Eval(&Vars{Request: RequestVars{SourceIP: "10.0.0.1", Path: "not a cidr"}})
	if err == nil || !strings.Contains(err.Error(), "evaluating roles.r.when") {
		t.Errorf("Eval() error = %v, want an evaluation error naming the field", err)
	}
}
