// Command airgate-bench measures airgate against a bare reverse proxy on
// one machine: it starts an upstream that answers like Airflow's
// GET /api/v1/dags/{dag_id}, the embedded Entra ID emulator as the issuer
// and Microsoft Graph, a bare httputil.ReverseProxy as the reference and
// airgate itself (built from this tree, with a realistic policy and
// durable audit on SQLite), then drives them with wrk, pinned to one core
// while every server shares the other, in interleaved rounds, and reports
// medians. Its last line is machine-readable:
//
//	ratio=R airgate_rps=N reference_rps=N cold_ratio=R p50_added_us=N p99_added_us=N rss_mib=N audit_records_per_s=N
//
// Run it through bench/run.sh, which installs wrk and builds both binaries.
// The subcommands upstream, reference and relay (a TCP relay that does not
// parse HTTP: the floor of any proxy here) are the harness's own child
// processes. Every address is on loopback.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "airgate-bench:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "upstream":
			return runUpstream(ctx, args[1:])
		case "reference":
			return runReference(ctx, args[1:])
		case "relay":
			return runRelay(ctx, args[1:])
		}
	}
	o, err := parseOptions(args)
	if err != nil {
		return err
	}
	return runHarness(ctx, o)
}

// options are the harness's flags.
type options struct {
	airgate     string        // the airgate binary
	work        string        // working directory (audit DBs, configs, tokens, logs)
	rounds      int           // interleaved rounds
	duration    time.Duration // one measured run
	warmup      time.Duration // unmeasured run before each measured one
	conns       int           // connections of the throughput runs
	tokens      int           // pre-minted tokens for the fresh-token runs
	clientCPU   int           // core of the load generator
	serverCPU   int           // core of every server
	airflow     int           // Airflow version airgate is configured for
	requestLogs bool          // airgate's per-request log lines (its default: on)
	latency     bool          // run the c=1 latency rounds
	throughput  bool          // run the c=-c throughput rounds
	gomemlimit  string        // GOMEMLIMIT for airgate ("" = unset)
	profile     string        // directory for CPU profiles of airgate ("" = none)
	airgateEnv  envList       // extra environment of airgate (runtime tuning, reported)
}

// envList is a repeatable KEY=VALUE flag.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }

func (e *envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", v)
	}
	*e = append(*e, v)
	return nil
}

func parseOptions(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("airgate-bench", flag.ContinueOnError)
	fs.StringVar(&o.airgate, "airgate", "", "airgate binary (bench/run.sh builds it)")
	fs.StringVar(&o.work, "work", "", "working directory (default: a new temporary directory, removed at the end)")
	fs.IntVar(&o.rounds, "rounds", 5, "interleaved rounds; medians are taken over them")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of one measured run")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured run before each measured run")
	fs.IntVar(&o.conns, "c", 32, "concurrent connections of the throughput runs")
	fs.IntVar(&o.tokens, "tokens", 50000, "distinct pre-minted tokens the fresh-token runs rotate through (more than airgate's verified-token cache holds)")
	fs.IntVar(&o.clientCPU, "client-cpu", 0, "core the load generator (wrk) is pinned to")
	fs.IntVar(&o.serverCPU, "server-cpu", 1, "core every server (upstream, reference proxy, airgate) is pinned to")
	fs.IntVar(&o.airflow, "airflow", 2, "Airflow version airgate fronts: 2 (GET /api/v1/dags/{id}, basic auth upstream) or 3 (GET /api/v2/dags/{id}, minted JWT)")
	fs.BoolVar(&o.requestLogs, "request-logs", true, "keep airgate's per-request log line (its default) on; written to a file in the working directory")
	fs.BoolVar(&o.latency, "latency", true, "run the one-request-at-a-time (c=1) latency rounds")
	fs.BoolVar(&o.throughput, "throughput", true, "run the throughput rounds (c=-c); -throughput=false measures latency alone")
	fs.StringVar(&o.gomemlimit, "gomemlimit", "", "GOMEMLIMIT for airgate, e.g. 24MiB (default: unset; the report says when set)")
	fs.Var(&o.airgateEnv, "airgate-env", "KEY=VALUE added to airgate's environment, e.g. GOMAXPROCS=2 or GOGC=50 (repeatable; the report names them)")
	fs.StringVar(&o.profile, "profile", "", "write CPU and allocation profiles of airgate in the first round to this directory (runs airgate in dev mode for its /-/debug/pprof endpoint)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case o.airgate == "":
		return nil, errors.New("-airgate is required (run bench/run.sh)")
	case o.rounds < 1 || o.duration < time.Second || o.conns < 1:
		return nil, errors.New("-rounds must be ≥ 1, -duration ≥ 1s, -c ≥ 1")
	case o.airflow != 2 && o.airflow != 3:
		return nil, errors.New("-airflow must be 2 or 3")
	case o.tokens < 1000:
		return nil, errors.New("-tokens must be ≥ 1000")
	case !o.latency && !o.throughput:
		return nil, errors.New("-latency=false and -throughput=false leave nothing to measure")
	}
	return o, nil
}
