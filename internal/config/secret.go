package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Secret is where a secret comes from: a file, an environment variable, or
// (dev mode only) a literal value. Exactly one may be set. Secrets are read
// when the server starts and on reload; their values never appear in logs or
// in errors.
type Secret struct {
	// File is a path whose content (trimmed of trailing newlines) is the
	// secret.
	File string `yaml:"file"`
	// Env is an environment variable holding the secret.
	Env string `yaml:"env"`
	// InsecureValue is the secret itself, in the config file. Dev only.
	InsecureValue string `yaml:"insecure_value"`
}

// IsZero reports whether no source is configured.
func (s Secret) IsZero() bool { return s.File == "" && s.Env == "" && s.InsecureValue == "" }

// ErrNoSecret means a Secret has no source.
var ErrNoSecret = errors.New("no secret source configured")

// Read returns the secret's value.
func (c *Config) Read(s Secret) (string, error) {
	switch {
	case s.File != "":
		b, err := os.ReadFile(c.Path(s.File))
		if err != nil {
			return "", fmt.Errorf("reading secret file: %w", err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("secret file %s is empty", c.Path(s.File))
		}
		return v, nil
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok || v == "" {
			return "", fmt.Errorf("environment variable %s is not set", s.Env)
		}
		return v, nil
	case s.InsecureValue != "":
		return s.InsecureValue, nil
	}
	return "", ErrNoSecret
}
