package demo

import _ "embed"

//go:embed policy.yaml
var policyYAML []byte

// Policy returns the demo policy (policy.yaml in this package's source):
// airflow-viewers get Viewer; airflow-team-a-operators read and trigger
// team_a_* DAGs; airflow-admins get Admin after MFA sign-in, for direct
// members only; the app role Airflow.Operator (held by etl-agent) reads and
// triggers team_a_* DAGs. The caller owns the returned slice.
func Policy() []byte { return append([]byte(nil), policyYAML...) }
