package catalog

// authRules holds what Airflow checks for each operation of the auth API,
// keyed by operationId.
var authRules = map[string]Rule{}
