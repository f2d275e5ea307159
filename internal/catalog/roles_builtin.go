package catalog

// fabRoles are Airflow 2.10's FAB roles Viewer, User, Op and Admin.
var fabRoles = []BuiltinRole{}

// simpleRoles are the Airflow 3 simple auth manager's roles viewer, user, op
// and admin.
var simpleRoles = []BuiltinRole{}
