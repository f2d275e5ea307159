// Package airflowsim is a small double of Apache Airflow's REST API for
// tests, the demo and benchmarks; it is not Airflow.
//
// A [Server] answers the Airflow 2 stable API under /api/v1 (HTTP basic
// authentication, like Airflow's basic_auth backend) and the Airflow 3
// public API under /api/v2 (JWTs validated against a trusted key set, like
// [api_auth] trusted_jwks_url), with a handful of DAGs, runs, task
// instances, variables, connections and pools held in memory. Its bodies
// follow Airflow's own OpenAPI specifications (the copies embedded in
// third_party/airflow), and [ValidateResponse] checks any response against
// them, so tests of the gateway can validate what it forwards from a real
// Airflow or from this double alike.
//
// Every request that reaches the server is recorded with the identity it
// authenticated as; [Server.Requests] returns them, so a test can assert
// that a denied request never reached Airflow or that identity headers were
// stripped on the way.
//
// The double is for tests and demos only: it keeps everything in memory,
// implements a subset of the endpoints (others answer 404 in Airflow's
// error shape), and runs no scheduler, so triggered runs stay queued.
package airflowsim
