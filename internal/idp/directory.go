package idp

import (
	"crypto/sha1"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Microsoft Graph's well-known identity in every tenant.
const (
	graphAppID    = "00000003-0000-0000-c000-000000000000"
	graphResource = "https://graph.microsoft.com"
	defaultLimit  = 200
)

// directory is a compiled, validated tenant: principals with resolved
// references. Everything but the credentials is immutable after
// compileTenant; credentials are guarded by mu.
type directory struct {
	tenantID    string
	domain      string
	displayName string
	settings    Settings
	demo        bool

	users  []*user
	groups []*group
	apps   []*app // includes graph
	graph  *app

	byName map[string]any // *user, *group or *app
	byID   map[string]any // lower-case object id -> *user, *group, *app (by SP id)

	mu sync.Mutex // guards the credentials of every app
}

type user struct {
	name, id, upn, displayName, givenName, surname, mail string
	password                                             string
	memberOf                                             []*group // direct
}

type group struct {
	name, id, displayName, description string
	securityEnabled, mailEnabled       bool
	groupTypes                         []string
	memberOf                           []*group // direct parents
	members                            []any    // *user, *group, *app
}

type app struct {
	name, appID, objectID, spID, displayName string
	identifierURIs                           []string
	redirectURIs, publicRedirectURIs         []string
	allowPublicClient                        bool
	tokenVersion                             int // 1 or 2
	groupClaims                              string
	assignmentRequired                       bool
	optional                                 OptionalClaims
	roles                                    []AppRole
	scopes                                   []PermissionScope
	graphPermissions                         []string
	owners                                   []*app
	memberOf                                 []*group // the service principal's direct groups
	isGraph                                  bool

	// assigned maps a principal object id (user, group or service
	// principal) to the app role values assigned to it on this app.
	assigned map[string][]string

	initialSecret string // the first secret's text, for the ready file

	// guarded by directory.mu
	passwords []*passwordCredential
	keys      []*keyCredential
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isGUID(s string) bool { return guidRE.MatchString(s) }

// derivedID returns a stable GUID for a named object of a tenant.
func derivedID(tenantID, kind, name string) string {
	h := sha1.Sum([]byte(strings.ToLower(tenantID) + "/" + kind + "/" + name))
	h[6] = (h[6] & 0x0f) | 0x50 // version 5
	h[8] = (h[8] & 0x3f) | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

func dirOf(path string) string { return filepath.Dir(path) }

// compileTenant validates t and builds the runtime directory. It does not
// modify t. All problems are reported together.
func compileTenant(t *Tenant) (*directory, error) {
	v := &validator{}
	d := &directory{
		tenantID:    strings.ToLower(t.ID),
		domain:      strings.ToLower(t.Domain),
		displayName: t.DisplayName,
		settings:    t.Settings,
		demo:        t.demo,
		byName:      map[string]any{},
		byID:        map[string]any{},
	}
	if !isGUID(t.ID) {
		v.add("id", t.ID, "must be a GUID")
		d.tenantID = derivedID("", "tenant", t.ID)
	}
	if d.domain == "" {
		d.domain = d.tenantID[:8] + ".example"
	}
	if d.displayName == "" {
		d.displayName = d.domain
	}
	if d.settings.GroupsOverageLimit < 0 {
		v.add("settings.groupsOverageLimit", d.settings.GroupsOverageLimit, "must not be negative")
	}
	if d.settings.GroupsOverageLimit == 0 {
		d.settings.GroupsOverageLimit = defaultLimit
	}

	claim := func(field, name string, obj any) {
		if name == "" {
			v.add(field+".name", name, "is required")
			return
		}
		if _, dup := d.byName[name]; dup {
			v.add(field+".name", name, "is already used by another user, group or application")
			return
		}
		d.byName[name] = obj
	}
	objectID := func(field, given, kind, name string) string {
		if given == "" {
			return derivedID(d.tenantID, kind, name)
		}
		if !isGUID(given) {
			v.add(field, given, "must be a GUID")
		}
		return strings.ToLower(given)
	}
	registerID := func(field, id string, obj any) {
		if _, dup := d.byID[id]; dup {
			v.add(field, id, "is already used by another object")
			return
		}
		d.byID[id] = obj
	}

	upns := map[string]bool{}
	for i, s := range t.Users {
		f := fmt.Sprintf("users[%d]", i)
		u := &user{
			name: s.Name, upn: s.UserPrincipalName, displayName: s.DisplayName,
			givenName: s.GivenName, surname: s.Surname, mail: s.Mail, password: s.Password,
		}
		claim(f, s.Name, u)
		u.id = objectID(f+".id", s.ID, "user", s.Name)
		registerID(f+".id", u.id, u)
		if u.upn == "" {
			u.upn = s.Name + "@" + d.domain
		}
		if !strings.Contains(u.upn, "@") {
			v.add(f+".userPrincipalName", u.upn, "must contain @")
		}
		if upns[strings.ToLower(u.upn)] {
			v.add(f+".userPrincipalName", u.upn, "is already used")
		}
		upns[strings.ToLower(u.upn)] = true
		if u.displayName == "" {
			u.displayName = s.Name
		}
		if u.password == "" {
			u.password = newSecretText()
		}
		d.users = append(d.users, u)
	}
	for i, s := range t.Groups {
		f := fmt.Sprintf("groups[%d]", i)
		g := &group{
			name: s.Name, displayName: s.DisplayName, description: s.Description,
			securityEnabled: s.SecurityEnabled == nil || *s.SecurityEnabled,
			mailEnabled:     s.MailEnabled, groupTypes: s.GroupTypes,
		}
		claim(f, s.Name, g)
		g.id = objectID(f+".id", s.ID, "group", s.Name)
		registerID(f+".id", g.id, g)
		if g.displayName == "" {
			g.displayName = s.Name
		}
		d.groups = append(d.groups, g)
	}
	for i, s := range t.Applications {
		f := fmt.Sprintf("applications[%d]", i)
		a := compileApp(v, f, d, s)
		claim(f, s.Name, a)
		registerID(f+".objectId", a.objectID, a)
		registerID(f+".servicePrincipalId", a.spID, a)
		d.apps = append(d.apps, a)
	}
	d.graph = &app{
		name: "Microsoft Graph", appID: graphAppID, objectID: derivedID(d.tenantID, "graph", "application"),
		spID: derivedID(d.tenantID, "graph", "servicePrincipal"), displayName: "Microsoft Graph",
		identifierURIs: []string{graphResource, graphResource + "/"}, tokenVersion: 1, isGraph: true,
		optional: OptionalClaims{AccessToken: []OptionalClaim{{Name: "idtyp"}}},
		scopes:   []PermissionScope{{Value: "User.Read"}, {Value: "User.ReadBasic.All"}, {Value: "GroupMember.Read.All"}, {Value: "openid"}, {Value: "profile"}, {Value: "email"}},
		assigned: map[string][]string{},
	}
	d.apps = append(d.apps, d.graph)
	seenAppIDs := map[string]bool{graphAppID: true}
	seenURIs := map[string]bool{graphResource: true}
	for i, a := range d.apps[:len(d.apps)-1] {
		f := fmt.Sprintf("applications[%d]", i)
		if seenAppIDs[a.appID] {
			v.add(f+".appId", a.appID, "is already used")
		}
		seenAppIDs[a.appID] = true
		for _, u := range a.identifierURIs {
			if seenURIs[strings.ToLower(u)] {
				v.add(f+".identifierUris", u, "is already used")
			}
			seenURIs[strings.ToLower(u)] = true
		}
	}

	// Memberships, now that every name is known.
	for i, s := range t.Groups {
		g := d.groups[i]
		for j, m := range s.Members {
			f := fmt.Sprintf("groups[%d].members[%d]", i, j)
			switch obj := d.byName[m].(type) {
			case *user:
				obj.memberOf = append(obj.memberOf, g)
			case *group:
				if obj == g {
					v.add(f, m, "a group cannot contain itself")
					continue
				}
				obj.memberOf = append(obj.memberOf, g)
			case *app:
				obj.memberOf = append(obj.memberOf, g)
			default:
				v.add(f, m, "names no user, group or application")
				continue
			}
			g.members = append(g.members, d.byName[m])
		}
	}
	for i, s := range t.Applications {
		a := d.apps[i]
		for j, o := range s.Owners {
			owner, ok := d.byName[o].(*app)
			if !ok {
				v.add(fmt.Sprintf("applications[%d].owners[%d]", i, j), o, "names no application")
				continue
			}
			a.owners = append(a.owners, owner)
		}
	}
	for i, s := range t.Assignments {
		f := fmt.Sprintf("appRoleAssignments[%d]", i)
		res, ok := d.byName[s.Resource].(*app)
		if !ok {
			v.add(f+".resource", s.Resource, "names no application")
			continue
		}
		role := res.role(s.Role)
		if role == nil {
			v.add(f+".role", s.Role, "is not an app role of "+s.Resource)
			continue
		}
		var pid, kind string
		switch p := d.byName[s.Principal].(type) {
		case *user:
			pid, kind = p.id, "User"
		case *group:
			pid, kind = p.id, "User"
		case *app:
			pid, kind = p.spID, "Application"
		default:
			v.add(f+".principal", s.Principal, "names no user, group or application")
			continue
		}
		if !slices.Contains(role.AllowedMemberTypes, kind) {
			v.add(f+".role", s.Role, "does not allow member type "+kind)
			continue
		}
		if !slices.Contains(res.assigned[pid], role.Value) {
			res.assigned[pid] = append(res.assigned[pid], role.Value)
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return d, nil
}

func compileApp(v *validator, f string, d *directory, s Application) *app {
	a := &app{
		name: s.Name, displayName: s.DisplayName,
		identifierURIs: s.IdentifierURIs, redirectURIs: s.RedirectURIs,
		publicRedirectURIs: s.PublicClientRedirectURIs, allowPublicClient: s.AllowPublicClient,
		groupClaims: s.GroupMembershipClaims, assignmentRequired: s.AppRoleAssignmentRequired,
		optional: s.OptionalClaims, graphPermissions: s.GraphPermissions,
		assigned: map[string][]string{},
	}
	id := func(field, given, kind string) string {
		if given == "" {
			return derivedID(d.tenantID, kind, s.Name)
		}
		if !isGUID(given) {
			v.add(f+"."+field, given, "must be a GUID")
		}
		return strings.ToLower(given)
	}
	a.appID = id("appId", s.AppID, "appId")
	a.objectID = id("objectId", s.ObjectID, "application")
	a.spID = id("servicePrincipalId", s.ServicePrincipalID, "servicePrincipal")
	if a.displayName == "" {
		a.displayName = s.Name
	}
	switch s.RequestedAccessTokenVersion {
	case 0, 1:
		a.tokenVersion = 1
	case 2:
		a.tokenVersion = 2
	default:
		v.add(f+".requestedAccessTokenVersion", s.RequestedAccessTokenVersion, "must be 1, 2 or absent")
	}
	switch strings.ToLower(s.GroupMembershipClaims) {
	case "", "none":
		a.groupClaims = ""
	case "securitygroup":
		a.groupClaims = "SecurityGroup"
	case "all":
		a.groupClaims = "All"
	case "applicationgroup":
		a.groupClaims = "ApplicationGroup"
	default:
		v.add(f+".groupMembershipClaims", s.GroupMembershipClaims, "must be None, SecurityGroup, All or ApplicationGroup")
	}
	for j, u := range s.IdentifierURIs {
		if !strings.Contains(u, ":") {
			v.add(fmt.Sprintf("%s.identifierUris[%d]", f, j), u, "must be a URI such as api://name")
		}
	}
	for j, u := range append(slices.Clone(s.RedirectURIs), s.PublicClientRedirectURIs...) {
		if _, err := parseRedirect(u); err != nil {
			v.add(fmt.Sprintf("%s.redirectUris[%d]", f, j), u, err.Error())
		}
	}
	for j, oc := range append(slices.Clone(s.OptionalClaims.AccessToken), s.OptionalClaims.IDToken...) {
		switch oc.Name {
		case "idtyp", "upn", "email", "family_name", "given_name", "aud", "preferred_username", "ipaddr":
		default:
			v.add(fmt.Sprintf("%s.optionalClaims[%d].name", f, j), oc.Name, "is not an optional claim the emulator supports")
		}
	}
	seenRoles := map[string]bool{}
	for j, r := range s.AppRoles {
		rf := fmt.Sprintf("%s.appRoles[%d]", f, j)
		if r.Value == "" || strings.ContainsAny(r.Value, " \t") {
			v.add(rf+".value", r.Value, "must be a non-empty word")
		}
		if seenRoles[r.Value] {
			v.add(rf+".value", r.Value, "is already used")
		}
		seenRoles[r.Value] = true
		if r.ID == "" {
			r.ID = derivedID(d.tenantID, "appRole/"+s.Name, r.Value)
		} else if !isGUID(r.ID) {
			v.add(rf+".id", r.ID, "must be a GUID")
		}
		if r.DisplayName == "" {
			r.DisplayName = r.Value
		}
		if len(r.AllowedMemberTypes) == 0 {
			r.AllowedMemberTypes = []string{"User", "Application"}
		}
		for _, m := range r.AllowedMemberTypes {
			if m != "User" && m != "Application" {
				v.add(rf+".allowedMemberTypes", m, "must be User or Application")
			}
		}
		a.roles = append(a.roles, r)
	}
	for j, sc := range s.Scopes {
		sf := fmt.Sprintf("%s.scopes[%d]", f, j)
		if sc.Value == "" || strings.ContainsAny(sc.Value, " \t/") {
			v.add(sf+".value", sc.Value, "must be a non-empty word without /")
		}
		if sc.ID == "" {
			sc.ID = derivedID(d.tenantID, "scope/"+s.Name, sc.Value)
		}
		if sc.DisplayName == "" {
			sc.DisplayName = sc.Value
		}
		a.scopes = append(a.scopes, sc)
	}
	now := time.Now()
	for j, sec := range s.Secrets {
		sf := fmt.Sprintf("%s.secrets[%d]", f, j)
		pc, text, err := newPasswordCredential(sec.Value, sec.KeyID, sec.DisplayName, sec.Start, sec.End, now)
		if err != nil {
			v.add(sf, "", err.Error())
			continue
		}
		if a.initialSecret == "" {
			a.initialSecret = text
		}
		a.passwords = append(a.passwords, pc)
	}
	for j, c := range s.Certificates {
		cf := fmt.Sprintf("%s.certificates[%d]", f, j)
		cert, err := parseCertPEM([]byte(c.PEM))
		if err != nil {
			v.add(cf+".pem", "", err.Error())
			continue
		}
		kc, err := newKeyCredential(cert, c.KeyID, c.DisplayName, c.Start, c.End)
		if err != nil {
			v.add(cf, "", err.Error())
			continue
		}
		a.keys = append(a.keys, kc)
	}
	for j, p := range s.GraphPermissions {
		if !graphPermissionRE.MatchString(p) {
			v.add(fmt.Sprintf("%s.graphPermissions[%d]", f, j), p, "is not a Graph permission name such as GroupMember.Read.All")
		}
	}
	return a
}

var graphPermissionRE = regexp.MustCompile(`^[A-Z][A-Za-z]*(\.[A-Z][A-Za-z]*)+$`)

func (a *app) role(value string) *AppRole {
	for i := range a.roles {
		if a.roles[i].Value == value {
			return &a.roles[i]
		}
	}
	return nil
}

func (a *app) scope(value string) bool {
	for _, s := range a.scopes {
		if strings.EqualFold(s.Value, value) {
			return true
		}
	}
	return false
}

// optionalClaim reports whether the app requested the optional claim name
// for access tokens (access true) or ID tokens, and its additional
// properties.
func (a *app) optionalClaim(access bool, name string) ([]string, bool) {
	list := a.optional.IDToken
	if access {
		list = a.optional.AccessToken
	}
	for _, c := range list {
		if c.Name == name {
			return c.AdditionalProperties, true
		}
	}
	return nil, false
}

// resource finds an app by a resource identifier: an App ID URI (any case,
// with or without a trailing slash), the app id GUID or api://<app id>.
func (d *directory) resource(id string) *app {
	id = strings.TrimSuffix(strings.ToLower(id), "/")
	for _, a := range d.apps {
		if id == a.appID || id == "api://"+a.appID {
			return a
		}
		for _, u := range a.identifierURIs {
			if id == strings.TrimSuffix(strings.ToLower(u), "/") {
				return a
			}
		}
	}
	return nil
}

// client finds an application by its client id.
func (d *directory) client(appID string) *app {
	appID = strings.ToLower(appID)
	for _, a := range d.apps {
		if a.appID == appID && !a.isGraph {
			return a
		}
	}
	return nil
}

// userByKey finds a user by object id or UPN, case-insensitively.
func (d *directory) userByKey(key string) *user {
	key = strings.ToLower(key)
	for _, u := range d.users {
		if u.id == key || strings.ToLower(u.upn) == key {
			return u
		}
	}
	return nil
}

// appByKey finds an application by object id; appIDForm selects lookup by
// client id instead.
func (d *directory) appByKey(key string, appIDForm bool) *app {
	key = strings.ToLower(key)
	for _, a := range d.apps {
		if a.isGraph {
			continue
		}
		if (appIDForm && a.appID == key) || (!appIDForm && a.objectID == key) {
			return a
		}
	}
	return nil
}

// transitiveGroups returns every group reachable from direct through
// nesting, sorted by id.
func transitiveGroups(direct []*group) []*group {
	seen := map[*group]bool{}
	var out []*group
	var walk func([]*group)
	walk = func(gs []*group) {
		for _, g := range gs {
			if seen[g] {
				continue
			}
			seen[g] = true
			out = append(out, g)
			walk(g.memberOf)
		}
	}
	walk(direct)
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// groupClaim returns the group ids a token carries when a's
// groupMembershipClaims applies, for a principal with the given direct
// memberships.
func (a *app) groupClaim(direct []*group) []string {
	var out []string
	switch a.groupClaims {
	case "SecurityGroup", "All":
		for _, g := range transitiveGroups(direct) {
			if a.groupClaims == "All" || g.securityEnabled {
				out = append(out, g.id)
			}
		}
	case "ApplicationGroup":
		// Only groups assigned to the application, and only by direct
		// membership (nested groups are not included).
		for _, g := range direct {
			if _, ok := a.assigned[g.id]; ok {
				out = append(out, g.id)
			}
		}
		sort.Strings(out)
	}
	return out
}

// userRoles returns the app roles of a on the user: assigned to the user
// or to a security group the user is a direct member of. Nested groups do
// not pass assignments on, as in Entra.
func (a *app) userRoles(u *user) []string {
	var out []string
	add := func(vs []string) {
		for _, v := range vs {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	add(a.assigned[u.id])
	for _, g := range u.memberOf {
		if g.securityEnabled {
			add(a.assigned[g.id])
		}
	}
	sort.Strings(out)
	return out
}

// appRoles returns the app roles of a assigned directly to the client's
// service principal; assignments to groups the service principal belongs
// to give no roles, as in Entra. For Graph it is the client's Graph
// application permissions.
func (a *app) appRoles(client *app) []string {
	if a.isGraph {
		out := slices.Clone(client.graphPermissions)
		sort.Strings(out)
		return out
	}
	out := slices.Clone(a.assigned[client.spID])
	sort.Strings(out)
	return out
}

// hasAssignment reports whether the user has any assignment to a (directly
// or through a direct group), for appRoleAssignmentRequired.
func (a *app) userAssigned(u *user) bool {
	if _, ok := a.assigned[u.id]; ok {
		return true
	}
	for _, g := range u.memberOf {
		if _, ok := a.assigned[g.id]; ok {
			return true
		}
	}
	return false
}

func (t *Tenant) loadCertificateFiles(dir string) error {
	for i := range t.Applications {
		for j := range t.Applications[i].Certificates {
			c := &t.Applications[i].Certificates[j]
			if c.File == "" {
				continue
			}
			if c.PEM != "" {
				return fmt.Errorf("idp: tenant: applications[%d].certificates[%d]: pem and file are mutually exclusive", i, j)
			}
			p := c.File
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			b, err := readFileLimited(p, 1<<20)
			if err != nil {
				return fmt.Errorf("idp: tenant: applications[%d].certificates[%d].file: %w", i, j, err)
			}
			c.PEM = string(b)
		}
	}
	return nil
}

// validator collects tenant validation problems.
type validator struct{ problems []string }

func (v *validator) add(field string, value any, msg string) {
	if s, ok := value.(string); ok && s == "" {
		v.problems = append(v.problems, fmt.Sprintf("%s: %s", field, msg))
		return
	}
	v.problems = append(v.problems, fmt.Sprintf("%s: %v: %s", field, value, msg))
}

func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	return &TenantError{Problems: v.problems}
}

// TenantError lists every problem found in a tenant definition.
type TenantError struct {
	Problems []string
}

func (e *TenantError) Error() string {
	return "idp: invalid tenant: " + strings.Join(e.Problems, "; ")
}
