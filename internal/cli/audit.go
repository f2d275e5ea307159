package cli

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	iofs "io/fs"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/airgate/airgate/internal/audit"
	"github.com/airgate/airgate/internal/config"
	"github.com/airgate/airgate/internal/secrets"
)

func init() {
	register(command{
		name:    "audit verify",
		summary: "recompute the audit chain and check its signed checkpoints",
		run:     runAuditVerify,
	})
	register(command{
		name:    "audit query",
		summary: "search audit records by user, DAG, decision, operation and time",
		run:     runAuditQuery,
	})
	register(command{
		name:    "audit export",
		summary: "export audit records as JSON lines (verifiable offline) or CSV",
		run:     runAuditExport,
	})
	register(command{
		name:    "audit key",
		summary: "print the public keys (JWKS) of a checkpoint signing key file, creating it if missing",
		run:     runAuditKey,
	})
}

// openAudit opens the audit database read-only.
func openAudit(ctx context.Context, dsn string) (*audit.Log, error) {
	return audit.Open(ctx, dsn, audit.Options{ReadOnly: true})
}

// runAuditVerify runs `airgate audit verify [--db DSN | --file EXPORT]
// [--keys FILE]`. Exit 0 with a one-line summary on stdout when the chain is
// intact; exit 1 naming the first bad record otherwise.
func runAuditVerify(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlags("audit verify", stdio)
	db := fs.String("db", audit.DefaultDSN, "audit database: SQLite `path` or postgres:// URL")
	file := fs.String("file", "", "verify a JSON lines export `file` (from audit export --format jsonl) instead of a database")
	keysFile := fs.String("keys", "", "trusted checkpoint public keys: JWKS or PEM `file` (or the signing key file); "+
		"without it, the keys recorded in the database or export itself are used, which does not prove authenticity")
	cfgPath := fs.String("config", "", "airgate config `file`: its audit database, with the checkpoint keys pinned from its keyring")
	fs.Usage = func() {
		fmt.Fprintln(stdio.Err, "usage: airgate audit verify [--config FILE | --db DSN | --file EXPORT] [--keys FILE]")
		fmt.Fprintln(stdio.Err, "\nRecomputes the hash chain and checks every checkpoint signature. Exit 0 and a")
		fmt.Fprintln(stdio.Err, "one-line summary when intact; exit 1 naming the first bad record otherwise.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if *file != "" && flagSet(fs, "db") {
		return fmt.Errorf("%w: --db and --file are exclusive", errUsage)
	}
	var keys audit.KeySet
	if *keysFile != "" {
		var err error
		if keys, err = audit.ReadKeySet(*keysFile); err != nil {
			return err
		}
	} else if *cfgPath != "" {
		var err error
		if keys, err = keyringAuditKeys(*cfgPath); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(stdio.Err, "warning: no --keys given: checking checkpoint signatures against the keys recorded in the "+
			"audit data itself, which someone able to rewrite it could replace; pass --keys FILE to pin them")
	}

	var (
		rep audit.Report
		err error
	)
	if *file != "" {
		f, oerr := os.Open(*file)
		if oerr != nil {
			return fmt.Errorf("audit: %w", oerr)
		}
		defer f.Close()
		rep, _, err = audit.VerifyExport(ctx, f, keys)
	} else {
		dsn, derr := auditDSN(fs, *db, *cfgPath)
		if derr != nil {
			return derr
		}
		l, oerr := openAudit(ctx, dsn)
		if oerr != nil {
			return oerr
		}
		defer l.Close()
		rep, err = l.Verify(ctx, keys)
	}
	var ve *audit.VerifyError
	if errors.As(err, &ve) {
		return &ExitError{Code: 1, Err: ve}
	}
	if err != nil {
		return err
	}

	what := fmt.Sprintf("%d records", rep.Records)
	if rep.First > 1 {
		what = fmt.Sprintf("records %d-%d (%d records)", rep.First, rep.Last, rep.Records)
	}
	line := fmt.Sprintf("ok: %s, %d checkpoints, head %s", what, rep.Checkpoints, rep.Head.Short())
	if rep.Checkpoints > 0 {
		line += fmt.Sprintf(", signed through record %d", rep.LastCheckpoint)
	}
	fmt.Fprintln(stdio.Out, line)
	if rep.Records > 0 && rep.Checkpoints == 0 {
		fmt.Fprintln(stdio.Err, "warning: no checkpoints: truncation or a rewrite of the whole chain cannot be detected")
	}
	if rep.Records > 0 && !rep.Anchored {
		fmt.Fprintf(stdio.Err, "warning: the export starts at record %d with no checkpoint over record %d: its first link is trusted, not proven\n",
			rep.First, rep.First-1)
	}
	return nil
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}

// parseTimeFlag parses a --since or --until value: an RFC 3339 time, or a
// duration (Go syntax, or a whole number of days like 7d) meaning that long
// before now.
func parseTimeFlag(name, value string, now time.Time) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, value); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(value)
	if days, ok := strings.CutSuffix(value, "d"); ok && err != nil {
		if n, nerr := strconv.Atoi(days); nerr == nil && n >= 0 && n < 100000 {
			d, err = time.Duration(n)*24*time.Hour, nil
		}
	}
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%w: --%s %q: want an RFC 3339 time (2025-01-02T15:04:05Z) or a duration ago (24h, 90m, 7d)",
			errUsage, name, value)
	}
	return now.Add(-d), nil
}

