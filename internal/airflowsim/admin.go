package airflowsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// connection is one Airflow Connection.
type connection struct {
	id, connType string
	description  *string
	host, login  *string
	schema       *string
	port         *int
	password     *string
	extra        *string
}

// renderConnection renders the v1 ConnectionCollectionItem (list) or
// Connection, or the v2 ConnectionResponse with secrets masked as Airflow 3
// does. Airflow 2 never returns the password.
func (c *call) renderConnection(x *connection, list bool) map[string]any {
	out := map[string]any{
		"connection_id": x.id, "conn_type": x.connType, "description": x.description,
		"host": x.host, "login": x.login, "schema": x.schema, "port": x.port,
	}
	if c.v1() {
		if !list {
			out["extra"] = x.extra
		}
		return out
	}
	out["password"] = nil
	if x.password != nil {
		out["password"] = "***"
	}
	out["extra"] = redactExtra(x.extra)
	out["team_name"] = nil
	return out
}

// redactExtra masks the sensitive keys of a connection's JSON extra.
func redactExtra(extra *string) *string {
	if extra == nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal([]byte(*extra), &m) != nil {
		return extra
	}
	for k := range m {
		if sensitive(k) {
			m[k] = "***"
		}
	}
	out, _ := json.Marshal(m)
	return ptr(string(out))
}

// GET /connections
func listConnections(c *call) reply {
	limit, offset, errs := c.page()
	if len(errs) > 0 {
		return c.invalid(errs)
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	all := c.s.st.conns
	lo, hi := window(len(all), limit, offset)
	out := make([]any, 0, hi-lo)
	for _, x := range all[lo:hi] {
		out = append(out, c.renderConnection(x, true))
	}
	return okJSON(map[string]any{"connections": out, "total_entries": len(all)})
}

// GET /connections/{connection_id}
func getConnection(c *call) reply {
	id := c.params["connection_id"]
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for _, x := range c.s.st.conns {
		if x.id == id {
			return okJSON(c.renderConnection(x, false))
		}
	}
	return c.fail(http.StatusNotFound, "Connection not found",
		fmt.Sprintf("The Connection with connection_id: `%s` was not found", id))
}

// pool is one Airflow pool.
type pool struct {
	name            string
	slots           int
	description     *string
	includeDeferred bool
}

// renderPool renders the v1 Pool or v2 PoolResponse with slot counts taken
// from the task instances; needs Server.mu.
func (c *call) renderPool(p *pool) map[string]any {
	count := map[string]int{}
	for _, r := range c.s.st.runs {
		for _, ti := range r.tis {
			if ti.pool == p.name {
				count[ti.state]++
			}
		}
	}
	occupied := count["running"] + count["queued"]
	if p.includeDeferred {
		occupied += count["deferred"]
	}
	return map[string]any{
		"name": p.name, "slots": p.slots, "description": p.description,
		"include_deferred": p.includeDeferred, "occupied_slots": occupied,
		"running_slots": count["running"], "queued_slots": count["queued"],
		"scheduled_slots": count["scheduled"], "deferred_slots": count["deferred"],
		"open_slots": p.slots - occupied,
	}
}

// GET /pools
func listPools(c *call) reply {
	limit, offset, errs := c.page()
	if len(errs) > 0 {
		return c.invalid(errs)
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	all := c.s.st.pools
	lo, hi := window(len(all), limit, offset)
	out := make([]any, 0, hi-lo)
	for _, p := range all[lo:hi] {
		out = append(out, c.renderPool(p))
	}
	return okJSON(map[string]any{"pools": out, "total_entries": len(all)})
}

// GET /pools/{pool_name}
func getPool(c *call) reply {
	name := c.params["pool_name"]
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for _, p := range c.s.st.pools {
		if p.name == name {
			return okJSON(c.renderPool(p))
		}
	}
	if c.v1() {
		return c.fail(http.StatusNotFound, "Not Found", fmt.Sprintf("Pool with name:'%s' not found", name))
	}
	return c.fail(http.StatusNotFound, "", fmt.Sprintf("The Pool with name: `%s` was not found", name))
}

// configSection is one section of airflow.cfg.
type configSection struct {
	name    string
	options [][2]string
}

// config is the configuration the double reports: Airflow 2's or 3's
// settings that matter to a gateway, with the secrets hidden.
func (c *call) config() []configSection {
	core := configSection{"core", [][2]string{
		{"dags_folder", dagsFolder},
		{"executor", "CeleryExecutor"},
		{"load_examples", "False"},
	}}
	db := configSection{"database", [][2]string{{"sql_alchemy_conn", "< hidden >"}}}
	if c.v1() {
		return []configSection{core, db,
			{"webserver", [][2]string{{"expose_config", "True"}, {"secret_key", "< hidden >"}}},
			{"api", [][2]string{{"auth_backends", "airflow.providers.fab.auth_manager.api.auth.backend.basic_auth"},
				{"maximum_page_limit", "100"}}},
		}
	}
	tv := c.s.tokens
	algs := make([]string, 0, len(tv.algs))
	for _, a := range tv.algs {
		algs = append(algs, string(a))
	}
	core.options = append(core.options, [2]string{"auth_manager",
		"airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"})
	return []configSection{core, db,
		{"api", [][2]string{{"expose_config", "True"}, {"maximum_page_limit", "100"}}},
		{"api_auth", [][2]string{
			{"jwt_audience", tv.audience},
			{"jwt_issuer", tv.issuer},
			{"jwt_algorithm", strings.Join(algs, ",")},
			{"jwt_leeway", fmt.Sprint(int(tv.leeway.Seconds()))},
			{"trusted_jwks_url", tv.jwksURL},
		}},
	}
}

// GET /config: 403 unless Options.ExposeConfig, as with Airflow's default
// expose_config = False. Airflow 2 prefers text/plain when the client
// accepts anything; Airflow 3 prefers JSON.
func getConfig(c *call) reply {
	if !c.s.expose {
		return c.fail(http.StatusForbidden, "Forbidden",
			"Your Airflow administrator chose not to expose the configuration, most likely for security reasons.")
	}
	sections := c.config()
	if want := c.query().Get("section"); want != "" {
		var picked []configSection
		for _, s := range sections {
			if s.name == want {
				picked = append(picked, s)
			}
		}
		if picked == nil {
			if c.v1() {
				return c.fail(http.StatusNotFound, "section not found", fmt.Sprintf("section=%s not found.", want))
			}
			return c.fail(http.StatusNotFound, "", fmt.Sprintf("Section %s not found.", want))
		}
		sections = picked
	}
	accept := c.r.Header.Get("Accept")
	text := strings.Contains(accept, "text/plain")
	if c.v1() && (accept == "" || strings.HasPrefix(accept, "*/*")) {
		text = true
	}
	if strings.Contains(accept, "application/json") && !strings.HasPrefix(accept, "text/plain") {
		text = false
	}
	if text {
		var b strings.Builder
		for _, s := range sections {
			fmt.Fprintf(&b, "[%s]\n", s.name)
			for _, o := range s.options {
				fmt.Fprintf(&b, "%s = %s\n", o[0], o[1])
			}
			b.WriteString("\n")
		}
		return reply{status: http.StatusOK, text: b.String(), contentType: "text/plain"}
	}
	out := make([]map[string]any, 0, len(sections))
	for _, s := range sections {
		opts := make([]map[string]any, 0, len(s.options))
		for _, o := range s.options {
			opts = append(opts, map[string]any{"key": o[0], "value": o[1]})
		}
		out = append(out, map[string]any{"name": s.name, "options": opts})
	}
	return okJSON(map[string]any{"sections": out})
}
