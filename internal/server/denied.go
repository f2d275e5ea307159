package server

import (
	"bytes"
	"html/template"
	"mime"
	"net/http"
	"strings"

	"github.com/airgate/airgate/internal/authz"
	"github.com/airgate/airgate/internal/catalog"
)

// wantsHTML reports whether the client is a browser asking for a page
// (navigation), so that a denial is shown as HTML rather than JSON. API
// clients and the UI's own fetch calls send Accept: application/json or
// */* and keep JSON.
func wantsHTML(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && (mt == "text/html" || mt == "application/xhtml+xml") {
			return true
		}
	}
	return false
}

// reasonText says a reason code in plain words.
var reasonText = map[authz.Reason]string{
	authz.ReasonNoMatchingRole:          "Your account is not mapped to any airgate role, so Airflow is closed to you.",
	authz.ReasonPermissionMissing:       "None of your roles grants the permission this needs.",
	authz.ReasonDAGNotInScope:           "Your roles grant this permission, but not for this DAG.",
	authz.ReasonAllDAGsRequired:         "Your roles grant this for some DAGs only, and this request reaches every DAG.",
	authz.ReasonConditionFailed:         "A role would grant this, but its condition (such as network or time of day) does not hold now.",
	authz.ReasonNestedMembershipIgnored: "You are only an indirect (nested) member of the group that would grant this, and the policy counts direct membership only. Ask to be added to the group itself.",
	authz.ReasonDirectGroupsUnresolved:  "Your direct group memberships could not be resolved.",
	authz.ReasonOverageUnresolved:       "You are in too many groups to list in a token, and they could not be resolved.",
	authz.ReasonUnknownOperation:        "This request matches no Airflow operation airgate knows, so it is not forwarded.",
	authz.ReasonUnauthenticated:         "You are not signed in.",
	"mfa-required":                      "This needs a sign-in with multi-factor authentication. Sign out, then sign in again with MFA.",
}

// deniedView is what the access-denied page shows. Every field is text;
// the template escapes it.
type deniedView struct {
	User      string
	What      string
	Operation string
	DAG       string
	Why       []string
	Reasons   string
	Missing   string
	Roles     string
	Contact   string
	RequestID string
}

var deniedTmpl = template.Must(template.New("denied").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Access denied · airgate</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;color:#1f2328}
main{max-width:640px;margin:48px auto;background:#fff;padding:32px 40px;border-radius:6px;box-shadow:0 1px 4px rgba(0,0,0,.15)}
h1{font-size:22px;margin:0 0 16px}
dt{font-weight:600;margin-top:12px}
dd{margin:4px 0 0}
code{background:#f0f1f3;padding:1px 4px;border-radius:3px}
p.small{color:#59636e;font-size:13px;margin-top:24px}
</style>
</head>
<body>
<main>
<h1>Access denied</h1>
<p id="summary">{{if .User}}<strong id="user">{{.User}}</strong> may not {{.What}}.{{else}}You may not {{.What}}.{{end}}</p>
<dl>
{{- if .Operation}}
<dt>Request</dt><dd id="operation"><code>{{.Operation}}</code>{{if .DAG}} on DAG <code id="dag">{{.DAG}}</code>{{end}}</dd>
{{- end}}
<dt>Why</dt><dd id="why">{{range .Why}}<p>{{.}}</p>{{end}}</dd>
{{- if .Missing}}
<dt>Missing permission</dt><dd id="missing"><code>{{.Missing}}</code></dd>
{{- end}}
<dt>Your roles</dt><dd id="roles">{{if .Roles}}{{.Roles}}{{else}}none{{end}}</dd>
<dt>Reason codes</dt><dd id="reasons"><code>{{.Reasons}}</code></dd>
<dt>Whom to ask</dt><dd id="contact">{{.Contact}}</dd>
<dt>Request id</dt><dd><code id="request-id">{{.RequestID}}</code> (quote it when you ask)</dd>
</dl>
<p class="small"><a href="/oauth2/sign_out">Sign out</a> to use another account.</p>
</main>
</body>
</html>
`))

// refused answers a policy denial: an HTML page for a browser navigation,
// JSON for everyone else (forbidden).
func (s *Server) refused(w http.ResponseWriter, r *http.Request, st *reqState) {
	if !wantsHTML(r) {
		s.forbidden(w, st)
		return
	}
	status := http.StatusForbidden
	if len(st.decision.Reasons) > 0 && st.decision.Reasons[0] == authz.ReasonUnknownOperation {
		status = http.StatusNotFound
	}
	s.deniedPage(w, r, st, status)
}

// deniedPage answers a denied browser navigation with a page that says
// what was denied, why, and whom to ask.
func (s *Server) deniedPage(w http.ResponseWriter, r *http.Request, st *reqState, status int) {
	d := st.decision
	v := deniedView{RequestID: st.id, Contact: st.rt.cfg.Session.Contact}
	if st.principal != nil {
		v.User = st.principal.Name()
	}
	path := requestPath(r)
	switch {
	case isUIShell(st.class):
		v.What = "open Airflow's web UI"
	case st.class.Op != nil:
		v.What = "call this Airflow operation"
		v.Operation = r.Method + " " + path + " (" + st.class.Op.ID + ")"
		v.DAG = st.class.DAGID
	default:
		v.What = "open this address"
		v.Operation = r.Method + " " + path
	}
	var codes []string
	for _, reason := range d.Reasons {
		codes = append(codes, string(reason))
		if t, ok := reasonText[reason]; ok {
			v.Why = append(v.Why, t)
		} else if reason != "" {
			v.Why = append(v.Why, "The policy denies it ("+string(reason)+").")
		}
	}
	if len(v.Why) == 0 {
		v.Why = []string{"The policy denies it."}
	}
	v.Reasons = strings.Join(codes, ", ")
	if m := d.Missing; m != nil {
		v.Missing = missingText(*m)
	}
	v.Roles = strings.Join(d.Roles, ", ")
	var buf bytes.Buffer
	if err := deniedTmpl.Execute(&buf, v); err != nil {
		s.log.Error("rendering the access-denied page", "request_id", st.id, "err", err.Error())
		writeError(w, status, CodeForbidden, denialMessage(d), st.id, codes, nil)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// missingText names a permission in Airflow's words: "can_read on
// Connections", "GET on DAG for DAG team_b_daily".
func missingText(m catalog.Requirement) string {
	t := m.Action + " on " + m.Resource
	switch {
	case m.DAGID != "" && m.DAGID != "~":
		t += " for DAG " + m.DAGID
	case m.AnyDAG:
		t += " for at least one DAG"
	default:
		if m.Resource == "DAG" || strings.HasPrefix(m.Resource, "DAG.") || m.Resource == "DAGs" || m.Resource == "DAG Runs" {
			t += " for every DAG"
		}
	}
	return t
}