// runAuditQuery runs `airgate audit query [--db DSN] [--user U] [--dag D]
// [--decision allow|deny] [--since T] [--until T] [--operation OP] [--kind K]
// [--limit N] [--format table|json]`.
func runAuditQuery(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlags("audit query", stdio)
	db := fs.String("db", audit.DefaultDSN, "audit database: SQLite `path` or postgres:// URL")
	cfgPath := fs.String("config", "", "airgate config `file` whose audit database to read (instead of --db)")
	user := fs.String("user", "", "records of the principal with this UPN (any case), object id or app id")
	dag := fs.String("dag", "", "records about this DAG `id`")
	decision := fs.String("decision", "", "only `allow` or deny decisions")
	since := fs.String("since", "", "records at or after `T`: RFC 3339 time, or a duration ago such as 24h or 7d")
	until := fs.String("until", "", "records before `T`: RFC 3339 time, or a duration ago")
	operation := fs.String("operation", "", "records of this Airflow `operationId`")
	kind := fs.String("kind", "", "records of this `kind` (decision, outcome, token-exchange, secret-rotation, config-reload)")
	limit := fs.Int("limit", 0, "at most `N` records (0: all)")
	format := fs.String("format", "table", "output `format`: table, or json (one object per line)")
	fs.Usage = func() {
		fmt.Fprintln(stdio.Err, "usage: airgate audit query [--db DSN] [--user U] [--dag D] [--decision allow|deny] [--since T] [--until T] [--operation OP] [--format table|json]")
		fmt.Fprintln(stdio.Err, "\nLists matching audit records in sequence order. It does not verify the chain: run audit verify.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	now := time.Now()
	f := audit.Filter{User: *user, DAGID: *dag, Operation: *operation, Kind: audit.Kind(*kind), Limit: *limit}
	var err error
	if f.Since, err = parseTimeFlag("since", *since, now); err != nil {
		return err
	}
	if f.Until, err = parseTimeFlag("until", *until, now); err != nil {
		return err
	}
	switch audit.Decision(*decision) {
	case "", audit.DecisionAllow, audit.DecisionDeny:
		f.Decision = audit.Decision(*decision)
	default:
		return fmt.Errorf("%w: --decision %q: want allow or deny", errUsage, *decision)
	}
	if *format != "table" && *format != "json" {
		return fmt.Errorf("%w: --format %q: want table or json", errUsage, *format)
	}
	if *limit < 0 {
		return fmt.Errorf("%w: --limit %d: want 0 or more", errUsage, *limit)
	}

	dsn, err := auditDSN(fs, *db, *cfgPath)
	if err != nil {
		return err
	}
	l, err := openAudit(ctx, dsn)
	if err != nil {
		return err
	}
	defer l.Close()
	if *format == "json" {
		enc := json.NewEncoder(stdio.Out)
		enc.SetEscapeHTML(false)
		return l.Query(ctx, f, func(e audit.Entry) error {
			return enc.Encode(struct {
				audit.Record
				PrevHash audit.Hash `json:"prev_hash"`
				Hash     audit.Hash `json:"hash"`
			}{e.Record, e.PrevHash, e.Hash})
		})
	}
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tKIND\tPRINCIPAL\tDECISION\tMETHOD\tOPERATION\tDAG\tSTATUS\tREASONS")
	err = l.Query(ctx, f, func(e audit.Entry) error {
		status := ""
		if e.Status != 0 {
			status = strconv.Itoa(e.Status)
		}
		_, err := fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.Format(time.RFC3339), e.Kind,
			orDash(principalName(e.Principal)), orDash(string(e.Decision)), orDash(e.Method), orDash(e.Operation), orDash(e.DAGID),
			orDash(status), orDash(strings.Join(e.Reasons, ",")))
		return err
	})
	if ferr := tw.Flush(); err == nil {
		err = ferr
	}
	return err
}

// orDash returns s, or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// principalName is the short name of a principal for a table.
func principalName(p audit.Principal) string {
	name := p.UPN
	if name == "" {
		name = p.AppID
	}
	if name == "" {
		name = p.ObjectID
	}
	if p.Actor != "" {
		name += " (via " + p.Actor + ")"
	}
	return name
}

// runAuditExport runs `airgate audit export [--db DSN] --format jsonl|csv
// [--since T] [--until T]`, writing the export to stdout.
func runAuditExport(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlags("audit export", stdio)
	db := fs.String("db", audit.DefaultDSN, "audit database: SQLite `path` or postgres:// URL")
	cfgPath := fs.String("config", "", "airgate config `file` whose audit database to read (instead of --db)")
	format := fs.String("format", "", "`format`: jsonl (chain fields and checkpoints, verifiable with audit verify --file) or csv (required)")
	since := fs.String("since", "", "from the first record at or after `T`: RFC 3339 time, or a duration ago such as 24h")
	until := fs.String("until", "", "to the last record before `T`: RFC 3339 time, or a duration ago")
	fs.Usage = func() {
		fmt.Fprintln(stdio.Err, "usage: airgate audit export [--db DSN] --format jsonl|csv [--since T] [--until T]")
		fmt.Fprintln(stdio.Err, "\nWrites the contiguous range of records between --since and --until to stdout.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if *format != audit.FormatJSONL && *format != audit.FormatCSV {
		return fmt.Errorf("%w: --format %q: want jsonl or csv", errUsage, *format)
	}
	now := time.Now()
	opts := audit.ExportOptions{Format: *format}
	var err error
	if opts.Since, err = parseTimeFlag("since", *since, now); err != nil {
		return err
	}
	if opts.Until, err = parseTimeFlag("until", *until, now); err != nil {
		return err
	}
	dsn, err := auditDSN(fs, *db, *cfgPath)
	if err != nil {
		return err
	}
	l, err := openAudit(ctx, dsn)
	if err != nil {
		return err
	}
	defer l.Close()
	sum, err := l.Export(ctx, stdio.Out, opts)
	if err != nil {
		return err
	}
	if sum.Records == 0 {
		fmt.Fprintln(stdio.Err, "exported 0 records")
	} else {
		fmt.Fprintf(stdio.Err, "exported %d records (%d-%d), %d checkpoints\n", sum.Records, sum.First, sum.Last, sum.Checkpoints)
	}
	return nil
}

// runAuditKey runs `airgate audit key [--key FILE]`.
func runAuditKey(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlags("audit key", stdio)
	path := fs.String("key", audit.DefaultKeyFile, "Ed25519 signing key `file` (PEM PKCS #8, mode 0600)")
	fs.Usage = func() {
		fmt.Fprintln(stdio.Err, "usage: airgate audit key [--key FILE]")
		fmt.Fprintln(stdio.Err, "\nPrints the public key set (JWKS) of the checkpoint signing key, creating the key")
		fmt.Fprintln(stdio.Err, "if missing. Keep the output somewhere the database's writers cannot change, and")
		fmt.Fprintln(stdio.Err, "pass it to audit verify --keys.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	_, statErr := os.Stat(*path)
	k, err := audit.LoadOrCreateKey(*path)
	if err != nil {
		return err
	}
	if errors.Is(statErr, iofs.ErrNotExist) {
		fmt.Fprintf(stdio.Err, "created checkpoint signing key %s (id %s)\n", *path, k.KeyID())
	}
	out, err := json.MarshalIndent(k.KeySet(), "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdio.Out, string(out))
	return err
}

// auditDSN is the audit database to open: --db when given, else the one
// of the --config file, else the default.
func auditDSN(fs *flag.FlagSet, db, cfgPath string) (string, error) {
	if cfgPath == "" || flagSet(fs, "db") {
		return db, nil
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return "", err
	}
	return cfg.Path(cfg.Audit.DB), nil
}

// keyringAuditKeys returns the checkpoint keys of the keyring named by a
// config file: every audit key it holds, current and retired, so that old
// checkpoints verify too.
func keyringAuditKeys(cfgPath string) (audit.KeySet, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	ring, err := secrets.Open(secrets.FileStore{Path: cfg.Path(cfg.Keys.File)}, secrets.Options{})
	if err != nil {
		return nil, err
	}
	ks := audit.KeySet{}
	for _, k := range ring.Published(secrets.UseAudit) {
		if pub, ok := k.Public().(ed25519.PublicKey); ok {
			ks[k.ID] = pub
		}
	}
	if len(ks) == 0 {
		return nil, fmt.Errorf("the keyring %s holds no audit key", cfg.Path(cfg.Keys.File))
	}
	return ks, nil
}
