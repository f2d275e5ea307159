package idp

import "fmt"

// The demo tenant's fixed identifiers. Other tools and tests depend on
// them; they never change.
const (
	DemoTenantID = "6a1f3c9e-2b7d-4e58-9f0a-3c5d7e9b1a24"
	DemoDomain   = "airgate.example"

	DemoAliceID = "a11ce5a1-7c3e-4d2b-8e1f-0a9b8c7d6e01"
	DemoBobID   = "b0b5b0b1-6d2c-4a3e-9f10-1b2c3d4e5f02"
	DemoCarolID = "ca401ca4-5e1d-4b6f-8a20-2c3d4e5f6a03"
	DemoDaveID  = "da7eda7e-4f2a-4c8e-9b30-3d4e5f6a7b04"
	DemoErinID  = "e4140e41-3a1b-4d9f-8c40-4e5f6a7b8c05"
	DemoFrankID = "f4a4cf4a-2b0c-4e0a-9d50-5f6a7b8c9d06"

	DemoGroupAdminsID         = "1a0c0001-0000-4000-8000-0000000000a1"
	DemoGroupTeamAOperatorsID = "1a0c0002-0000-4000-8000-0000000000a2"
	DemoGroupViewersID        = "1a0c0003-0000-4000-8000-0000000000a3"
	DemoGroupPlatformID       = "1a0c0004-0000-4000-8000-0000000000a4"

	DemoAirgateClientID      = "a19a7e00-0000-4000-8000-000000000001"
	DemoAirgateObjectID      = "a19a7e00-0000-4000-8000-0000000000b1"
	DemoAirgateSPID          = "a19a7e00-0000-4000-8000-0000000000c1"
	DemoAirgateAppIDURI      = "api://airgate"
	DemoETLAgentClientID     = "e71a9e00-0000-4000-8000-000000000002"
	DemoETLAgentObjectID     = "e71a9e00-0000-4000-8000-0000000000b2"
	DemoETLAgentSPID         = "e71a9e00-0000-4000-8000-0000000000c2"
	DemoRoleViewerID         = "7a0e0001-0000-4000-8000-0000000000d1"
	DemoRoleOperatorID       = "7a0e0002-0000-4000-8000-0000000000d2"
	DemoRoleAdminID          = "7a0e0003-0000-4000-8000-0000000000d3"
	DemoScopeAccessAsUserID  = "5c0be001-0000-4000-8000-0000000000e1"
	DemoFrankBulkGroupCount  = 209 // plus airflow-team-a-operators: 210 groups
	demoPasswordSuffix       = "-Airgate-Demo-1"
	demoGroupAdmins          = "airflow-admins"
	demoGroupTeamAOperators  = "airflow-team-a-operators"
	demoGroupViewers         = "airflow-viewers"
	demoGroupPlatform        = "platform-engineers"
	demoAirgate, demoETL     = "airgate", "etl-agent"
	demoRoleViewer           = "Airflow.Viewer"
	demoRoleOperator         = "Airflow.Operator"
	demoRoleAdmin            = "Airflow.Admin"
	demoFrankBulkGroupPrefix = "frank-bulk-"
)

// DemoPassword returns the fixed password of a demo user (e.g. "alice").
func DemoPassword(name string) string { return name + demoPasswordSuffix }

