package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/airgate/airgate/internal/authz"
	"github.com/airgate/airgate/internal/config"
)

func init() {
	register(command{
		name:    "config check",
		summary: "validate a config and its policy without starting; warn about risky grants",
		run:     runConfigCheck,
	})
}

// runConfigCheck validates the configuration and the policy it names,
// reporting every bad field and value, and warns about grants that reach
// admin-level permissions through nested groups or wildcards. It reads the
// files the config names but contacts no server.
func runConfigCheck(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlags("config check", stdio)
	path := fs.String("config", "airgate.yaml", "configuration file")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return &ExitError{Code: 1, Err: err}
	}
	var problems []error
	if err := cfg.Validate(); err != nil {
		problems = append(problems, err)
	}
	for field, p := range map[string]string{"entra.ca_file": cfg.Entra.CAFile} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(cfg.Path(p)); err != nil {
			problems = append(problems, &config.FieldError{Field: field, Value: p, Msg: "cannot be read: " + errors.Unwrap(err).Error()})
		}
	}
	for field, s := range map[string]config.Secret{"entra.client_secret": cfg.Entra.ClientSecret, "upstream.password": cfg.Upstream.Password} {
		if s.IsZero() {
			continue
		}
		if _, err := cfg.Read(s); err != nil {
			problems = append(problems, &config.FieldError{Field: field, Msg: err.Error()})
		}
	}
	var nRoles, nMappings int
	if cfg.Policy.File != "" {
		pol, err := authz.LoadPolicy(cfg.Path(cfg.Policy.File))
		if err != nil {
			problems = append(problems, fmt.Errorf("policy.file %s: %w", cfg.Policy.File, err))
		} else {
			nRoles, nMappings = len(pol.Roles()), len(pol.Mappings())
			for _, w := range pol.Warnings() {
				fmt.Fprintf(stdio.Out, "warning: %s: %s (%s)\n", w.Field, w.Message, w.Code)
			}
			if len(pol.Warnings()) > 0 {
				defer fmt.Fprintf(stdio.Out, "%d warning(s)\n", len(pol.Warnings()))
			}
		}
	}
	if len(problems) > 0 {
		for _, e := range flatten(problems) {
			fmt.Fprintln(stdio.Out, "error:", e)
		}
		return &ExitError{Code: 1, Err: fmt.Errorf("%s is not valid", *path)}
	}
	fmt.Fprintf(stdio.Out, "ok: %s is valid (Airflow %d at %s; policy %s: %d roles, %d mappings)\n",
		*path, cfg.Upstream.AirflowVersion, cfg.Upstream.URL, cfg.Policy.File, nRoles, nMappings)
	return nil
}

// flatten expands joined errors so each problem gets its own line.
func flatten(errs []error) []error {
	var out []error
	for _, e := range errs {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			out = append(out, flatten(j.Unwrap())...)
			continue
		}
		out = append(out, e)
	}
	return out
}
