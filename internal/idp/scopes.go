package idp

import (
	"slices"
	"strings"
)

// scopeRequest is a parsed scope parameter: OpenID Connect scopes plus the
// scopes of one resource (the first named, as Entra does).
type scopeRequest struct {
	openid, profile, email, offline bool
	resource                        *app
	resourceID                      string   // the identifier as the client wrote it (v1 aud)
	names                           []string // scope values, e.g. access_as_user; ".default"
	isDefault                       bool
}

func isOIDCScope(s string) bool {
	switch strings.ToLower(s) {
	case "openid", "profile", "email", "offline_access":
		return true
	}
	return false
}

// parseScopes parses a v2 scope parameter. strict (client credentials)
// requires exactly one resource with /.default; otherwise a scope list
// spanning several resources yields a token for the first, and a list of
// only OpenID Connect scopes yields a Microsoft Graph token, as in Entra.
func (s *Server) parseScopes(raw string, strict bool) (scopeRequest, *stsError) {
	var sr scopeRequest
	fields := strings.Fields(raw)
	if len(fields) == 0 {
		return sr, errMissingParam("scope")
	}
	var resourceIDs []string
	byResource := map[*app][]string{}
	for _, f := range fields {
		switch strings.ToLower(f) {
		case "openid":
			sr.openid = true
			continue
		case "profile":
			sr.profile = true
			continue
		case "email":
			sr.email = true
			continue
		case "offline_access":
			sr.offline = true
			continue
		}
		resID, name := graphResource, f
		if i := strings.LastIndex(f, "/"); i >= 0 {
			resID, name = f[:i], f[i+1:]
		}
		if resID == "" || name == "" {
			return sr, invalidScope(f)
		}
		res := s.dir.resource(resID)
		if res == nil {
			return sr, stsErr(400, "invalid_resource", 500011, "The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", truncate(resID, 200), s.dir.displayName)
		}
		if _, seen := byResource[res]; !seen {
			resourceIDs = append(resourceIDs, resID)
		}
		byResource[res] = append(byResource[res], name)
	}
	if len(byResource) == 0 {
		if strict {
			return sr, stsErr(400, "invalid_scope", 1002012, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", truncate(raw, 200))
		}
		// Only OpenID Connect scopes: the access token is for Graph.
		sr.resource, sr.resourceID = s.dir.graph, graphAppID
		sr.names = []string{"User.Read"}
		for _, f := range []string{"openid", "profile", "email"} {
			if slices.ContainsFunc(fields, func(x string) bool { return strings.EqualFold(x, f) }) {
				sr.names = append(sr.names, f)
			}
		}
		return sr, nil
	}
	if len(byResource) > 1 && strict {
		return sr, stsErr(400, "invalid_scope", 700022, "The provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.", truncate(raw, 200))
	}
	sr.resourceID = resourceIDs[0]
	sr.resource = s.dir.resource(sr.resourceID)
	for _, n := range byResource[sr.resource] {
		if n == ".default" {
			sr.isDefault = true
			continue
		}
		if strict {
			return sr, stsErr(400, "invalid_scope", 1002012, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", truncate(raw, 200))
		}
		if !sr.resource.isGraph && !sr.resource.scope(n) {
			return sr, invalidScope(sr.resourceID + "/" + n)
		}
		if !slices.Contains(sr.names, n) {
			sr.names = append(sr.names, n)
		}
	}
	if sr.isDefault {
		// .default means every permission the client was granted; the
		// emulator treats every exposed scope as consented.
		sr.names = nil
		for _, sc := range sr.resource.scopes {
			if !isOIDCScope(sc.Value) {
				sr.names = append(sr.names, sc.Value)
			}
		}
	}
	return sr, nil
}

func invalidScope(scope string) *stsError {
	return stsErr(400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", truncate(scope, 200))
}

// grantedScope renders the scope member of a token response: the
// resource's scopes with the resource prefix, then the OIDC scopes.
func (sr scopeRequest) grantedScope() string {
	var out []string
	if sr.isDefault && len(sr.names) == 0 {
		out = append(out, sr.resourceID+"/.default")
	}
	for _, n := range sr.names {
		if sr.resource.isGraph && isOIDCScope(n) {
			out = append(out, n)
			continue
		}
		prefix := sr.resourceID
		if sr.resource.isGraph && !strings.Contains(prefix, "://") {
			prefix = graphResource
		}
		out = append(out, prefix+"/"+n)
	}
	if sr.openid && !slices.Contains(out, "openid") {
		out = append(out, "openid")
	}
	if sr.profile && !slices.Contains(out, "profile") {
		out = append(out, "profile")
	}
	if sr.email && !slices.Contains(out, "email") {
		out = append(out, "email")
	}
	if sr.offline {
		out = append(out, "offline_access")
	}
	return strings.Join(out, " ")
}

// scp is the scp claim: the delegated scope values, space-separated.
func (sr scopeRequest) scp() string { return strings.Join(sr.names, " ") }
