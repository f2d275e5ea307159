package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airgate/airgate/internal/idp"
)

// startIdP runs `idp serve` in-process until the test ends and returns
// the ready file's path and contents.
func startIdP(t *testing.T, extra ...string) (string, idp.ReadyInfo) {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready.json")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	args := append([]string{"idp", "serve", "--addr", "127.0.0.1:0", "--ready-file", ready}, extra...)
	go func() {
		done <- Run(ctx, args, Stdio{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("idp serve returned %v after cancel, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("idp serve did not stop after cancel")
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("idp serve exited early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("ready file never appeared")
		}
		time.Sleep(20 * time.Millisecond)
	}
	info, err := idp.ReadReadyFile(ready)
	if err != nil {
		t.Fatal(err)
	}
	return ready, info
}

func payload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIdPServeReadyFile(t *testing.T) {
	ready, info := startIdP(t)
	raw, err := os.ReadFile(ready)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatalf("ready file is not JSON: %v", err)
	}
	for _, key := range []string{"authority", "issuer", "tenant_id", "ca_file", "graph", "apps", "users"} {
		if _, ok := generic[key]; !ok {
			t.Errorf("ready file lacks %q", key)
		}
	}
	if info.TenantID != idp.DemoTenantID {
		t.Errorf("tenant_id = %q, want %q", info.TenantID, idp.DemoTenantID)
	}
	if !strings.HasPrefix(info.Authority, "https://127.0.0.1:") || !strings.HasSuffix(info.Authority, "/"+idp.DemoTenantID) {
		t.Errorf("authority = %q", info.Authority)
	}
	if info.Issuer != info.Authority+"/v2.0" {
		t.Errorf("issuer = %q, want %q", info.Issuer, info.Authority+"/v2.0")
	}
	if !strings.HasPrefix(info.Graph, "https://127.0.0.1:") {
		t.Errorf("graph = %q", info.Graph)
	}
	if _, err := os.Stat(info.CAFile); err != nil {
		t.Errorf("ca_file: %v", err)
	}
	gate := info.Apps["airgate"]
	if gate.ClientID != idp.DemoAirgateClientID || gate.ClientSecret == "" || gate.AppIDURI != "api://airgate" {
		t.Errorf("apps.airgate = %+v", gate)
	}
	if etl := info.Apps["etl-agent"]; etl.ClientID != idp.DemoETLAgentClientID || etl.ClientSecret == "" {
		t.Errorf("apps.etl-agent = %+v", etl)
	}
	wantUsers := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	if got := info.UserNames(); !slices.Equal(got, wantUsers) {
		t.Errorf("users = %v, want %v", got, wantUsers)
	}
	if a := info.Users["alice"]; a.UPN != "alice@airgate.example" || a.Password != idp.DemoPassword("alice") || a.OID != idp.DemoAliceID {
		t.Errorf("users.alice = %+v", a)
	}
}

func TestIdPToken(t *testing.T) {
	ready, info := startIdP(t)
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, c map[string]any)
	}{
		{"app", []string{"--app", "etl-agent"}, func(t *testing.T, c map[string]any) {
			if c["idtyp"] != "app" || c["azp"] != idp.DemoETLAgentClientID || c["aud"] != idp.DemoAirgateClientID {
				t.Errorf("claims = %v", c)
			}
		}},
		{"user password grant", []string{"--user", "alice"}, func(t *testing.T, c map[string]any) {
			if c["oid"] != idp.DemoAliceID || c["scp"] != "access_as_user" || c["iss"] != info.Issuer {
				t.Errorf("claims = %v", c)
			}
			if amr := c["amr"].([]any); slices.Contains(amr, any("mfa")) {
				t.Errorf("amr = %v: the password grant must not claim MFA", amr)
			}
		}},
		{"user with mfa", []string{"--user", "dave", "--mfa"}, func(t *testing.T, c map[string]any) {
			if c["oid"] != idp.DemoDaveID || !slices.Contains(c["amr"].([]any), any("mfa")) {
				t.Errorf("claims = %v, want mfa in amr", c)
			}
		}},
		{"graph scope", []string{"--app", "airgate", "--scope", "https://graph.microsoft.com/.default"}, func(t *testing.T, c map[string]any) {
			if c["aud"] != "https://graph.microsoft.com" || c["ver"] != "1.0" {
				t.Errorf("claims = %v", c)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"idp", "token", "--ready-file", ready}, tc.args...)
			if err := Run(t.Context(), args, Stdio{In: strings.NewReader(""), Out: &out, Err: &errOut}); err != nil {
				t.Fatalf("Run(%v) = %v; stderr %s", args, err, errOut.String())
			}
			lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
			if len(lines) != 1 {
				t.Fatalf("output has %d lines, want 1", len(lines))
			}
			tc.check(t, payload(t, lines[0]))
		})
	}
}

