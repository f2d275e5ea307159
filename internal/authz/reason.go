package authz

// Reason is a machine-readable code saying why a decision came out as it
// did. Audit records and metrics carry reasons, never prose.
type Reason string

// Reasons. A role's deny_reason (such as "mfa-required") may appear too.
const (
	// ReasonAllowed: every requirement is held.
	ReasonAllowed Reason = "allowed"
	// ReasonPublicOperation: Airflow serves the operation without
	// authentication.
	ReasonPublicOperation Reason = "public-operation"
	// ReasonAuthenticatedOperation: any authenticated caller may call it.
	ReasonAuthenticatedOperation Reason = "authenticated-operation"
	// ReasonUnknownOperation: the request matched no Airflow operation.
	ReasonUnknownOperation Reason = "unknown-operation"
	// ReasonUnauthenticated: the operation needs a principal and there is
	// none.
	ReasonUnauthenticated Reason = "unauthenticated"
	// ReasonNoMatchingRole: no mapping gives the principal any role.
	ReasonNoMatchingRole Reason = "no-matching-role"
	// ReasonPermissionMissing: no held role grants a requirement.
	ReasonPermissionMissing Reason = "permission-missing"
	// ReasonDAGNotInScope: a held role grants the permission, but its DAG
	// selector does not select the request's DAG.
	ReasonDAGNotInScope Reason = "dag-not-in-scope"
	// ReasonAllDAGsRequired: a held role grants the permission for some
	// DAGs, but Airflow checks it for every DAG here (a "~" wildcard or a
	// list it does not filter).
	ReasonAllDAGsRequired Reason = "all-dags-required"
	// ReasonConditionFailed: a role would grant the requirement, but its
	// condition is false and it names no deny_reason.
	ReasonConditionFailed Reason = "condition-failed"
	// ReasonNestedMembershipIgnored: a group mapping without nested: true
	// would have granted the requirement, but the principal is only an
	// indirect member of the group.
	ReasonNestedMembershipIgnored Reason = "nested-membership-ignored"
	// ReasonDirectGroupsUnresolved: a mapping counts direct membership
	// only, the principal's token lists the group, and the server did not
	// resolve direct memberships (Input.DirectGroupsKnown is false).
	ReasonDirectGroupsUnresolved Reason = "direct-groups-unresolved"
	// ReasonOverageUnresolved: the token had too many groups to list
	// (groups overage) and the server did not resolve them
	// (Input.TransitiveGroupsKnown is false), so nested group mappings
	// could not be checked.
	ReasonOverageUnresolved Reason = "overage-unresolved"
)

// Shared reason lists of the common outcomes; Decisions carry them, and
// callers MUST NOT modify a Decision's Reasons.
var (
	reasonsAllowed         = []Reason{ReasonAllowed}
	reasonsPublic          = []Reason{ReasonPublicOperation}
	reasonsAuthenticated   = []Reason{ReasonAuthenticatedOperation}
	reasonsUnknown         = []Reason{ReasonUnknownOperation}
	reasonsUnauthenticated = []Reason{ReasonUnauthenticated}
)
