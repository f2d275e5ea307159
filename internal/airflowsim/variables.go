package airflowsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// variable is one Airflow Variable.
type variable struct {
	key         string
	value       string
	description *string
}

// sensitiveNames are the substrings that make Airflow's secrets masker
// redact a variable's value or a connection field (DEFAULT_SENSITIVE_FIELDS).
var sensitiveNames = []string{"access_token", "api_key", "apikey", "authorization", "passphrase",
	"passwd", "password", "private_key", "secret", "token", "keyfile_dict", "service_account"}

func sensitive(key string) bool {
	k := strings.ToLower(key)
	for _, s := range sensitiveNames {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// renderVariable renders the v1 Variable or the v2 VariableResponse.
// Airflow 3 redacts the values of sensitive keys; Airflow 2 returns them.
func (c *call) renderVariable(v *variable) any {
	if c.v1() {
		return map[string]any{"key": v.key, "value": v.value, "description": v.description}
	}
	val := v.value
	if sensitive(v.key) {
		val = "***"
	}
	return map[string]any{"key": v.key, "value": val, "description": v.description,
		"is_encrypted": true, "team_name": nil}
}

func (st *store) findVariable(key string) (int, *variable) {
	for i, v := range st.vars {
		if v.key == key {
			return i, v
		}
	}
	return -1, nil
}

func (c *call) variableNotFound(key string) reply {
	if c.v1() {
		return c.fail(http.StatusNotFound, "Variable not found", "Variable does not exist")
	}
	return c.fail(http.StatusNotFound, "", fmt.Sprintf("The Variable with key: `%s` was not found", key))
}

// GET /variables: Airflow 2 lists keys and descriptions only.
func listVariables(c *call) reply {
	limit, offset, errs := c.page()
	if len(errs) > 0 {
		return c.invalid(errs)
	}
	match := func(string) bool { return true }
	if p := c.query().Get("variable_key_pattern"); p != "" && !c.v1() {
		match = likeMatcher(p, true)
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	var picked []*variable
	for _, v := range c.s.st.vars {
		if match(v.key) {
			picked = append(picked, v)
		}
	}
	lo, hi := window(len(picked), limit, offset)
	out := make([]any, 0, hi-lo)
	for _, v := range picked[lo:hi] {
		if c.v1() {
			out = append(out, map[string]any{"key": v.key, "description": v.description})
		} else {
			out = append(out, c.renderVariable(v))
		}
	}
	return okJSON(map[string]any{"variables": out, "total_entries": len(picked)})
}

// GET /variables/{variable_key}
func getVariable(c *call) reply {
	key := c.params["variable_key"]
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	_, v := c.s.st.findVariable(key)
	if v == nil {
		return c.variableNotFound(key)
	}
	return okJSON(c.renderVariable(v))
}

// readVariable parses the v1 Variable or the v2 VariableBody. Airflow 3
// accepts any JSON value and stores non-strings as JSON text.
func (c *call) readVariable() (key, value string, desc *string, rep *reply) {
	f, rep := c.object()
	if rep != nil {
		return "", "", nil, rep
	}
	if c.v1() {
		f.only("key", "value", "description")
	} else {
		f.only("key", "value", "description", "team_name")
		f.str("team_name")
	}
	if f.require("key") {
		if k := f.str("key"); k != nil {
			key = *k
		}
	}
	if f.require("value") {
		switch v := f.obj["value"].(type) {
		case string:
			value = v
		default:
			if c.v1() {
				f.str("value") // reports the type error
			} else {
				raw, _ := json.Marshal(v)
				value = string(raw)
			}
		}
	}
	desc = f.str("description")
	if len(f.errs) > 0 {
		r := c.invalid(f.errs)
		return "", "", nil, &r
	}
	return key, value, desc, nil
}

// POST /variables
func postVariable(c *call) reply {
	key, value, desc, rep := c.readVariable()
	if rep != nil {
		return *rep
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if _, existing := c.s.st.findVariable(key); existing != nil {
		if !c.v1() {
			return c.fail(http.StatusConflict, "", fmt.Sprintf("The Variable with key: `%s` already exists", key))
		}
		// Airflow 2's Variable.set overwrites an existing key.
		existing.value, existing.description = value, desc
		c.logEvent(eventLog{}, "variable.create", c.body)
		return okJSON(c.renderVariable(existing))
	}
	v := &variable{key: key, value: value, description: desc}
	c.s.st.vars = append(c.s.st.vars, v)
	c.logEvent(eventLog{}, "variable.create", c.body)
	rep2 := okJSON(c.renderVariable(v))
	if !c.v1() {
		rep2.status = http.StatusCreated
	}
	return rep2
}

// PATCH /variables/{variable_key}
func patchVariable(c *call) reply {
	pathKey := c.params["variable_key"]
	key, value, desc, rep := c.readVariable()
	if rep != nil {
		return *rep
	}
	if key != pathKey {
		if c.v1() {
			return c.fail(http.StatusBadRequest, "Invalid post body", "key from request body doesn't match uri parameter")
		}
		return c.fail(http.StatusBadRequest, "", "Invalid body, key from request body doesn't match uri parameter")
	}
	mask := c.query()["update_mask"]
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	_, v := c.s.st.findVariable(pathKey)
	if v == nil {
		return c.variableNotFound(pathKey)
	}
	if len(mask) == 0 {
		v.value, v.description = value, desc
	}
	for _, field := range mask {
		switch field {
		case "value":
			v.value = value
		case "description":
			v.description = desc
		case "key":
		default:
			return c.fail(http.StatusBadRequest, "", fmt.Sprintf("Invalid field: %s in update mask", field))
		}
	}
	c.logEvent(eventLog{}, "variable.edit", c.body)
	return okJSON(c.renderVariable(v))
}

// DELETE /variables/{variable_key}
func deleteVariable(c *call) reply {
	key := c.params["variable_key"]
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	i, v := c.s.st.findVariable(key)
	if v == nil {
		return c.variableNotFound(key)
	}
	c.s.st.vars = append(c.s.st.vars[:i], c.s.st.vars[i+1:]...)
	c.logEvent(eventLog{}, "variable.delete", nil)
	return reply{status: http.StatusNoContent}
}