func TestIdPTokenUsage(t *testing.T) {
	ready, _ := startIdP(t)
	tests := []struct {
		name    string
		args    []string
		usage   bool
		errPart string
	}{
		{"no ready file", []string{"--app", "etl-agent"}, true, "--ready-file"},
		{"neither user nor app", []string{"--ready-file", ready}, true, "exactly one"},
		{"both user and app", []string{"--ready-file", ready, "--user", "alice", "--app", "etl-agent"}, true, "exactly one"},
		{"mfa without user", []string{"--ready-file", ready, "--app", "etl-agent", "--mfa"}, true, "--mfa"},
		{"unknown user", []string{"--ready-file", ready, "--user", "mallory"}, false, "no user"},
		{"unknown scope", []string{"--ready-file", ready, "--app", "etl-agent", "--scope", "api://nope/.default"}, false, "invalid_resource"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Run(t.Context(), append([]string{"idp", "token"}, tc.args...), Stdio{In: strings.NewReader(""), Out: &out, Err: io.Discard})
			if err == nil {
				t.Fatalf("Run succeeded, want error; output %q", out.String())
			}
			if got := errors.Is(err, errUsage); got != tc.usage {
				t.Errorf("errors.Is(%v, errUsage) = %v, want %v", err, got, tc.usage)
			}
			if !strings.Contains(err.Error(), tc.errPart) {
				t.Errorf("error %q does not mention %q", err, tc.errPart)
			}
			if out.Len() != 0 {
				t.Errorf("stdout = %q, want nothing on failure", out.String())
			}
		})
	}
}

func TestIdPServeBadTenant(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tenant.yaml")
	if err := os.WriteFile(path, []byte("id: 6a1f3c9e-2b7d-4e58-9f0a-3c5d7e9b1a24\nusers:\n  - name: a\n    pasword: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Run(t.Context(), []string{"idp", "serve", "--tenant", path, "--addr", "127.0.0.1:0"}, Stdio{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "pasword") {
		t.Fatalf("Run = %v, want an error naming the unknown field pasword", err)
	}
	err = Run(t.Context(), []string{"idp", "serve", "--addr", "nonsense"}, Stdio{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	if !errors.Is(err, errUsage) {
		t.Fatalf("Run with a bad --addr = %v, want a usage error", err)
	}
}

func TestIdPServeDevRevealsSecrets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tenant.yaml")
	yaml := `id: 0b3f2a1c-1111-4222-8333-444455556666
domain: example.test
users:
  - name: zoe
    password: zoe-password-1
applications:
  - name: api
    identifierUris: [api://api]
    secrets: [{}]
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, plain := startIdP(t, "--tenant", path)
	if plain.Users["zoe"].Password != "" || plain.Apps["api"].ClientSecret != "" {
		t.Errorf("without --dev the ready file reveals %+v / %+v", plain.Users["zoe"], plain.Apps["api"])
	}
	_, dev := startIdP(t, "--tenant", path, "--dev")
	if dev.Users["zoe"].Password != "zoe-password-1" || dev.Apps["api"].ClientSecret == "" {
		t.Errorf("with --dev the ready file lacks secrets: %+v / %+v", dev.Users["zoe"], dev.Apps["api"])
	}
}
