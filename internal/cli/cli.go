// Package cli implements airgate's command line: one file per command, each a
// type with Run(ctx, args) error. Main dispatches on the first words of the
// command line and maps errors to exit codes; it is what cmd/airgate calls,
// and what tests call to run a command in-process.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Stdio is the standard streams a command reads and writes. Commands write
// what was asked for to Out and diagnostics to Err.
type Stdio struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// command is one subcommand. Run gets the arguments after the command's
// name.
type command struct {
	name    string // "routes classify"
	summary string
	run     func(ctx context.Context, io Stdio, args []string) error
}

// commands is the command table, filled by each command's file in init.
var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("cli: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// ExitError carries a specific exit code out of a command. Commands return
// it when the exit code itself is part of their contract (audit verify).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// errUsage marks an error in the command line itself.
var errUsage = errors.New("usage")

// Main runs the command named by args and returns the process exit code:
// 0 on success, 2 for a command-line error, the code of an ExitError, and 1
// for any other failure.
func Main(ctx context.Context, args []string, stdio Stdio) int {
	err := Run(ctx, args, stdio)
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil && ee.Err.Error() != "" {
			fmt.Fprintln(stdio.Err, "airgate:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(stdio.Err, "airgate:", err)
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// Run finds the longest registered command name that prefixes args and runs
// it with the remaining arguments.
func Run(ctx context.Context, args []string, stdio Stdio) error {
	for n := min(len(args), 3); n > 0; n-- {
		if c, ok := commands[strings.Join(args[:n], " ")]; ok {
			return c.run(ctx, stdio, args[n:])
		}
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdio.Out)
		return nil
	}
	usage(stdio.Err)
	return fmt.Errorf("%w: unknown command %q", errUsage, strings.Join(args, " "))
}

func usage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: airgate <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, name := range names {
		fmt.Fprintf(w, "  %-20s %s\n", name, commands[name].summary)
	}
}

// newFlags returns a flag set for a command that reports errors instead of
// exiting and prints its usage to stdio.Err.
func newFlags(name string, stdio Stdio) *flag.FlagSet {
	fs := flag.NewFlagSet("airgate "+name, flag.ContinueOnError)
	fs.SetOutput(stdio.Err)
	return fs
}

// parseFlags parses args into fs and rejects stray positional arguments
// unless allowArgs is set.
func parseFlags(fs *flag.FlagSet, args []string, allowArgs bool) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if !allowArgs && fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}
