package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/template"

	"github.com/airgate/airgate/internal/idp"
)

// configValues are the facts of one run that go into airgate.yaml.
type configValues struct {
	Listen         string
	PublicURL      string
	Airflow        string
	AirflowVersion int
	IdP            idp.ReadyInfo
}

// configTemplate is the demo's airgate.yaml. Every string goes through q,
// which writes a YAML double-quoted scalar.
var configTemplate = template.Must(template.New("airgate.yaml").Funcs(template.FuncMap{"q": yamlQuote}).Parse(
	`# airgate configuration written by ` + "`airgate demo`" + ` for this run. It is complete:
# ` + "`airgate serve --config`" + ` would run the same gateway, and every command that takes
# --config works with it while the demo runs. Relative paths are resolved against
# this file's directory. docs/README.md explains each section.
listen: {{q .Listen}}
# Development mode: a plain-http public URL and the emulator's secrets. Never in
# production.
dev: true
public_url: {{q .PublicURL}}

session:
  # Browser sign-in: OpenID Connect (authorization code with PKCE) against the
  # emulator; access-denied pages name this contact.
  contact: "whoever runs this demo: edit policy.yaml, then send airgate demo SIGHUP"

entra:
  # The emulator's demo tenant stands in for a real Entra ID tenant; with a real
  # tenant, only this section changes (see docs/entra.md).
  tenant_id: {{q .IdP.TenantID}}
  client_id: {{q .ClientID}}
  client_secret: {file: {{q .ClientSecretFile}}}
  audiences: [{{q .AppIDURI}}, {{q .ClientID}}]
  authority: {{q .Authority}}
  issuer_v1: {{q .IssuerV1}}
  graph_url: {{q .IdP.Graph}}
  ca_file: {{q .CAFile}}

policy:
  file: {{q .PolicyFile}}

upstream:
  url: {{q .Airflow}}
  airflow_version: {{.AirflowVersion}}
{{- if eq .AirflowVersion 2}}
  # Airflow 2: a basic-auth service account callers never see; the caller's
  # identity goes in X-Airgate-User and in the note of the DAG runs they trigger.
  username: {{q .ServiceAccount}}
  password: {file: {{q .AirflowSecretFile}}}
{{- else}}
  # Airflow 3 trusts airgate's JWKS ([api_auth] trusted_jwks_url =
  # {{.PublicURL}}/.well-known/jwks.json); airgate mints a short-lived JWT
  # for each forwarded request, naming the caller and their role.
  jwt_audience: "apache-airflow"
  jwt_issuer: {{q .JWTIssuer}}
  jwt_ttl: 5m
  auth_manager: simple
{{- end}}

# Token exchange (RFC 8693) at /oauth2/token: jobs and agents trade their Entra
# token for a short-lived airgate token limited to named DAGs and actions
# (docs/agents.md). Its issuer is public_url.
exchange:
  enabled: true

# Rotation of the gateway's Entra client secret (through the emulator's
# Microsoft Graph), its signing keys and, for Airflow 2, the service account's
# password. ` + "`airgate secrets status|rotate --config`" + ` work on this store, and the
# running gateway picks up new versions within seconds.
rotation:
  store: file
  enabled: true

audit:
  db: {{q .AuditDB}}
  mode: strict
  # Checkpoints are frequent in the demo so that audit verify has signatures to
  # check after a few requests.
  checkpoint_every: 100
  checkpoint_interval: 10s

keys:
  file: {{q .KeysFile}}

log:
  level: info
  requests: true
`))

// configYAML renders airgate.yaml for v.
func configYAML(v configValues) ([]byte, error) {
	app := v.IdP.Apps["airgate"]
	host := strings.TrimSuffix(v.IdP.AuthorityHost, "/")
	data := struct {
		configValues
		ClientID, AppIDURI, Authority, IssuerV1, CAFile     string
		ClientSecretFile, AirflowSecretFile, ServiceAccount string
		PolicyFile, AuditDB, KeysFile, JWTIssuer            string
	}{
		configValues: v,
		ClientID:     app.ClientID, AppIDURI: app.AppIDURI,
		Authority: host, IssuerV1: host + "/{tenantid}/", CAFile: IdPCAFile,
		ClientSecretFile: ClientSecretFile, AirflowSecretFile: AirflowSecretFile, ServiceAccount: ServiceAccount,
		PolicyFile: PolicyFile, AuditDB: AuditDBFile, KeysFile: KeysFile, JWTIssuer: jwtIssuer,
	}
	var buf bytes.Buffer
	if err := configTemplate.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("demo: rendering %s: %w", ConfigFile, err)
	}
	return buf.Bytes(), nil
}

// yamlQuote writes s as a YAML double-quoted scalar. JSON's string escapes
// are a subset of YAML's.
func yamlQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
