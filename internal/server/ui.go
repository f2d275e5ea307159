package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/airgate/airgate/internal/authz"
	"github.com/airgate/airgate/internal/catalog"
)

// Airflow's web UI through airgate.
//
// The catalogue knows Airflow's REST APIs; the UI is everything else a
// browser asks for. airgate authorizes it in three parts:
//
//   - The UI shell: pages and static assets outside the APIs (/, /home,
//     /static/..., Airflow 2's server-rendered pages, Airflow 3's
//     single-page app routes). GET and HEAD only: a signed-in user who
//     holds any airgate role may load them (reason ui-access). The data a
//     page shows comes from API calls, authorized one by one. Airflow 2's
//     pages are rendered by Airflow for the user named in X-Airgate-User,
//     so they are read-only through airgate: changes go through the API.
//   - Airflow 3's private UI API (/ui/...), which is not in Airflow's
//     public spec. Airflow answers it for the role in the JWT airgate mints
//     and does not narrow it per DAG the way airgate's policy does, so
//     airgate requires what Airflow's Viewer holds: reading every DAG (DAG
//     GET for all DAGs, reason all-dags-required otherwise). /ui/config and
//     /ui/auth/menus, which carry no DAG data, need only a role, as the
//     shell does. Other methods are refused (unknown-operation).
//   - The REST API calls the UI makes (/api/v1, /api/v2): authorized like
//     any other request.
//
// Paths that look like an API in another case (/API/v1/...), that do not
// decode cleanly, or that belong to Airflow parts a browser has no
// business with (/execution, /auth, /public, /internal_api) are never
// treated as UI.

// UI operations: synthetic catalogue operations the engine decides like
// any other. They are shared and MUST NOT be modified.
var (
	// uiShellOp needs no permission beyond holding a role.
	uiShellOp = &catalog.Operation{ID: "ui_shell", Method: http.MethodGet, Path: "/*",
		Rule: catalog.Rule{Auth: catalog.AuthRequired, DAG: catalog.DAGNone}}
	// uiPrivateOp is Airflow 3's private UI API: DAG read on every DAG.
	// The engine decides it as a list of DAGs (read on any DAG, narrowed
	// to the readable ones); uiDecision then requires that every DAG be
	// readable, since airgate cannot narrow these responses.
	uiPrivateOp = &catalog.Operation{API: catalog.V2, ID: "ui_private_api", Method: http.MethodGet, Path: "/ui/*",
		Rule: catalog.Rule{Auth: catalog.AuthRequired, DAG: catalog.DAGNone, Filter: catalog.FilterReadable,
			Requires: []catalog.Perm{{Resource: "DAG", Action: http.MethodGet, PerDAG: true, WithoutDAG: catalog.AnyDAG}}}}
)

// reasonUIAccess is the reason of an allowed UI shell request.
const reasonUIAccess authz.Reason = "ui-access"

// uiShellOpenPrivate are the private UI API paths that carry no DAG data.
var uiShellOpenPrivate = map[string]bool{"/ui/config": true, "/ui/auth/menus": true}

// notUIPrefixes are never UI, in any letter case.
var notUIPrefixes = []string{"/api", "/ui", "/auth", "/execution", "/public", "/internal_api", "/oauth2", "/-/", "/.well-known"}

// classifyUI turns the classification of a request the catalogue does not
// know (outside the APIs) into a UI operation when it is one. It leaves
// every other classification alone.
func (rt *runtime) classifyUI(method, rawPath string, c *catalog.Classification) {
	if c.Known() || c.Reason != catalog.ReasonNotAirflowAPI {
		return
	}
	path, ok := cleanUIPath(rawPath)
	if !ok {
		return
	}
	api := catalog.V1
	if rt.cfg.Upstream.AirflowVersion == 3 {
		api = catalog.V2
	}
	if api == catalog.V2 && (path == "/ui" || strings.HasPrefix(path, "/ui/")) {
		if method != http.MethodGet && method != http.MethodHead {
			return // unknown: denied
		}
		op := uiPrivateOp
		if uiShellOpenPrivate[path] {
			op = uiShellOp
		}
		*c = catalog.Classification{API: api, Op: op, Scope: catalog.ScopeAll}
		return
	}
	lower := strings.ToLower(path)
	for _, p := range notUIPrefixes {
		if lower == strings.TrimSuffix(p, "/") || strings.HasPrefix(lower, strings.TrimSuffix(p, "/")+"/") {
			return
		}
	}
	if method != http.MethodGet && method != http.MethodHead {
		return
	}
	*c = catalog.Classification{API: api, Op: uiShellOp, Scope: catalog.ScopeNone}
}

// cleanUIPath decodes a raw path once and refuses what could mean one
// thing to airgate and another to Airflow: bad escapes, encoded slashes or
// backslashes, dot segments, empty segments, control characters.
func cleanUIPath(raw string) (string, bool) {
	if raw == "" || raw[0] != '/' || len(raw) > 2048 {
		return "", false
	}
	lower := strings.ToLower(raw)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.Contains(raw, "\\") || strings.Contains(raw, "//") {
		return "", false
	}
	p, err := url.PathUnescape(raw)
	if err != nil {
		return "", false
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return "", false
		}
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "." || seg == ".." {
			return "", false
		}
	}
	return p, true
}

// isUIShell reports whether the request was classified as the UI shell.
func isUIShell(c catalog.Classification) bool { return c.Op == uiShellOp }

// isUI reports whether the request was classified as any UI operation.
func isUI(c catalog.Classification) bool { return c.Op == uiShellOp || c.Op == uiPrivateOp }

// uiDecision finishes the engine's decision of a UI request: an allowed
// shell request's reason is ui-access; the private UI API is allowed only
// to callers who may read every DAG.
func uiDecision(c catalog.Classification, d authz.Decision) authz.Decision {
	switch {
	case !d.Allow:
	case isUIShell(c):
		d.Reasons = []authz.Reason{reasonUIAccess}
	case c.Op == uiPrivateOp && !d.DAGs.All():
		d = authz.Decision{
			Reasons: []authz.Reason{authz.ReasonAllDAGsRequired},
			Roles:   d.Roles,
			Matched: d.Matched,
			Missing: &catalog.Requirement{Resource: "DAG", Action: http.MethodGet},
		}
	}
	return d
}
