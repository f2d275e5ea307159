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
// # Fields
//
//   - version: must be 1.
//   - roles.<name>: a role. Names are letters, digits, "_", "." and "-";
//     Airflow's built-in roles (FAB Viewer, User, Op, Admin; simple auth
//     manager viewer, user, op, admin) exist already and may be extended and
//     mapped, never redefined.
//   - description: free text.
//   - extends: roles whose grants this role includes (see below).
//   - permissions: {resource, actions} pairs in either of Airflow's
//     dialects. FAB: a resource such as "DAGs", "DAG Runs", "Connections"
//     with can_create, can_read, can_edit, can_delete, menu_access. Airflow 3:
//     an entity such as "DAG", "DAG.RUN", "CONNECTION", "VIEW.PLUGINS" with
//     GET, POST, PUT, DELETE. "*" is allowed as a resource or action (and
//     "DAG.*", "VIEW.*", "CUSTOM_VIEW.*" as entities), with a warning.
//     The per-DAG FAB resources "DAG:<id>" and "DAG Run:<id>" are written
//     as DAGs / DAG Runs with a dags selector instead.
//   - dags, dag_tags: the DAGs the role's per-DAG permissions apply to:
//     ids and globs ("*", "?"), or DAGs carrying a tag. Without either,
//     every DAG. Only DAGs, DAG Runs, DAG and DAG.* are per-DAG; Airflow
//     checks every other resource globally, so selectors do not narrow it
//     (resources such as Task Instances are still narrowed in effect,
//     because Airflow checks the DAG itself beside them).
//   - when: a CEL condition (see [Condition]); deny_reason: the reason code
//     reported when it is false and nothing else grants the request.
//   - mappings[i]: group (an Entra group object id) or app_role (an app
//     role value); roles to give; name, for people; nested: count
//     transitive group membership too (default false: direct members
//     only; not allowed for app roles).
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
