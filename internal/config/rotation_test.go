package config

import (
	"errors"
	"strings"
	"testing"
)

func TestRotationDefaultsAndValidation(t *testing.T) {
	base := `
entra: {tenant_id: 11111111-1111-1111-1111-111111111111, client_id: 22222222-2222-2222-2222-222222222222}
policy: {file: p.yaml}
upstream: {url: "http://127.0.0.1:8081"}
`
	for _, tc := range []struct {
		name, yaml string
		field      string // "" = valid
	}{
		{"defaults", "", ""},
		{"file store", "rotation: {store: file, enabled: true}", ""},
		{"db without kek", "rotation: {store: db}", "rotation.kek"},
		{"db with kek", "rotation: {store: db, kek: {env: AIRGATE_KEK}}", ""},
		{"unknown store", "rotation: {store: vault}", "rotation.store"},
		{"short lead", "rotation: {signing_key: {lead: 5m}}", "rotation.signing_key.lead"},
		{"overlap below reread", "rotation: {reread: 2s, entra_client_secret: {overlap: 5s}}", "rotation.entra_client_secret.overlap"},
		{"credential", "rotation: {entra_client_secret: {credential: token}}", "rotation.entra_client_secret.credential"},
		{"renew after lifetime", "rotation: {entra_client_secret: {lifetime: 24h, renew_before: 48h}}", "rotation.entra_client_secret.renew_before"},
		{"kek literal outside dev", "rotation: {kek: {insecure_value: x}}", "rotation.kek.insecure_value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(base + tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.field+":") || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want an error on %s", err, tc.field)
			}
		})
	}
	c := Default()
	if c.Rotation.Store != "env" || c.Rotation.Enabled || c.Rotation.SigningKey.Lead.D().Hours() != 1 {
		t.Fatalf("defaults = %+v", c.Rotation)
	}
	c.Audit.DB = "state.db"
	if c.RotationDB() != "state.db" {
		t.Fatalf("RotationDB = %s, want audit.db", c.RotationDB())
	}
}
