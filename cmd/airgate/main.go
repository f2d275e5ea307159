// Command airgate is an identity-aware gateway for Apache Airflow with
// Microsoft Entra ID as the identity provider. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/airgate/airgate/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
