package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/airgate/airgate/internal/catalog"
)

func init() {
	register(command{
		name:    "routes classify",
		summary: "classify METHOD PATH lines from stdin as Airflow operations (JSON lines)",
		run:     runRoutesClassify,
	})
	register(command{
		name:    "routes list",
		summary: "print the Airflow operation catalogue as a table",
		run:     runRoutesList,
	})
}

// maxClassifyLine bounds one input line of routes classify.
const maxClassifyLine = 64 << 10

// classifyResult is the output line of routes classify for a known
// request. The fields up to Requires are the command's contract; later ones
// are additions.
type classifyResult struct {
	Method    string                `json:"method"`
	Path      string                `json:"path"`
	API       catalog.API           `json:"api"`
	Operation string                `json:"operation"`
	Known     bool                  `json:"known"`
	Auth      catalog.AuthLevel     `json:"auth"`
	DAGID     string                `json:"dag_id,omitempty"`
	DAGScope  catalog.Scope         `json:"dag_scope"`
	Requires  []catalog.Requirement `json:"requires"`
	DAGSource catalog.DAGSource     `json:"dag_source"`
	Filter    catalog.Filter        `json:"filter,omitempty"`
}

// unknownResult is the output line for a request that matches no operation.
type unknownResult struct {
	Method string         `json:"method"`
	Path   string         `json:"path"`
	API    catalog.API    `json:"api,omitempty"`
	Known  bool           `json:"known"`
	Reason catalog.Reason `json:"reason"`
}

type classifyError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
	Input string `json:"input,omitempty"`
}

func runRoutesClassify(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlags("routes classify", stdio)
	fs.Usage = func() {
		fmt.Fprintln(stdio.Err, "usage: airgate routes classify < lines\n\nReads lines \"METHOD PATH\" (PATH as sent on the wire, with an optional\nquery string) and writes one JSON object per line.")
	}
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	cat := catalog.Default()
	out := bufio.NewWriter(stdio.Out)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	in := bufio.NewReaderSize(stdio.In, 64<<10)
	for lineNo := 1; ; lineNo++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, tooLong, err := readLine(in, maxClassifyLine)
		if errors.Is(err, io.EOF) && line == "" && !tooLong {
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading stdin: %w", err)
		}
		var v any
		if tooLong {
			v = classifyError{Line: lineNo, Error: fmt.Sprintf("line longer than %d bytes", maxClassifyLine)}
		} else if res, perr := classifyLine(cat, line); perr != nil {
			v = classifyError{Line: lineNo, Error: perr.Error(), Input: truncate(line, 200)}
		} else {
			v = res
		}
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("writing stdout: %w", err)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// readLine reads one line without its line ending. A line longer than max
// is consumed and reported as tooLong.
func readLine(r *bufio.Reader, max int) (line string, tooLong bool, err error) {
	var b strings.Builder
	for {
		frag, isPrefix, err := r.ReadLine()
		if b.Len()+len(frag) > max {
			tooLong = true
		} else {
			b.Write(frag)
		}
		if err != nil {
			return b.String(), tooLong, err
		}
		if !isPrefix {
			return b.String(), tooLong, nil
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// classifyLine parses "METHOD PATH" and classifies it, returning a
// classifyResult or an unknownResult.
func classifyLine(cat *catalog.Catalog, line string) (any, error) {
	fields := strings.Fields(line)
	switch {
	case len(fields) == 0:
		return nil, errors.New(`empty line: want "METHOD PATH"`)
	case len(fields) == 1:
		return nil, errors.New(`missing path: want "METHOD PATH"`)
	case len(fields) > 2:
		return nil, fmt.Errorf(`%d fields: want "METHOD PATH" (encode spaces in the path as %%20)`, len(fields))
	}
	method, target := fields[0], fields[1]
	if !isToken(method) {
		return nil, fmt.Errorf("method %q is not an HTTP method token", truncate(method, 40))
	}
	if !strings.HasPrefix(target, "/") {
		return nil, fmt.Errorf("path %q does not begin with /", truncate(target, 80))
	}
	path, query, _ := strings.Cut(target, "?")
	c := cat.Classify(method, path, query)
	if !c.Known() {
		return unknownResult{Method: method, Path: target, API: c.API, Reason: c.Reason}, nil
	}
	reqs := c.Requirements()
	if reqs == nil {
		reqs = []catalog.Requirement{}
	}
	return classifyResult{
		Method: method, Path: target, API: c.API, Operation: c.Op.ID, Known: true,
		Auth: c.Op.Auth, DAGID: c.DAGID, DAGScope: c.Scope, Requires: reqs,
		DAGSource: c.Op.DAG, Filter: c.Op.Filter,
	}, nil
}

// isToken reports whether s is an RFC 9110 token, as an HTTP method must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func runRoutesList(ctx context.Context, stdio Stdio, args []string) error {
	fs := newFlags("routes list", stdio)
	api := fs.String("api", "", "only this API: v1, v2 or auth")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	switch catalog.API(*api) {
	case "", catalog.V1, catalog.V2, catalog.Auth:
	default:
		return fmt.Errorf("%w: --api %q: want v1, v2 or auth", errUsage, *api)
	}
	tw := tabwriter.NewWriter(stdio.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "API\tMETHOD\tPATH\tOPERATION\tAUTH\tDAG\tFILTER\tREQUIRES")
	for _, op := range catalog.Default().Operations() {
		if *api != "" && op.API != catalog.API(*api) {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", op.API, op.Method, op.Path, op.ID, op.Auth, op.DAG, dash(string(op.Filter)), formatPerms(op.Requires))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// formatPerms renders permissions as "action on resource", marking per-DAG
// checks with [dag].
func formatPerms(perms []catalog.Perm) string {
	if len(perms) == 0 {
		return "-"
	}
	parts := make([]string, len(perms))
	for i, p := range perms {
		s := p.Action + " on " + p.Resource
		if p.PerDAG {
			s += " [dag"
			if p.WithoutDAG != catalog.Global {
				s += "; without: " + p.WithoutDAG.String()
			}
			s += "]"
		}
		parts[i] = s
	}
	return strings.Join(parts, ", ")
}
