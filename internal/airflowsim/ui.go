package airflowsim

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
)

// uiUserHeader is the header a gateway may set to tell Airflow 2 (with
// AUTH_REMOTE_USER-style setups) who is signed in; the page shows it.
const uiUserHeader = "X-Airgate-User"

var uiPage = template.Must(template.New("ui").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Airflow (airflowsim)</title></head>
<body>
<h1>Airflow</h1>
<p>This page stands in for Airflow's web UI; it is served by airgate's Airflow double, not by Airflow.</p>
<dl id="identity">
{{- if .User}}
<dt>Airflow 2 user (basic auth)</dt><dd id="basic-user">{{.User}}</dd>
{{- end}}
{{- if .Header}}
<dt>{{.HeaderName}}</dt><dd id="header-user">{{.Header}}</dd>
{{- end}}
{{- if .Subject}}
<dt>Airflow 3 user (JWT sub)</dt><dd id="jwt-sub">{{.Subject}}</dd>
<dt>Role</dt><dd id="jwt-role">{{.Role}}</dd>
{{- end}}
{{- if .TokenError}}
<dt>Token</dt><dd id="token-error">{{.TokenError}}</dd>
{{- end}}
{{- if not (or .User .Header .Subject)}}
<dt>Signed in</dt><dd id="anonymous">no one</dd>
{{- end}}
</dl>
</body>
</html>
`))

// serveUI answers / and /home with a page naming the user it received:
// the Airflow 2 basic-auth user and X-Airgate-User header, and the
// Airflow 3 JWT subject from the _token cookie or a bearer header. Every
// value is HTML-escaped.
func (s *Server) serveUI(w http.ResponseWriter, r *http.Request, rec Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.record(rec)
		writeReply(w, reply{status: http.StatusMethodNotAllowed, body: v2Error{Detail: "Method Not Allowed"},
			header: http.Header{"Allow": {"GET, HEAD"}}})
		return
	}
	data := struct {
		User, Header, HeaderName, Subject, Role, TokenError string
	}{HeaderName: uiUserHeader, Header: r.Header.Get(uiUserHeader)}
	if user, ok := s.checkBasic(r); ok {
		data.User = user
		rec.Identity.User = user
	}
	claims, err := s.tokens.verifyRequest(r)
	switch {
	case err == nil:
		data.Subject, data.Role = claims.sub, claims.role
		rec.Identity.Subject, rec.Identity.Role = claims.sub, claims.role
	case errors.Is(err, errTokenExpired):
		data.TokenError = "Token Expired"
	case !errors.Is(err, errNoToken):
		data.TokenError = "Invalid JWT token"
	}
	s.record(rec)
	var buf bytes.Buffer
	if err := uiPage.Execute(&buf, data); err != nil {
		http.Error(w, "rendering page", http.StatusInternalServerError)
		return
	}
	writeReply(w, reply{status: http.StatusOK, text: buf.String(), contentType: "text/html; charset=utf-8"})
}
