package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/secrets"
	"github.com/airgate/airgate/internal/secrets/rotation"
	"github.com/airgate/airgate/internal/server"
)

func init() {
	register(command{
		name:    "secrets status",
		summary: "show each secret's version, expiry, next rotation and last result (--config FILE [--json])",
		run:     runSecretsStatus,
	})
	register(command{
		name:    "secrets rotate",
		summary: "rotate secrets now: entra-client-secret, signing-key, airflow-credential (--config FILE [NAME ...] [--force] [--dry-run])",
		run:     runSecretsRotate,
	})
}

// parseInterleaved parses flags that may come before or after positional
// arguments ("rotate NAME --force").
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args, true); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// openRotation opens the keyring and the rotation store named by the
// configuration: the same ones the running gateways use.
func openRotation(ctx context.Context, cfgPath string, stdio Stdio, withAudit bool) (*server.Rotation, func(), error) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	logger := slog.New(slog.NewTextHandler(stdio.Err, &slog.HandlerOptions{Level: logLevel(cfg.Log.Level)}))
	keys, err := secrets.Open(secrets.FileStore{Path: cfg.Path(cfg.Keys.File)}, secrets.Options{})
	if err != nil {
		return nil, nil, err
	}
	var auditor rotation.Auditor
	var lg *audit.Log
	if withAudit {
		// Records only: the gateway's next checkpoint covers them.
		if lg, err = audit.Open(ctx, cfg.Path(cfg.Audit.DB), audit.Options{Logger: logger}); err != nil {
			return nil, nil, err
		}
		auditor = server.AuditRotations(lg)
	}
	rot, err := server.OpenRotation(ctx, cfg, server.RotationOptions{Keyring: keys, Auditor: auditor, Logger: logger})
	if err != nil {
		if lg != nil {
			lg.Close()
		}
		return nil, nil, err
	}
	return rot, func() {
		rot.Close()
		if lg != nil {
			lg.Close()
		}
	}, nil
}

func runSecretsStatus(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlags("secrets status", stdio)
	cfgPath := fs.String("config", "airgate.yaml", "configuration file")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	rot, done, err := openRotation(ctx, *cfgPath, stdio, false)
	if err != nil {
		return err
	}
	defer done()
	sts, err := rot.Manager.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdio.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"store": rot.Kind, "secrets": sts})
	}
	writeStatusTable(stdio.Out, sts)
	return nil
}

func writeStatusTable(w io.Writer, sts []rotation.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tVERSION\tCREATED\tEXPIRES\tNEXT ROTATION\tLAST RESULT")
	for _, st := range sts {
		last := orDash(st.LastResult)
		if st.Pending != "" {
			last += " (open: " + st.Pending + ")"
		}
		if st.ReadOnly != "" {
			last += " (read-only)"
		}
		if st.LastError != "" && st.LastResult == "failed" {
			last += ": " + firstLineOf(st.LastError)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", st.Name, st.Kind, st.Version,
			secretStamp(st.Created), secretStamp(st.Expires), secretStamp(st.NextRotation), last)
	}
	tw.Flush()
}

func secretStamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04Z")
}

func firstLineOf(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

func runSecretsRotate(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlags("secrets rotate", stdio)
	cfgPath := fs.String("config", "airgate.yaml", "configuration file")
	force := fs.Bool("force", false, "rotate even when not due")
	dryRun := fs.Bool("dry-run", false, "say what would be rotated; change nothing")
	wait := fs.Duration("wait", 5*time.Minute, "how long to wait for a rotation another process is running")
	names, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	rot, done, err := openRotation(ctx, *cfgPath, stdio, !*dryRun)
	if err != nil {
		return err
	}
	defer done()
	known := rot.Manager.Names()
	if len(names) == 0 {
		names = known
	}
	for _, n := range names {
		if !containsName(known, n) {
			return fmt.Errorf("%w: unknown secret %q (this configuration has: %s)", errUsage, n, strings.Join(known, ", "))
		}
	}
	wctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	var failed []string
	for _, n := range names {
		res := rot.Manager.Rotate(wctx, n, rotation.RotateOptions{Force: *force, DryRun: *dryRun, Wait: true})
		fmt.Fprintln(stdio.Out, describeRotation(res))
		if res.Outcome == "failed" {
			failed = append(failed, n)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("rotation failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

func containsName(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// describe is one line per secret; never a secret, only hints.
func describeRotation(r rotation.Result) string {
	hint := ""
	if r.Hint != "" {
		hint = " (" + r.Hint + ")"
	}
	switch r.Outcome {
	case "rotated":
		return fmt.Sprintf("%s: rotated to version %d%s", r.Name, r.Version, hint)
	case "switched":
		return fmt.Sprintf("%s: switched to version %d%s; the old credential is removed after the overlap by the next scheduler pass or `airgate secrets rotate`", r.Name, r.Version, hint)
	case "retired":
		return fmt.Sprintf("%s: removed the previous credential; version %d%s in use", r.Name, r.Version, hint)
	case "waiting":
		return fmt.Sprintf("%s: a rotation is in progress (%s); nothing else to do yet", r.Name, r.Reason)
	case "recovered", "rolled-back":
		return fmt.Sprintf("%s: finished an interrupted rotation (%s); version %d%s in use", r.Name, r.Outcome, r.Version, hint)
	case "not-due":
		return fmt.Sprintf("%s: not due (version %d%s); --force rotates anyway", r.Name, r.Version, hint)
	case "would-rotate":
		return fmt.Sprintf("%s: would rotate version %d%s (%s)", r.Name, r.Version, hint, r.Reason)
	case "busy":
		return fmt.Sprintf("%s: another process is rotating it", r.Name)
	}
	msg := "unknown error"
	if r.Err != nil {
		msg = r.Err.Error()
		if errors.Is(r.Err, secrets.ErrReadOnly) {
			msg = firstLineOf(msg)
		}
	}
	return fmt.Sprintf("%s: failed: %s", r.Name, msg)
}
