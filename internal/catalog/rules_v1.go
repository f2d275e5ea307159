package catalog

// v1Rules holds what Airflow checks for each operation of the v1 API,
// keyed by operationId.
var v1Rules = map[string]Rule{}
