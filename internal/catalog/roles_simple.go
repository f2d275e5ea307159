package catalog

// simpleRoles are the Airflow 3 simple auth manager's roles viewer, user, op
// and admin.
var simpleRoles = []BuiltinRole{}
