package catalog

// The auth rules cover the sub-application of whichever auth manager
// [core] auth_manager selects, mounted at /auth. The three specs share
// operationIds for the same method and path (create_token,
// create_token_cli) and, in one case, for different routes with different
// checks (logout, see its Note).
//
// Sources, in the stored versions nearest to apache/airflow main at
// e0c5458c3334544c6432d6bc6b5e9c6345363ef6:
//   - simple: airflow-core/src/airflow/api_fastapi/auth/managers/simple/routes/login.py
//   - FAB: providers/fab/src/airflow/providers/fab/auth_manager/api_fastapi/routes/{login,roles}.py
//     and .../api_fastapi/security.py (requires_fab_custom_view)
//   - Keycloak: providers/keycloak/src/airflow/providers/keycloak/auth_manager/routes/{login,token}.py
//
// FAB role routes call is_authorized_custom_view(method, "Roles"), which the
// FAB auth manager maps to a FAB action through its method map (GET
// can_read, POST can_create, PUT can_edit, DELETE can_delete); the rules
// use FAB words for them.

// authSimple, authFAB and authKeycloak are the folders of the auth managers'
// route modules.
const (
	authSimple   = "airflow-core/src/airflow/api_fastapi/auth/managers/simple/routes/"
	authFAB      = "providers/fab/src/airflow/providers/fab/auth_manager/api_fastapi/routes/"
	authKeycloak = "providers/keycloak/src/airflow/providers/keycloak/auth_manager/routes/"
)

// authRules holds what Airflow checks for each operation of the auth API,
// keyed by operationId.
var authRules = map[string]Rule{
	// Token endpoints of all three auth managers.
	"create_token": {
		Auth: AuthNone, DAG: DAGNone,
		Source: authSimple + "login.py, " + authFAB + "login.py, " + authKeycloak + "token.py: POST /token, no dependency",
		Note:   "Exchanges a username and password for an Airflow JWT (simple: the configured users' generated passwords; FAB: LDAP or database; Keycloak: password grant). Must not be reachable around the gateway.",
	},
	"create_token_cli": {
		Auth: AuthNone, DAG: DAGNone,
		Source: authSimple + "login.py, " + authFAB + "login.py, " + authKeycloak + "token.py: POST /token/cli, no dependency",
		Note:   "Like create_token, with [api_auth] jwt_cli_expiration_time. Must not be reachable around the gateway.",
	},

	// Simple auth manager.
	"create_token_all_admins": {
		Auth: AuthNone, DAG: DAGNone,
		Source: authSimple + "login.py: GET /token, no dependency",
		Note:   "With [core] simple_auth_manager_all_admins=True it issues an admin token (user \"Anonymous\") to anyone with no credentials; otherwise 403.",
	},
	"login_all_admins": {
		Auth: AuthNone, DAG: DAGNone,
		Source: authSimple + "login.py: GET /token/login, no dependency",
		Note:   "With [core] simple_auth_manager_all_admins=True it sets an admin _token cookie for anyone with no credentials and redirects to [api] base_url; otherwise 403.",
	},

	// FAB auth manager: logout and the role API.
	"logout": {
		Auth: AuthAuthenticated, DAG: DAGNone,
		Source: authFAB + "login.py: no dependency; " + authKeycloak + "login.py: user: Depends(get_user)",
		Note:   "One operationId, two routes: FAB's GET /auth/logout needs no authentication (it deletes the session and _token cookies and redirects to login); Keycloak's needs a valid token (it refreshes it to get the id token for the end-session redirect). The stricter one is recorded.",
	},
	"create_role": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"Roles", "can_create", false, Global}},
		Source:   authFAB + "roles.py: requires_fab_custom_view(\"POST\", permissions.RESOURCE_ROLE)",
	},
	"get_roles": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"Roles", "can_read", false, Global}},
		Source:   authFAB + "roles.py: requires_fab_custom_view(\"GET\", permissions.RESOURCE_ROLE)",
	},
	"delete_role": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"Roles", "can_delete", false, Global}},
		Source:   authFAB + "roles.py: requires_fab_custom_view(\"DELETE\", permissions.RESOURCE_ROLE)",
	},
	"get_role": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"Roles", "can_read", false, Global}},
		Source:   authFAB + "roles.py: requires_fab_custom_view(\"GET\", permissions.RESOURCE_ROLE)",
	},
	"patch_role": {
		Auth: AuthRequired, DAG: DAGNone,
		Requires: []Perm{{"Roles", "PATCH", false, Global}},
		Source:   authFAB + "roles.py: requires_fab_custom_view(\"PATCH\", permissions.RESOURCE_ROLE)",
		Note:     "The FAB method map has no PATCH, so Airflow looks up the literal action \"PATCH\" on Roles, which no default role holds (not even Admin): in practice nobody can patch a role, though can_edit on Roles would be the intended permission.",
	},

	// Keycloak auth manager.
	"login": {
		Auth: AuthNone, DAG: DAGNone,
		Source: authKeycloak + "login.py: GET /login, no dependency",
		Note:   "Redirects to Keycloak's authorization endpoint.",
	},
	"login_callback": {
		Auth: AuthNone, DAG: DAGNone,
		Source: authKeycloak + "login.py: GET /login_callback, no dependency",
		Note:   "Exchanges the authorization code with Keycloak and sets the _token cookie: issues Airflow tokens.",
	},
	"logout_callback": {
		Auth: AuthNone, DAG: DAGNone,
		Source: authKeycloak + "login.py: GET /logout_callback, no dependency",
		Note:   "Deletes the _token cookie and redirects to login.",
	},
	"refresh": {
		Auth: AuthAuthenticated, DAG: DAGNone,
		Source: authKeycloak + "login.py: GET /refresh, user: Depends(get_user)",
		Note:   "Refreshes the Keycloak tokens behind the caller's Airflow token and sets a new _token cookie; the next query parameter is the redirect target.",
	},
}
