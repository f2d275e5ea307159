package airflowsim

import (
	"net/url"
	"strings"
)

// route is one endpoint the double implements.
type route struct {
	api     string
	method  string
	pattern []string // path segments below /api/vN; "{name}" binds one, "{name...}" the rest
	public  bool     // answered without authentication, as in Airflow
	handle  func(*call) reply
}

func r1(method, pattern string, h func(*call) reply) route {
	return route{api: APIv1, method: method, pattern: splitPattern(pattern), handle: h}
}

func r2(method, pattern string, h func(*call) reply) route {
	return route{api: APIv2, method: method, pattern: splitPattern(pattern), handle: h}
}

func public(r route) route { r.public = true; return r }

func splitPattern(p string) []string { return strings.Split(strings.TrimPrefix(p, "/"), "/") }

// routes are the endpoints of both APIs. Anything else under /api/v1 or
// /api/v2 answers 404 in the API's error shape, as Airflow does for a path
// it has no route for.
var routes = []route{
	r1("GET", "/dags", listDAGs),
	r1("GET", "/dags/{dag_id}", getDAG),
	r1("PATCH", "/dags/{dag_id}", patchDAG),
	r1("GET", "/dags/{dag_id}/details", getDAGDetails),
	r1("GET", "/dags/{dag_id}/tasks", listTasks),
	r1("GET", "/dags/{dag_id}/dagRuns", listRuns),
	r1("POST", "/dags/{dag_id}/dagRuns", triggerRun),
	r1("POST", "/dags/~/dagRuns/list", listRunsBatch),
	r1("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}", getRun),
	r1("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances", listTaskInstances),
	r1("GET", "/dagStats", getDagStats),
	r1("GET", "/eventLogs", listEventLogs),
	r1("GET", "/importErrors", listImportErrors),
	r1("GET", "/variables", listVariables),
	r1("POST", "/variables", postVariable),
	r1("GET", "/variables/{variable_key...}", getVariable),
	r1("PATCH", "/variables/{variable_key...}", patchVariable),
	r1("DELETE", "/variables/{variable_key...}", deleteVariable),
	r1("GET", "/connections", listConnections),
	r1("GET", "/connections/{connection_id}", getConnection),
	r1("GET", "/pools", listPools),
	r1("GET", "/pools/{pool_name}", getPool),
	r1("GET", "/config", getConfig),
	r1("PATCH", "/users/{username}", patchUser),
	public(r1("GET", "/health", getHealth)),
	public(r1("GET", "/version", getVersion)),

	r2("GET", "/dags", listDAGs),
	r2("GET", "/dags/{dag_id}", getDAG),
	r2("PATCH", "/dags/{dag_id}", patchDAG),
	r2("GET", "/dags/{dag_id}/details", getDAGDetails),
	r2("GET", "/dags/{dag_id}/tasks", listTasks),
	r2("GET", "/dags/{dag_id}/dagRuns", listRuns),
	r2("POST", "/dags/{dag_id}/dagRuns", triggerRun),
	r2("POST", "/dags/{dag_id}/dagRuns/list", listRunsBatch),
	r2("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}", getRun),
	r2("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances", listTaskInstances),
	r2("GET", "/dagStats", getDagStats),
	r2("GET", "/eventLogs", listEventLogs),
	r2("GET", "/importErrors", listImportErrors),
	r2("GET", "/variables", listVariables),
	r2("POST", "/variables", postVariable),
	r2("GET", "/variables/{variable_key...}", getVariable),
	r2("PATCH", "/variables/{variable_key...}", patchVariable),
	r2("DELETE", "/variables/{variable_key...}", deleteVariable),
	r2("GET", "/connections", listConnections),
	r2("GET", "/connections/{connection_id}", getConnection),
	r2("GET", "/pools", listPools),
	r2("GET", "/pools/{pool_name...}", getPool),
	r2("GET", "/config", getConfig),
	public(r2("GET", "/monitor/health", getHealth)),
	public(r2("GET", "/version", getVersion)),
}

// matchRoute finds the route for an escaped path below the API prefix.
// Segments are unescaped one by one, so %2F stays inside a segment; among
// several matches the one with the most literal segments wins.
func matchRoute(api, method, escaped string) (route, map[string]string, bool) {
	raw := strings.Split(strings.TrimPrefix(escaped, "/"), "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			return route{}, nil, false
		}
		segs[i] = u
	}
	var best route
	var bestParams map[string]string
	bestScore := -1
	for _, rt := range routes {
		if rt.api != api || rt.method != method {
			continue
		}
		params, score, ok := matchSegments(rt.pattern, segs)
		if ok && score > bestScore {
			best, bestParams, bestScore = rt, params, score
		}
	}
	return best, bestParams, bestScore >= 0
}

func matchSegments(pattern, segs []string) (map[string]string, int, bool) {
	params := map[string]string{}
	literals := 0
	for i, p := range pattern {
		if name, ok := strings.CutSuffix(strings.TrimPrefix(p, "{"), "...}"); ok && strings.HasPrefix(p, "{") {
			if i >= len(segs) {
				return nil, 0, false
			}
			rest := strings.Join(segs[i:], "/")
			if rest == "" {
				return nil, 0, false
			}
			params[name] = rest
			return params, literals, true
		}
		if i >= len(segs) {
			return nil, 0, false
		}
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segs[i] == "" {
				return nil, 0, false
			}
			params[p[1:len(p)-1]] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, 0, false
		}
		literals++
	}
	if len(segs) != len(pattern) {
		return nil, 0, false
	}
	return params, literals, true
}
