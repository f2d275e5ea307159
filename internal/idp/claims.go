package idp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"time"
)

// subject is who a token is about and how the client authenticated.
type subject struct {
	user       *user // nil for app-only tokens
	client     *app
	clientAuth string // appidacr/azpacr: "0" public, "1" secret, "2" certificate
	amr        []string
	sid        string
	ipaddr     string
}

// pairwiseSub is the sub claim: a pairwise identifier unique per user (or
// principal) and token recipient within the tenant, 43 base64url
// characters like Entra's.
func (s *Server) pairwiseSub(recipientAppID, objectID string) string {
	m := hmac.New(sha256.New, []byte("airgate-idp-pairwise/"+s.dir.tenantID))
	m.Write([]byte(recipientAppID + "/" + objectID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// opaque returns the aio/rh-style internal claims Entra adds; resources
// must ignore them.
func opaqueClaims(c map[string]any) {
	c["aio"] = randomToken(48)
	c["rh"] = "1.A" + randomToken(40) + "."
	c["uti"] = randomToken(16)
}

// mintAccessToken issues an access token for sr.resource. Its version is
// the resource's requestedAccessTokenVersion (Graph: always v1).
func (s *Server) mintAccessToken(sub subject, sr scopeRequest) (string, time.Duration, *stsError) {
	res := sr.resource
	now := s.now()
	life := s.accessTokenLifetime()
	v := res.tokenVersion
	c := map[string]any{
		"iss": s.issuer(v),
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(life).Unix(),
		"tid": s.dir.tenantID,
		"ver": "2.0",
	}
	opaqueClaims(c)
	if v == 1 {
		c["ver"] = "1.0"
		aud := sr.resourceID
		if props, ok := res.optionalClaim(true, "aud"); ok && slices.Contains(props, "use_guid") {
			aud = res.appID
		}
		c["aud"] = aud
		c["appid"] = sub.client.appID
		c["appidacr"] = sub.clientAuth
	} else {
		c["aud"] = res.appID
		c["azp"] = sub.client.appID
		c["azpacr"] = sub.clientAuth
	}
	var groups []*group
	var principalID, principalKind string
	if u := sub.user; u != nil {
		if res.assignmentRequired && !res.isGraph && !res.userAssigned(u) {
			return "", 0, stsErr(400, "invalid_grant", 50105, "Your administrator has configured the application %s ('%s') to block users unless they are specifically granted ('assigned') access to the application. The signed in user '%s' is blocked because they are not a direct member of a group with access, nor had access directly assigned by an administrator.", res.displayName, res.appID, u.upn)
		}
		principalID, principalKind, groups = u.id, "users", u.memberOf
		c["oid"] = u.id
		c["sub"] = s.pairwiseSub(res.appID, u.id)
		c["name"] = u.displayName
		c["scp"] = sr.scp()
		if roles := res.userRoles(u); len(roles) > 0 && !res.isGraph {
			c["roles"] = roles
		}
		if v == 1 {
			c["acr"] = "1"
			c["amr"] = sub.amr
			c["unique_name"] = u.upn
			c["upn"] = u.upn
			setIf(c, "family_name", u.surname)
			setIf(c, "given_name", u.givenName)
			setIf(c, "ipaddr", sub.ipaddr)
		} else {
			c["preferred_username"] = u.upn
			if s.dir.settings.AmrInV2Tokens {
				c["amr"] = sub.amr
			}
			s.optionalUserClaims(c, res, true, u, sub)
		}
		if props, ok := res.optionalClaim(true, "idtyp"); ok && slices.Contains(props, "include_user_token") {
			c["idtyp"] = "user"
		}
		if res.isGraph {
			c["idtyp"] = "user"
		}
	} else {
		roles := res.appRoles(sub.client)
		if res.assignmentRequired && len(roles) == 0 {
			return "", 0, stsErr(400, "invalid_grant", 501051, "Application '%s'(%s) is not assigned to a role for the application '%s'(%s).", sub.client.appID, sub.client.displayName, res.appID, res.displayName)
		}
		principalID, principalKind, groups = sub.client.spID, "servicePrincipals", sub.client.memberOf
		c["oid"] = sub.client.spID
		c["sub"] = sub.client.spID
		if len(roles) > 0 {
			c["roles"] = roles
		}
		if v == 1 {
			c["idp"] = s.issuer(1)
		}
		if _, ok := res.optionalClaim(true, "idtyp"); ok {
			c["idtyp"] = "app"
		}
		if res.isGraph {
			c["app_displayname"] = sub.client.displayName
		}
	}
	s.setGroups(c, res, groups, principalKind, principalID)
	tok, err := signJWT(s.keys.signer(), c, v == 1, res.isGraph)
	if err != nil {
		return "", 0, stsErr(500, "server_error", 50000, "There was an error issuing a token.")
	}
	return tok, life, nil
}

// setGroups adds the groups claim the app's groupMembershipClaims asks
// for, or the overage indicator past the tenant's limit.
func (s *Server) setGroups(c map[string]any, a *app, direct []*group, kind, principalID string) {
	ids := a.groupClaim(direct)
	if len(ids) == 0 {
		return
	}
	if len(ids) > s.dir.settings.GroupsOverageLimit {
		c["_claim_names"] = map[string]string{"groups": "src1"}
		c["_claim_sources"] = map[string]any{"src1": map[string]string{
			// Entra points at retired Azure AD Graph; clients must build
			// a Microsoft Graph URL themselves.
			"endpoint": "https://graph.windows.net/" + s.dir.tenantID + "/" + kind + "/" + principalID + "/getMemberObjects",
		}}
		return
	}
	c["groups"] = ids
}

func (s *Server) optionalUserClaims(c map[string]any, a *app, access bool, u *user, sub subject) {
	if _, ok := a.optionalClaim(access, "upn"); ok {
		c["upn"] = u.upn
	}
	if _, ok := a.optionalClaim(access, "email"); ok {
		setIf(c, "email", u.mail)
	}
	if _, ok := a.optionalClaim(access, "family_name"); ok {
		setIf(c, "family_name", u.surname)
	}
	if _, ok := a.optionalClaim(access, "given_name"); ok {
		setIf(c, "given_name", u.givenName)
	}
	if _, ok := a.optionalClaim(access, "ipaddr"); ok {
		setIf(c, "ipaddr", sub.ipaddr)
	}
}

func setIf(c map[string]any, name, value string) {
	if value != "" {
		c[name] = value
	}
}

// mintIDToken issues an ID token for the client; v is the endpoint
// version (v1 endpoints issue v1 ID tokens).
func (s *Server) mintIDToken(sub subject, v int, nonce string, sr scopeRequest) (string, error) {
	u, cl := sub.user, sub.client
	now := s.now()
	c := map[string]any{
		"aud": cl.appID,
		"iss": s.issuer(v),
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(s.idTokenLifetime()).Unix(),
		"oid": u.id,
		"sub": s.pairwiseSub(cl.appID, u.id),
		"tid": s.dir.tenantID,
		"ver": "2.0",
	}
	opaqueClaims(c)
	setIf(c, "nonce", nonce)
	if v == 1 {
		c["ver"] = "1.0"
		c["amr"] = sub.amr
		c["name"] = u.displayName
		c["unique_name"] = u.upn
		c["upn"] = u.upn
		setIf(c, "family_name", u.surname)
		setIf(c, "given_name", u.givenName)
		setIf(c, "ipaddr", sub.ipaddr)
	} else {
		if sr.profile {
			c["name"] = u.displayName
			c["preferred_username"] = u.upn
		}
		if sr.email {
			setIf(c, "email", u.mail)
		}
		setIf(c, "sid", sub.sid)
		if s.dir.settings.AmrInV2Tokens {
			c["amr"] = sub.amr
		}
		s.optionalUserClaims(c, cl, false, u, sub)
	}
	if roles := cl.userRoles(u); len(roles) > 0 {
		c["roles"] = roles
	}
	s.setGroups(c, cl, u.memberOf, "users", u.id)
	return signJWT(s.keys.signer(), c, v == 1, false)
}

// clientInfo is MSAL's client_info: unpadded base64url JSON of the user's
// object and tenant ids.
func (s *Server) clientInfo(u *user) string {
	b, _ := json.Marshal(map[string]string{"uid": u.id, "utid": s.dir.tenantID})
	return base64.RawURLEncoding.EncodeToString(b)
}
