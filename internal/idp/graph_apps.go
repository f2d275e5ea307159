package idp

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

var (
	permsAppRead  = []string{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permsAppWrite = []string{"Application.ReadWrite.All", "Directory.ReadWrite.All"}
)

// canManage reports whether the caller may read (write false) or change
// (write true) application a: with the tenant-wide permissions, or with
// Application.ReadWrite.OwnedBy when the caller's service principal owns a.
func (c *graphCaller) canManage(a *app, write bool) bool {
	if write && c.has(permsAppWrite...) || !write && c.has(permsAppRead...) {
		return true
	}
	return c.has("Application.ReadWrite.OwnedBy") && slices.Contains(a.owners, c.client)
}

// graphApplications serves /applications/{id} and
// /applications(appId='{appId}'), with addPassword, removePassword and
// PATCH of keyCredentials.
func (s *Server) graphApplications(w http.ResponseWriter, r *http.Request, c *graphCaller, key string, appIDForm bool, rest []string) *graphError {
	a := s.dir.appByKey(key, appIDForm)
	if a == nil {
		return gErr(404, "Request_ResourceNotFound", "Resource '%s' does not exist or one of its queried reference-property objects are not present.", truncate(key, 100))
	}
	op := ""
	if len(rest) == 1 {
		op = rest[0]
	} else if len(rest) > 1 {
		return gErr(400, "BadRequest", "Resource not found for the segment '%s'.", truncate(rest[1], 100))
	}
	switch {
	case op == "" && r.Method == http.MethodGet:
		if !c.canManage(a, false) {
			return errGraphDenied
		}
		obj := s.applicationJSON(a)
		obj["@odata.context"] = s.base() + "/graph/v1.0/$metadata#applications/$entity"
		writeJSON(w, http.StatusOK, selectProps(r, obj))
		return nil
	case op == "" && r.Method == http.MethodPatch:
		if !c.canManage(a, true) {
			return errGraphDenied
		}
		return s.patchApplication(w, r, a)
	case op == "addPassword" && r.Method == http.MethodPost:
		if !c.canManage(a, true) {
			return errGraphDenied
		}
		return s.addPassword(w, r, a)
	case op == "removePassword" && r.Method == http.MethodPost:
		if !c.canManage(a, true) {
			return errGraphDenied
		}
		return s.removePassword(w, r, a)
	case op == "" || op == "addPassword" || op == "removePassword":
		return gErr(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
	}
	return gErr(400, "BadRequest", "Resource not found for the segment '%s'.", truncate(op, 100))
}

func (s *Server) addPassword(w http.ResponseWriter, r *http.Request, a *app) *graphError {
	var body struct {
		PasswordCredential *struct {
			DisplayName   string     `json:"displayName"`
			StartDateTime *time.Time `json:"startDateTime"`
			EndDateTime   *time.Time `json:"endDateTime"`
		} `json:"passwordCredential"`
	}
	if e := readGraphJSON(w, r, &body, true); e != nil {
		return e
	}
	var name string
	var start, end time.Time
	if pc := body.PasswordCredential; pc != nil {
		name = pc.DisplayName
		if pc.StartDateTime != nil {
			start = *pc.StartDateTime
		}
		if pc.EndDateTime != nil {
			end = *pc.EndDateTime
		}
	}
	pc, text, err := s.dir.addPassword(a, name, start, end, s.now())
	if err != nil {
		return gErr(400, "Request_BadRequest", "Invalid value specified for property 'passwordCredential': %s.", err.Error())
	}
	s.log.Info("graph addPassword", "app_id", a.appID, "key_id", pc.keyID, "secret_fp", fingerprint(text))
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context":      s.base() + "/graph/v1.0/$metadata#microsoft.graph.passwordCredential",
		"customKeyIdentifier": nil,
		"displayName":         nilIfEmpty(pc.displayName),
		"endDateTime":         graphTime(pc.end),
		"hint":                pc.hint,
		"keyId":               pc.keyID,
		"secretText":          text,
		"startDateTime":       graphTime(pc.start),
	})
	return nil
}

