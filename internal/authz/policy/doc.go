// Package policy parses and compiles airgate's authorization policy: a YAML
// document of roles, written in Airflow's own permission words, and mappings
// from Entra group object ids and app role values to those roles.
//
// A policy file looks like this:
//
//	version: 1
//	roles:
//	  team-a-operator:
//	    description: Read and trigger team A's DAGs
//	    extends: [Viewer]
//	    permissions:
//	      - {resource: "DAGs", actions: [can_read, can_edit]}    # Airflow 2 (FAB)
//	      - {resource: "DAG Runs", actions: [can_read, can_create]}
//	      - {resource: "DAG.RUN", actions: [GET, POST]}           # Airflow 3 (entity, method)
//	    dags: ["team_a_*"]
//	    dag_tags: ["team-a"]
//	    when: "'mfa' in principal.amr"
//	    deny_reason: mfa-required
//	mappings:
//	  - group: 6f1d2c3b-0000-4000-8000-000000000001
//	    name: airflow-team-a-operators
//	    roles: [team-a-operator]
//	  - app_role: Airflow.Operator
//	    roles: [team-a-operator]
//
// [Parse] checks every field (unknown fields, Airflow's resource and action
// vocabularies, DAG globs, CEL conditions, role references and cycles) and
// reports every problem at once, each naming the field path and the bad
// value. The result is an immutable [Policy]: roles with their grants
// resolved through extends, compiled DAG selectors and compiled CEL
// programs. Evaluating requests against it is the job of package authz;
// this package is pure and imports no other airgate package, so the
// built-in Airflow roles are passed in through [Options].
//
// # Semantics of extends
//
// A role that extends another holds the other role's grants narrowed by its
// own DAG selector and its own condition: each resolved [Grant] carries every
// selector and every condition on the path from the role to the role that
// declared it, and all of them must hold. Extending never widens what the
// extended role grants.
package policy
