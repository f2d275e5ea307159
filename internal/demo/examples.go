package demo

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/airgate/airgate/internal/idp"
)

// Example is one copy-paste step of the demo's instructions: shell lines
// and the answer they must get.
type Example struct {
	// Title says who does what, in a few words.
	Title string
	// Lines are run together in one POSIX shell (sh, bash or zsh).
	Lines []string
	// Status is the HTTP status curl prints as its last line; zero means
	// the commands must succeed (exit status 0).
	Status int
	// Reason is a reason code the response must name (for denials).
	Reason string
}

// Expect renders the expectation as printed: "expect 200", "expect 403
// dag-not-in-scope" or "expect success".
func (e Example) Expect() string {
	switch {
	case e.Status == 0:
		return "expect success"
	case e.Reason != "":
		return fmt.Sprintf("expect %d %s", e.Status, e.Reason)
	}
	return fmt.Sprintf("expect %d", e.Status)
}

// principal is a demo caller: a user (optionally signed in with MFA) or an
// application.
type principal struct {
	user string
	mfa  bool
	app  string
}

// Examples returns the commands the demo prints for r. airgate is how to
// run the airgate binary in a shell (e.g. "airgate", "go run ./cmd/airgate"
// or a quoted path); every other value is quoted here.
func Examples(r Ready, airgate string) []Example {
	api, trigger := "/api/v2", `{"logical_date":null}`
	if r.AirflowVersion == 2 {
		api, trigger = "/api/v1", `{}`
	}
	call := func(title string, who principal, method, path, body string, status int, reason string) Example {
		tok := airgate + " idp token --ready-file " + shq(r.IdPReadyFile)
		switch {
		case who.app != "":
			tok += " --app " + who.app
		case who.mfa:
			tok += " --user " + who.user + " --mfa"
		default:
			tok += " --user " + who.user
		}
		c := []string{`curl -sS -w '\n%{http_code}\n'`}
		if method != "GET" {
			c = append(c, "-X "+method)
		}
		c = append(c, `-H "Authorization: Bearer $TOKEN"`)
		if body != "" {
			c = append(c, "-H 'Content-Type: application/json'", "-d "+shq(body))
		}
		c = append(c, shq(r.Gateway+api+path))
		return Example{Title: title, Lines: []string{"TOKEN=$(" + tok + ")", strings.Join(c, " ")}, Status: status, Reason: reason}
	}
	// narrowed exchanges the etl-agent's Entra token (RFC 8693) for an
	// airgate token limited to triggering team_a_daily, and triggers path
	// with it.
	narrowed := func(title, path string, status int, reason string) Example {
		e := call(title, principal{app: "etl-agent"}, "POST", path, trigger, status, reason)
		e.Lines = []string{
			e.Lines[0],
			"TOKEN=$(" + airgate + " token exchange --config " + shq(r.Config) + ` --subject-token "$TOKEN" --scope dag:team_a_daily:trigger --ttl 15m)`,
			e.Lines[1],
		}
		return e
	}
	alice, bob, carol := principal{user: "alice"}, principal{user: "bob"}, principal{user: "carol"}
	dave, daveMFA, erin := principal{user: "dave"}, principal{user: "dave", mfa: true}, principal{user: "erin"}
	frank, agent := principal{user: "frank"}, principal{app: "etl-agent"}
	return []Example{
		call("alice (team A operator) triggers team_a_daily", alice, "POST", "/dags/team_a_daily/dagRuns", trigger, 200, ""),
		call("alice triggers team B's DAG", alice, "POST", "/dags/team_b_daily/dagRuns", trigger, 403, "dag-not-in-scope"),
		call("bob (viewer) lists all four DAGs", bob, "GET", "/dags", "", 200, ""),
		call("bob cannot trigger anything", bob, "POST", "/dags/team_a_daily/dagRuns", trigger, 403, "permission-missing"),
		call("carol, an admin only through a nested group, reads connections", carol, "GET", "/connections", "", 403, "nested-membership-ignored"),
		call("dave (admin) reads connections without MFA", dave, "GET", "/connections", "", 403, "mfa-required"),
		call("dave reads connections after an MFA sign-in", daveMFA, "GET", "/connections", "", 200, ""),
		call("erin, in no group, lists the DAGs", erin, "GET", "/dags", "", 403, "no-matching-role"),
		call("frank (210 groups: overage, resolved through Graph) triggers team_a_hourly", frank, "POST", "/dags/team_a_hourly/dagRuns", trigger, 200, ""),
		call("the etl-agent app (app role Airflow.Operator) triggers team_a_daily", agent, "POST", "/dags/team_a_daily/dagRuns", trigger, 200, ""),
		narrowed("the etl-agent trades its token for a 15-minute one that may only trigger team_a_daily", "/dags/team_a_daily/dagRuns", 200, ""),
		narrowed("that narrowed token cannot trigger team_a_hourly, though the agent itself may", "/dags/team_a_hourly/dagRuns", 403, "scope-not-granted"),
		{
			Title: "what reached Airflow, and as whom (the double's demo-only request log)",
			Lines: []string{"curl -sSf " + shq(r.Airflow+RequestsPath)},
		},
		{
			Title: "why carol is denied, step by step, from her token",
			Lines: []string{
				"TOKEN=$(" + airgate + " idp token --ready-file " + shq(r.IdPReadyFile) + " --user carol)",
				airgate + ` explain --config ` + shq(r.Config) + ` --token "$TOKEN" GET ` + api + "/connections",
			},
		},
		{
			Title: "every denial so far, with its reasons, from the audit log",
			Lines: []string{airgate + " audit query --config " + shq(r.Config) + " --decision deny"},
		},
		{
			Title: "verify the audit log's hash chain and signed checkpoints",
			Lines: []string{airgate + " audit verify --config " + shq(r.Config)},
		},
	}
}

