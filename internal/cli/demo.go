package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/airgate/airgate/internal/demo"
)

func init() {
	register(command{
		name:    "demo",
		summary: "run airgate in front of an Airflow double with an emulated Entra ID tenant, no setup needed",
		run:     runDemo,
	})
}

// runDemo runs `airgate demo [--addr HOST:PORT] [--airflow 2|3] [--dir DIR]
// [--ready-file PATH] [--idp-addr HOST:PORT] [--airflow-addr HOST:PORT]`
// until ctx is cancelled (Ctrl-C). SIGHUP reloads the demo's configuration
// and policy files.
func runDemo(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlags("demo", stdio)
	addr := fs.String("addr", demo.DefaultAddr, "the gateway's listen `address` (port 0 picks free ports for all three servers)")
	idpAddr := fs.String("idp-addr", "", "the Entra ID emulator's `address` (default "+demo.DefaultIdPAddr+", or port 0 when --addr has port 0)")
	airflowAddr := fs.String("airflow-addr", "", "the Airflow double's `address` (default "+demo.DefaultAirflowAddr+", or port 0 when --addr has port 0)")
	version := fs.Int("airflow", 3, "the Airflow `version` behind the gateway: 2 (/api/v1, basic-auth service account) or 3 (/api/v2, airgate-minted JWTs)")
	dir := fs.String("dir", "", "keep the demo's files in `DIR` (default: a fresh temporary directory, removed on exit)")
	readyFile := fs.String("ready-file", "", "when ready, write the gateway, Airflow and emulator URLs and the demo's file paths as JSON to `path`")
	fs.Usage = func() {
		fmt.Fprintln(stdio.Err, "usage: airgate demo [--addr HOST:PORT] [--airflow 2|3] [--dir DIR] [--ready-file PATH]")
		fmt.Fprintln(stdio.Err, "\nRuns the Entra ID emulator, an Airflow double and airgate in front of it under the")
		fmt.Fprintln(stdio.Err, "demo policy, prints what to try, and serves until interrupted. Development only.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	for name, a := range map[string]string{"addr": *addr, "idp-addr": *idpAddr, "airflow-addr": *airflowAddr} {
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("%w: --%s %q: %v", errUsage, name, a, err)
		}
	}
	if *version != 2 && *version != 3 {
		return fmt.Errorf("%w: --airflow %d: want 2 or 3", errUsage, *version)
	}

	logger := slog.New(slog.NewTextHandler(stdio.Err, nil))
	d, err := demo.Start(ctx, demo.Options{
		Addr:           *addr,
		IdPAddr:        *idpAddr,
		AirflowAddr:    *airflowAddr,
		AirflowVersion: *version,
		Dir:            *dir,
		Logger:         logger,
	})
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w\n(is another demo running? --addr 127.0.0.1:0 picks free ports)", err)
	}
	if err != nil {
		return err
	}
	defer d.Close()
	if *readyFile != "" {
		if err := writeJSONFile(*readyFile, d.Ready()); err != nil {
			return fmt.Errorf("demo: writing ready file: %w", err)
		}
	}
	if err := demo.WriteInstructions(stdio.Out, d.Ready(), selfCommand()); err != nil {
		return err
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			if err := d.Reload(ctx); err != nil {
				logger.Error("reload failed; the running configuration stays", "err", err.Error())
			} else {
				logger.Info("configuration and policy reloaded")
			}
		case err := <-d.Failed():
			return err
		case <-ctx.Done():
			fmt.Fprintln(stdio.Err, "airgate demo: stopping")
			return d.Close()
		}
	}
}

// selfCommand is how a shell runs this airgate binary: "go run
// ./cmd/airgate" under `go run` from the module root, "airgate" when that
// is this binary on PATH, else the binary's absolute path.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "airgate"
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	// go run builds into a temporary go-build directory.
	if strings.Contains(filepath.ToSlash(exe), "/go-build") {
		if fi, err := os.Stat(filepath.Join("cmd", "airgate", "main.go")); err == nil && !fi.IsDir() {
			return "go run ./cmd/airgate"
		}
	}
	if onPath, err := exec.LookPath("airgate"); err == nil {
		if resolved, err := filepath.EvalSymlinks(onPath); err == nil && resolved == exe {
			return "airgate"
		}
	}
	return demo.ShellQuote(exe)
}