func (s *Server) removePassword(w http.ResponseWriter, r *http.Request, a *app) *graphError {
	var body struct {
		KeyID string `json:"keyId"`
	}
	if e := readGraphJSON(w, r, &body, false); e != nil {
		return e
	}
	if !isGUID(body.KeyID) {
		return gErr(400, "Request_BadRequest", "Invalid value specified for property 'keyId' of resource 'PasswordCredential'.")
	}
	if !s.dir.removePassword(a, body.KeyID) {
		return gErr(404, "Request_ResourceNotFound", "No password credential found with keyId '%s'.", body.KeyID)
	}
	s.log.Info("graph removePassword", "app_id", a.appID, "key_id", body.KeyID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// patchApplication updates keyCredentials. As in Graph, the list replaces
// the application's certificates: an entry with a key adds or replaces a
// certificate; an entry with only the keyId of an existing certificate
// keeps it; certificates not listed are removed.
func (s *Server) patchApplication(w http.ResponseWriter, r *http.Request, a *app) *graphError {
	var body map[string]json.RawMessage
	if e := readGraphJSON(w, r, &body, false); e != nil {
		return e
	}
	for k := range body {
		if k != "keyCredentials" {
			return gErr(400, "Request_BadRequest", "Property '%s' cannot be updated through the emulator; only keyCredentials is supported.", truncate(k, 100))
		}
	}
	var creds []struct {
		KeyID         string     `json:"keyId"`
		Type          string     `json:"type"`
		Usage         string     `json:"usage"`
		Key           *string    `json:"key"`
		DisplayName   string     `json:"displayName"`
		StartDateTime *time.Time `json:"startDateTime"`
		EndDateTime   *time.Time `json:"endDateTime"`
	}
	raw, ok := body["keyCredentials"]
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err := json.Unmarshal(raw, &creds); err != nil {
		return gErr(400, "BadRequest", "Unable to read JSON request payload: keyCredentials must be an array of keyCredential.")
	}
	_, existing := s.dir.credentials(a)
	var next []*keyCredential
	for i, kc := range creds {
		if kc.Key == nil || *kc.Key == "" {
			found := false
			for _, e := range existing {
				if isGUID(kc.KeyID) && e.keyID == kc.KeyID {
					k := e
					next = append(next, &k)
					found = true
				}
			}
			if !found {
				return gErr(400, "Request_BadRequest", "Invalid value specified for property 'key' of resource 'KeyCredential' at index %d.", i)
			}
			continue
		}
		if kc.Type != "AsymmetricX509Cert" || kc.Usage != "Verify" {
			return gErr(400, "Request_BadRequest", "Invalid value specified for property 'type' or 'usage' of resource 'KeyCredential': only AsymmetricX509Cert with usage Verify is supported.")
		}
		der, err := base64.StdEncoding.DecodeString(*kc.Key)
		if err != nil {
			return gErr(400, "Request_BadRequest", "Invalid value specified for property 'key' of resource 'KeyCredential'.")
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return gErr(400, "Request_BadRequest", "Invalid value specified for property 'key' of resource 'KeyCredential': the key is not an X.509 certificate.")
		}
		var start, end time.Time
		if kc.StartDateTime != nil {
			start = *kc.StartDateTime
		}
		if kc.EndDateTime != nil {
			end = *kc.EndDateTime
		}
		k, err := newKeyCredential(cert, kc.KeyID, kc.DisplayName, start, end)
		if err != nil {
			return gErr(400, "Request_BadRequest", "Invalid value specified for property 'keyId' of resource 'KeyCredential'.")
		}
		next = append(next, k)
	}
	s.dir.replaceKeys(a, next)
	s.log.Info("graph keyCredentials updated", "app_id", a.appID, "count", len(next))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// applicationJSON renders an application as Graph does; secret texts and
// certificate keys are never returned.
func (s *Server) applicationJSON(a *app) map[string]any {
	pcs, kcs := s.dir.credentials(a)
	passwords := []map[string]any{}
	for _, p := range pcs {
		passwords = append(passwords, map[string]any{
			"customKeyIdentifier": nil, "displayName": nilIfEmpty(p.displayName),
			"endDateTime": graphTime(p.end), "hint": p.hint, "keyId": p.keyID,
			"secretText": nil, "startDateTime": graphTime(p.start),
		})
	}
	keys := []map[string]any{}
	for _, k := range kcs {
		keys = append(keys, map[string]any{
			"customKeyIdentifier": base64.StdEncoding.EncodeToString(k.sha1[:]),
			"displayName":         nilIfEmpty(k.displayName),
			"endDateTime":         graphTime(k.end), "key": nil, "keyId": k.keyID,
			"startDateTime": graphTime(k.start), "type": "AsymmetricX509Cert", "usage": "Verify",
		})
	}
	roles := []map[string]any{}
	for _, r := range a.roles {
		roles = append(roles, map[string]any{
			"allowedMemberTypes": r.AllowedMemberTypes, "description": nilIfEmpty(r.Description),
			"displayName": r.DisplayName, "id": r.ID, "isEnabled": true, "origin": "Application", "value": r.Value,
		})
	}
	scopes := []map[string]any{}
	for _, sc := range a.scopes {
		scopes = append(scopes, map[string]any{
			"adminConsentDisplayName": sc.DisplayName, "id": sc.ID, "isEnabled": true,
			"type": "User", "value": sc.Value,
		})
	}
	var groupClaims any
	if a.groupClaims != "" {
		groupClaims = a.groupClaims
	}
	uris := a.identifierURIs
	if uris == nil {
		uris = []string{}
	}
	redirects := a.redirectURIs
	if redirects == nil {
		redirects = []string{}
	}
	publicRedirects := a.publicRedirectURIs
	if publicRedirects == nil {
		publicRedirects = []string{}
	}
	return map[string]any{
		"id":                     a.objectID,
		"appId":                  a.appID,
		"displayName":            a.displayName,
		"signInAudience":         "AzureADMyOrg",
		"identifierUris":         uris,
		"groupMembershipClaims":  groupClaims,
		"isFallbackPublicClient": a.allowPublicClient,
		"appRoles":               roles,
		"api": map[string]any{
			"requestedAccessTokenVersion": a.tokenVersion,
			"oauth2PermissionScopes":      scopes,
		},
		"web":                 map[string]any{"redirectUris": redirects},
		"publicClient":        map[string]any{"redirectUris": publicRedirects},
		"passwordCredentials": passwords,
		"keyCredentials":      keys,
	}
}