// users describes the demo tenant's callers and what the demo policy gives
// them.
var users = [][3]string{
	{"alice", "airflow-team-a-operators", "reads and triggers team_a_* DAGs"},
	{"bob", "airflow-viewers", "Viewer: reads everything, changes nothing"},
	{"carol", "platform-engineers (inside airflow-admins)", "nothing: admin counts direct members only"},
	{"dave", "airflow-admins", "Admin, after a multi-factor sign-in only"},
	{"erin", "no groups", "nothing"},
	{"frank", "210 groups (overage), team A among them", "as alice; groups read from Microsoft Graph"},
	{"etl-agent", "an app with the app role Airflow.Operator", "triggers team_a_* DAGs"},
}

// WriteInstructions prints what the demo runs and what to do next: the
// browser URL, the demo users, and [Examples] with their expected answers.
func WriteInstructions(w io.Writer, r Ready, airgate string) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "airgate demo: Airflow %d behind airgate, with an emulated Microsoft Entra ID tenant.\n\n", r.AirflowVersion)
	api := "/api/v2"
	if r.AirflowVersion == 2 {
		api = "/api/v1"
	}
	files := "airgate.yaml, policy.yaml, audit.db, idp.json"
	if r.TempDir {
		files += "; removed on exit"
	}
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  airgate\t%s\tthe gateway: the only way in\n", r.Gateway)
	fmt.Fprintf(tw, "  Airflow %d (a double)\t%s\tserves %s, trusting only airgate\n", r.AirflowVersion, r.Airflow, api)
	idpURL := strings.TrimSuffix(r.IdP.AuthorityHost, "/")
	if idpURL == "" {
		idpURL = r.IdP.Authority
	}
	fmt.Fprintf(tw, "  Entra ID (emulator)\t%s\tthe demo tenant %s\n", idpURL, r.IdP.Domain)
	fmt.Fprintf(tw, "  files\t%s\t%s\n", r.Dir, files)
	tw.Flush()

	fmt.Fprintf(bw, "\nThe demo tenant's callers (a user's password is the name followed by %s, e.g. %s)\nand what the demo policy (policy.yaml) gives them:\n", idp.DemoPassword(""), idp.DemoPassword("alice"))
	tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	for _, u := range users {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", u[0], u[1], u[2])
	}
	tw.Flush()

	fmt.Fprintf(bw, "\nIn a browser: open %s/ and sign in as one of them (tick MFA for dave).\n", r.Gateway)
	fmt.Fprintf(bw, "\nWith the API: paste each indented block into a shell; the line above it says what you get.\n\n")
	for _, e := range Examples(r, airgate) {
		fmt.Fprintf(bw, "%s: %s\n", e.Title, e.Expect())
		for _, l := range e.Lines {
			fmt.Fprintf(bw, "    %s\n", l)
		}
		fmt.Fprintln(bw)
	}
	fmt.Fprintf(bw, "Other commands take --config %s. Stop the demo with Ctrl-C.\n", shq(r.Config))
	return bw.Flush()
}

var expectLine = regexp.MustCompile(`^(\S.*): expect (success|\d{3})(?: ([a-z0-9-]+))?$`)

// ParseExamples reads the examples back from WriteInstructions' output:
// each line ending in ": expect ..." and the indented lines under it. Tests
// use it to run the printed commands exactly as printed.
func ParseExamples(out io.Reader) ([]Example, error) {
	var exs []Example
	var cur *Example
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if cur != nil {
			if l, ok := strings.CutPrefix(line, "    "); ok {
				cur.Lines = append(cur.Lines, l)
				continue
			}
			exs = append(exs, *cur)
			cur = nil
		}
		m := expectLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		cur = &Example{Title: m[1], Reason: m[3]}
		if m[2] != "success" {
			cur.Status, _ = strconv.Atoi(m[2])
		}
	}
	if cur != nil {
		exs = append(exs, *cur)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, e := range exs {
		if len(e.Lines) == 0 {
			return nil, fmt.Errorf("demo: example %q has no commands", e.Title)
		}
	}
	return exs, nil
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:@%+=,-]+$`)

// shq quotes s for a POSIX shell when it needs quoting.
func shq(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ShellQuote quotes s for a POSIX shell when it needs quoting, as the
// printed commands do.
func ShellQuote(s string) string { return shq(s) }
