package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/airgate/airgate/internal/idp"
)

func init() {
	register(command{
		name:    "idp serve",
		summary: "run the embedded Microsoft Entra ID emulator (development and tests only)",
		run:     runIdPServe,
	})
	register(command{
		name:    "idp token",
		summary: "print an access token from a running emulator, obtained through a real grant",
		run:     runIdPToken,
	})
}

// runIdPServe runs `airgate idp serve [--tenant FILE] [--addr HOST:PORT]
// [--ready-file PATH] [--dev]` until ctx is cancelled.
func runIdPServe(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlags("idp serve", stdio)
	tenantFile := fs.String("tenant", "", "YAML tenant `file` (default: the built-in demo tenant)")
	addr := fs.String("addr", "127.0.0.1:8443", "listen address `host:port` (port 0 picks a free port)")
	readyFile := fs.String("ready-file", "", "write the ready info (JSON) to `path` once serving")
	dev := fs.Bool("dev", false, "include the tenant's secrets and passwords in the ready info")
	fs.Usage = func() {
		fmt.Fprintln(stdio.Err, "usage: airgate idp serve [--tenant FILE] [--addr HOST:PORT] [--ready-file PATH] [--dev]")
		fmt.Fprintln(stdio.Err, "\nServes an Entra ID-compatible tenant over HTTPS for development and tests.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(*addr); err != nil {
		return fmt.Errorf("%w: --addr %q: %v", errUsage, *addr, err)
	}
	opts := idp.Options{Dev: *dev, Logger: slog.New(slog.NewTextHandler(stdio.Err, nil))}
	if *tenantFile != "" {
		t, err := idp.LoadTenant(*tenantFile)
		if err != nil {
			return err
		}
		opts.Tenant = t
	}
	srv, err := idp.New(opts)
	if err != nil {
		return err
	}
	info, err := srv.Start(ctx, *addr)
	if err != nil {
		return err
	}
	defer srv.Close()
	if *readyFile != "" {
		if err := idp.WriteReadyFile(*readyFile, info); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdio.Err, "idp: serving tenant %s at %s (CA: %s)\n", info.TenantID, info.Authority, info.CAFile)
	<-srv.Done()
	return nil
}

// runIdPToken runs `airgate idp token --ready-file PATH (--user NAME
// [--mfa] | --app NAME) [--scope S]` and prints only the access token.
func runIdPToken(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlags("idp token", stdio)
	readyFile := fs.String("ready-file", "", "ready info `path` written by idp serve (required)")
	userName := fs.String("user", "", "get a user token for the user `name` (password grant)")
	mfa := fs.Bool("mfa", false, "with --user: sign in through the authorize page with MFA (auth code + PKCE)")
	appName := fs.String("app", "", "get an app-only token for the application `name` (client credentials)")
	scope := fs.String("scope", "", "scope to request (default api://airgate/access_as_user for --user, api://airgate/.default for --app)")
	clientApp := fs.String("client", "airgate", "with --user: the client application `name` to sign in to")
	fs.Usage = func() {
		fmt.Fprintln(stdio.Err, "usage: airgate idp token --ready-file PATH (--user NAME [--mfa] | --app NAME) [--scope S]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	switch {
	case *readyFile == "":
		return fmt.Errorf("%w: --ready-file is required", errUsage)
	case (*userName == "") == (*appName == ""):
		return fmt.Errorf("%w: give exactly one of --user and --app", errUsage)
	case *mfa && *userName == "":
		return fmt.Errorf("%w: --mfa needs --user", errUsage)
	}
	info, err := idp.ReadReadyFile(*readyFile)
	if err != nil {
		return err
	}
	client, err := idp.NewClient(info)
	if err != nil {
		return err
	}
	var tok *idp.Token
	switch {
	case *appName != "":
		s := *scope
		if s == "" {
			s = idp.DemoAirgateAppIDURI + "/.default"
		}
		tok, err = client.ClientCredentials(ctx, *appName, s)
	case *mfa:
		s := *scope
		if s == "" {
			s = idp.DemoAirgateAppIDURI + "/access_as_user"
		}
		tok, err = client.AuthCode(ctx, *clientApp, *userName, true, s)
	default:
		s := *scope
		if s == "" {
			s = idp.DemoAirgateAppIDURI + "/access_as_user"
		}
		tok, err = client.Password(ctx, *clientApp, *userName, s)
	}
	if err != nil {
		var te *idp.TokenError
		if errors.As(err, &te) {
			return fmt.Errorf("idp token: %w", err)
		}
		return err
	}
	_, err = fmt.Fprintln(stdio.Out, tok.AccessToken)
	return err
}
