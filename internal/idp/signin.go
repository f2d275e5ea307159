package idp

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// The sign-in page is deliberately plain HTML without scripts: one form,
// an MFA checkbox and one submit button per user whose visible text is the
// user's UPN, so a headless browser (or a program) can sign in by
// clicking a button.
var signInTmpl = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in to your account</title>
<style>
body{font-family:"Segoe UI",system-ui,sans-serif;background:#f2f2f2;margin:0}
main{max-width:440px;margin:48px auto;background:#fff;padding:36px 44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
h1{font-size:24px;font-weight:600;margin:0 0 8px}
p.note{color:#605e5c;font-size:13px}
ul{list-style:none;padding:0}
li{margin:6px 0}
button{width:100%;text-align:left;padding:10px 12px;font-size:15px;border:1px solid #8a8886;background:#fff;cursor:pointer}
button:hover,button:focus{background:#f3f2f1}
label.mfa{display:block;margin:16px 0;font-size:15px}
</style>
</head>
<body>
<main>
<h1>Pick an account</h1>
<p>to continue to <strong>{{.App}}</strong> ({{.Tenant}})</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="request" value="{{.Request}}">
<label class="mfa" for="mfa"><input type="checkbox" id="mfa" name="mfa" value="on"> Require MFA</label>
<ul id="accounts">
{{range .Users}}<li><button type="submit" name="user" value="{{.Name}}"{{if .Hint}} autofocus{{end}}>{{.UPN}}</button></li>
{{end}}</ul>
</form>
<p class="note">airgate Entra ID emulator: development only. No password is asked.</p>
</main>
</body>
</html>
`))

var errorTmpl = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in error</title></head>
<body>
<main>
<h1>Sorry, but we're having trouble signing you in.</h1>
<p id="message">{{.Message}}</p>
<dl>
<dt>Error</dt><dd>{{.Error}}</dd>
<dt>Trace ID</dt><dd>{{.TraceID}}</dd>
<dt>Correlation ID</dt><dd>{{.CorrelationID}}</dd>
<dt>Timestamp</dt><dd>{{.Timestamp}}</dd>
</dl>
</main>
</body>
</html>
`))

var formPostTmpl = template.Must(template.New("formpost").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Working...</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"></noscript>
</form>
</body>
</html>
`))

type signInUser struct {
	Name, UPN string
	Hint      bool
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request, id string, client *app, loginHint, redirectURI string) {
	var users []signInUser
	for _, u := range s.dir.users {
		users = append(users, signInUser{Name: u.name, UPN: u.upn, Hint: loginHint != "" && strings.EqualFold(loginHint, u.upn)})
	}
	// The form posts here, and the answer redirects to the application:
	// browsers apply form-action to that redirect too, so the (already
	// validated) redirect URI's origin must be allowed as well.
	formAction := "'self'"
	if u, err := url.Parse(redirectURI); err == nil && u.Scheme != "" && u.Host != "" {
		formAction += " " + u.Scheme + "://" + u.Host
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action "+formAction)
	renderHTML(w, http.StatusOK, signInTmpl, map[string]any{
		"App": client.displayName, "Tenant": s.dir.displayName, "Action": r.URL.Path,
		"Request": id, "Users": users,
	})
}

type formField struct{ Name, Value string }

// formPost delivers params with response_mode=form_post: an auto-submitting
// form posting to the redirect URI.
func (s *Server) formPost(w http.ResponseWriter, action string, params url.Values) {
	var fields []formField
	for k, vs := range params {
		for _, v := range vs {
			fields = append(fields, formField{k, v})
		}
	}
	renderHTML(w, http.StatusOK, formPostTmpl, map[string]any{"Action": template.URL(action), "Fields": fields})
}

func renderHTML(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
