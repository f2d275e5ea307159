package secrets

import (
	"context"
	"fmt"
	"os"
)

// EnvSecrets is a read-only [SecretStore] over environment variables: each
// secret has one version, 1, always active. Put, Activate and Retire fail
// with [ErrReadOnly]: secrets that come from the environment are rotated
// by whoever sets the environment, not by airgate.
type EnvSecrets struct {
	// Vars maps a secret's name to the environment variable holding it.
	Vars map[string]string
	// Lookup reads a variable; default os.LookupEnv.
	Lookup func(string) (string, bool)
}

var _ SecretStore = EnvSecrets{}

// Get implements [SecretStore].
func (e EnvSecrets) Get(ctx context.Context, name string, version int) (*Version, error) {
	if version != Current && version != Latest && version != 1 {
		return nil, fmt.Errorf("secrets: %s version %d: %w", name, version, ErrNotFound)
	}
	env, ok := e.Vars[name]
	if !ok || env == "" {
		return nil, fmt.Errorf("secrets: %s has no environment variable: %w", name, ErrNotFound)
	}
	lookup := e.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(env)
	if !ok || v == "" {
		return nil, fmt.Errorf("secrets: %s: environment variable %s is not set: %w", name, env, ErrNotFound)
	}
	return &Version{Name: name, Version: 1, State: StateActive, Value: []byte(v), Meta: map[string]string{"source": "env:" + env}}, nil
}

func (e EnvSecrets) readOnly(name string) error {
	return fmt.Errorf("%w: %s comes from the environment (%s); set rotation.store to file or db to rotate it", ErrReadOnly, name, e.Vars[name])
}

// Put implements [SecretStore]; it always fails with [ErrReadOnly].
func (e EnvSecrets) Put(ctx context.Context, name string, v Version) (int, error) {
	return 0, e.readOnly(name)
}

// Activate implements [SecretStore]; it always fails with [ErrReadOnly].
func (e EnvSecrets) Activate(ctx context.Context, name string, version int) error {
	return e.readOnly(name)
}

// Retire implements [SecretStore]; it always fails with [ErrReadOnly].
func (e EnvSecrets) Retire(ctx context.Context, name string, version int) error {
	return e.readOnly(name)
}
