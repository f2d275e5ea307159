// Package airflow embeds Apache Airflow's OpenAPI specifications, unmodified,
// so that airgate's route catalogue and tests never depend on a network copy.
//
// The files are Apache-2.0 licensed (see LICENSE and NOTICE beside this file);
// SOURCE.md records where each one came from.
package airflow

import _ "embed"

// V1 is the Airflow 2.10 stable REST API specification, served under /api/v1.
//
//go:embed openapi-v1.yaml
var V1 []byte

// V2 is the Airflow 3 public REST API specification, served under /api/v2.
//
//go:embed openapi-v2.yaml
var V2 []byte

// AuthSimple is the simple auth manager's token API, mounted at /auth.
//
//go:embed openapi-v2-auth-simple-auth-manager.yaml
var AuthSimple []byte

// AuthFAB is the FAB auth manager's token and role API, mounted at /auth.
//
//go:embed openapi-v2-auth-fab-auth-manager.yaml
var AuthFAB []byte

// AuthKeycloak is the Keycloak auth manager's login and token API, mounted at /auth.
//
//go:embed openapi-v2-auth-keycloak-auth-manager.yaml
var AuthKeycloak []byte