// Demo returns the built-in demo tenant (domain airgate.example):
//
//   - alice: direct member of airflow-team-a-operators
//   - bob: airflow-viewers
//   - carol: platform-engineers, itself a member of airflow-admins (an
//     admin through nesting only, so no Airflow.Admin app role)
//   - dave: direct member of airflow-admins
//   - erin: no groups
//   - frank: 210 groups (overage), directly in airflow-team-a-operators
//
// Applications: airgate (the gateway: web app with a client secret,
// loopback redirect URIs on /oauth2/callback, API api://airgate with scope
// access_as_user and app roles Airflow.Viewer/Operator/Admin, v2 access
// tokens, security groups claim, idtyp, public client flows allowed, Graph
// permissions to read memberships and manage its own credentials) and
// etl-agent (a daemon with a client secret and Airflow.Operator on
// airgate). The groups airflow-admins, airflow-team-a-operators and
// airflow-viewers are assigned Airflow.Admin, Airflow.Operator and
// Airflow.Viewer. Client secrets are generated at each start; passwords
// are fixed ([DemoPassword]). Each call returns a fresh copy.
func Demo() *Tenant {
	u := func(name, id, given, surname string) User {
		return User{
			Name: name, ID: id, UserPrincipalName: name + "@" + DemoDomain,
			DisplayName: given + " " + surname, GivenName: given, Surname: surname,
			Mail: name + "@" + DemoDomain, Password: DemoPassword(name),
		}
	}
	t := &Tenant{
		ID: DemoTenantID, Domain: DemoDomain, DisplayName: "Airgate Demo",
		Settings: Settings{GroupsOverageLimit: defaultLimit, AmrInV2Tokens: true},
		Users: []User{
			u("alice", DemoAliceID, "Alice", "Anders"),
			u("bob", DemoBobID, "Bob", "Brown"),
			u("carol", DemoCarolID, "Carol", "Chen"),
			u("dave", DemoDaveID, "Dave", "Diaz"),
			u("erin", DemoErinID, "Erin", "Evans"),
			u("frank", DemoFrankID, "Frank", "Fischer"),
		},
		Groups: []Group{
			{Name: demoGroupAdmins, ID: DemoGroupAdminsID, Description: "Airflow administrators", Members: []string{"dave", demoGroupPlatform}},
			{Name: demoGroupTeamAOperators, ID: DemoGroupTeamAOperatorsID, Description: "Team A: operate team A's DAGs", Members: []string{"alice", "frank"}},
			{Name: demoGroupViewers, ID: DemoGroupViewersID, Description: "Read-only Airflow users", Members: []string{"bob"}},
			{Name: demoGroupPlatform, ID: DemoGroupPlatformID, Description: "Platform engineering", Members: []string{"carol"}},
		},
		Applications: []Application{
			{
				Name: demoAirgate, AppID: DemoAirgateClientID, ObjectID: DemoAirgateObjectID, ServicePrincipalID: DemoAirgateSPID,
				DisplayName:                 "airgate",
				IdentifierURIs:              []string{DemoAirgateAppIDURI},
				RedirectURIs:                []string{"http://127.0.0.1/oauth2/callback", "http://localhost/oauth2/callback"},
				AllowPublicClient:           true,
				RequestedAccessTokenVersion: 2,
				GroupMembershipClaims:       "SecurityGroup",
				OptionalClaims: OptionalClaims{
					AccessToken: []OptionalClaim{{Name: "idtyp", AdditionalProperties: []string{"include_user_token"}}},
				},
				AppRoles: []AppRole{
					{ID: DemoRoleViewerID, Value: demoRoleViewer, DisplayName: "Airflow viewer", AllowedMemberTypes: []string{"User", "Application"}},
					{ID: DemoRoleOperatorID, Value: demoRoleOperator, DisplayName: "Airflow operator", AllowedMemberTypes: []string{"User", "Application"}},
					{ID: DemoRoleAdminID, Value: demoRoleAdmin, DisplayName: "Airflow administrator", AllowedMemberTypes: []string{"User", "Application"}},
				},
				Scopes:           []PermissionScope{{ID: DemoScopeAccessAsUserID, Value: "access_as_user", DisplayName: "Access airgate as the signed-in user"}},
				Secrets:          []SecretSpec{{DisplayName: "demo"}},
				GraphPermissions: []string{"GroupMember.Read.All", "User.Read.All", "Application.ReadWrite.OwnedBy"},
				Owners:           []string{demoAirgate},
			},
			{
				Name: demoETL, AppID: DemoETLAgentClientID, ObjectID: DemoETLAgentObjectID, ServicePrincipalID: DemoETLAgentSPID,
				DisplayName: "etl-agent",
				Secrets:     []SecretSpec{{DisplayName: "demo"}},
			},
		},
		Assignments: []AppRoleAssignmentSpec{
			{Principal: demoGroupAdmins, Resource: demoAirgate, Role: demoRoleAdmin},
			{Principal: demoGroupTeamAOperators, Resource: demoAirgate, Role: demoRoleOperator},
			{Principal: demoGroupViewers, Resource: demoAirgate, Role: demoRoleViewer},
			{Principal: demoETL, Resource: demoAirgate, Role: demoRoleOperator},
		},
		demo: true,
	}
	for i := 1; i <= DemoFrankBulkGroupCount; i++ {
		name := fmt.Sprintf("%s%03d", demoFrankBulkGroupPrefix, i)
		t.Groups = append(t.Groups, Group{Name: name, DisplayName: fmt.Sprintf("Frank's group %03d", i), Members: []string{"frank"}})
	}
	return t
}
