// Package catalog is airgate's table of Airflow's HTTP operations: for a
// method and a raw request path it finds the Airflow operation, the DAG the
// request names, and every permission Airflow itself would check, in
// Airflow's own words.
//
// The route table is read from Airflow's OpenAPI specifications (embedded
// from third_party/airflow); what Airflow checks for each operation comes from
// the rule tables in rules_*.go, which cite the Airflow source they were read
// from. The package is pure: no I/O beyond the embedded specs.
package catalog
