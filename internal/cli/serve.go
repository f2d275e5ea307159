package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/server"
)

func init() {
	register(command{
		name:    "serve",
		summary: "run the gateway in front of Airflow (--config FILE)",
		run:     runServe,
	})
}

func runServe(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlags("serve", stdio)
	cfgPath := fs.String("config", "airgate.yaml", "configuration file")
	readyFile := fs.String("ready-file", "", "write the listening address as JSON to this file when ready")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	hopts := &slog.HandlerOptions{Level: logLevel(cfg.Log.Level)}
	logger := slog.New(slog.NewJSONHandler(stdio.Err, hopts))
	// Request lines are written in batches (lineBuffer); everything else
	// at once.
	reqLines := newLineBuffer(stdio.Err, requestLogFlush)
	defer reqLines.Close()
	opts := server.Options{Logger: logger, RequestLogger: slog.New(slog.NewJSONHandler(reqLines, hopts))}
	ensureTwoProcs()
	srv, err := server.New(ctx, cfg, opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	return serveUntilDone(ctx, srv, ln, logger, *readyFile, func() error {
		next, err := loadConfig(*cfgPath)
		if err != nil {
			return err
		}
		return srv.Reload(ctx, next, opts)
	})
}

// requestLogFlush bounds how long a request's log line waits in memory.
const requestLogFlush = 100 * time.Millisecond

// ensureTwoProcs gives the Go scheduler at least two processors, even on
// one core (or a one-CPU container limit), unless GOMAXPROCS is set: the
// audit writer's group commit blocks its thread in fsync, and with a
// single processor requests would wait until the scheduler noticed.
func ensureTwoProcs() {
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
}

// loadConfig loads and validates a configuration file.
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

func logLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// serveUntilDone serves h on ln until ctx ends, reloading on SIGHUP, then
// shuts down gracefully.
func serveUntilDone(ctx context.Context, srv *server.Server, ln net.Listener, logger *slog.Logger, readyFile string, reload func() error) error {
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	addr := ln.Addr().String()
	logger.Info("airgate serving", "addr", addr)
	if readyFile != "" {
		if err := writeJSONFile(readyFile, map[string]string{"addr": addr, "url": "http://" + addr}); err != nil {
			return err
		}
	}
	for {
		select {
		case <-hup:
			if err := reload(); err != nil {
				logger.Error("reload failed; the running configuration stays", "err", err.Error())
			}
		case err := <-errc:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		case <-ctx.Done():
			logger.Info("shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			return hs.Shutdown(sctx)
		}
	}
}
