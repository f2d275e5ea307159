package idp

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Application permissions that allow each kind of read.
var (
	permsUserRead   = []string{"User.Read.All", "User.ReadWrite.All", "User.ReadBasic.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permsMemberRead = []string{"GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "User.Read.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permsMemberObjs = []string{"User.Read.All", "User.ReadWrite.All", "GroupMember.Read.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)

// graphUsers serves /users/{id|upn}[/memberOf|/transitiveMemberOf|/getMemberObjects].
func (s *Server) graphUsers(w http.ResponseWriter, r *http.Request, c *graphCaller, segs []string) *graphError {
	u := s.dir.userByKey(segs[0])
	if u == nil {
		return gErr(404, "Request_ResourceNotFound", "Resource '%s' does not exist or one of its queried reference-property objects are not present.", truncate(segs[0], 100))
	}
	op := ""
	if len(segs) == 2 {
		op = segs[1]
	} else if len(segs) > 2 {
		return gErr(400, "BadRequest", "Resource not found for the segment '%s'.", truncate(segs[2], 100))
	}
	switch op {
	case "":
		if r.Method != http.MethodGet {
			return gErr(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
		}
		if !c.has(permsUserRead...) {
			return errGraphDenied
		}
		obj := s.userJSON(u)
		obj["@odata.context"] = s.base() + "/graph/v1.0/$metadata#users/$entity"
		writeJSON(w, http.StatusOK, selectProps(r, obj))
		return nil
	case "memberOf", "transitiveMemberOf":
		if r.Method != http.MethodGet {
			return gErr(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
		}
		if !c.has(permsMemberRead...) {
			return errGraphDenied
		}
		var groups []*group
		if op == "transitiveMemberOf" {
			groups = transitiveGroups(u.memberOf)
		} else {
			groups = append(groups, u.memberOf...)
			sort.Slice(groups, func(i, j int) bool { return groups[i].id < groups[j].id })
		}
		objs := make([]map[string]any, len(groups))
		for i, g := range groups {
			objs[i] = selectProps(r, groupJSON(g))
		}
		return s.writePage(w, r, "directoryObjects", objs)
	case "getMemberObjects":
		if r.Method != http.MethodPost {
			return gErr(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
		}
		if !c.has(permsMemberObjs...) {
			return errGraphDenied
		}
		var body struct {
			SecurityEnabledOnly *bool `json:"securityEnabledOnly"`
		}
		if e := readGraphJSON(w, r, &body, false); e != nil {
			return e
		}
		if body.SecurityEnabledOnly == nil {
			return gErr(400, "Request_BadRequest", "Invalid request: the parameter 'securityEnabledOnly' is required.")
		}
		ids := []string{}
		for _, g := range transitiveGroups(u.memberOf) {
			if !*body.SecurityEnabledOnly || g.securityEnabled {
				ids = append(ids, g.id)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"@odata.context": s.base() + "/graph/v1.0/$metadata#Collection(Edm.String)",
			"value":          ids,
		})
		return nil
	}
	return gErr(400, "BadRequest", "Resource not found for the segment '%s'.", truncate(op, 100))
}

// writePage writes one page of a collection with $top paging (default
// 100, at most 999) and an opaque $skiptoken in @odata.nextLink.
func (s *Server) writePage(w http.ResponseWriter, r *http.Request, context string, objs []map[string]any) *graphError {
	q := r.URL.Query()
	top := 100
	if v := q.Get("$top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 999 {
			return gErr(400, "Request_BadRequest", "Invalid page size specified: '%s'. Must be between 1 and 999 inclusive.", truncate(v, 20))
		}
		top = n
	}
	offset := 0
	if v := q.Get("$skiptoken"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "o:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(b), "o:") || n < 0 || n > len(objs) {
			return gErr(400, "Request_BadRequest", "The specified page token value has expired or is invalid.")
		}
		offset = n
	}
	end := min(offset+top, len(objs))
	out := map[string]any{
		"@odata.context": s.base() + "/graph/v1.0/$metadata#" + context,
		"value":          objs[offset:end],
	}
	if end < len(objs) {
		nq := url.Values{}
		for k, vs := range q {
			nq[k] = vs
		}
		nq.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte("o:"+strconv.Itoa(end))))
		out["@odata.nextLink"] = s.base() + r.URL.EscapedPath() + "?" + nq.Encode()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// selectProps applies $select: @odata.type and the listed properties.
func selectProps(r *http.Request, obj map[string]any) map[string]any {
	sel := r.URL.Query().Get("$select")
	if sel == "" {
		return obj
	}
	out := map[string]any{}
	if t, ok := obj["@odata.type"]; ok {
		out["@odata.type"] = t
	}
	if c, ok := obj["@odata.context"]; ok {
		out["@odata.context"] = c
	}
	for _, p := range strings.Split(sel, ",") {
		p = strings.TrimSpace(p)
		if v, ok := obj[p]; ok {
			out[p] = v
		}
	}
	return out
}

func (s *Server) userJSON(u *user) map[string]any {
	var mail any
	if u.mail != "" {
		mail = u.mail
	}
	return map[string]any{
		"@odata.type":       "#microsoft.graph.user",
		"id":                u.id,
		"businessPhones":    []string{},
		"displayName":       u.displayName,
		"givenName":         nilIfEmpty(u.givenName),
		"surname":           nilIfEmpty(u.surname),
		"jobTitle":          nil,
		"mail":              mail,
		"mobilePhone":       nil,
		"officeLocation":    nil,
		"preferredLanguage": nil,
		"userPrincipalName": u.upn,
	}
}

func groupJSON(g *group) map[string]any {
	types := g.groupTypes
	if types == nil {
		types = []string{}
	}
	return map[string]any{
		"@odata.type":     "#microsoft.graph.group",
		"id":              g.id,
		"deletedDateTime": nil,
		"classification":  nil,
		"description":     nilIfEmpty(g.description),
		"displayName":     g.displayName,
		"groupTypes":      types,
		"mail":            nil,
		"mailEnabled":     g.mailEnabled,
		"mailNickname":    g.name,
		"securityEnabled": g.securityEnabled,
		"visibility":      nil,
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
