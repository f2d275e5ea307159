package catalog

// v2Rules holds what Airflow checks for each operation of the v2 API,
// keyed by operationId.
var v2Rules = map[string]Rule{}
