package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/redflag-io/redflag/agent/internal/scanrun"
)

// scanCommand runs `redflag-agent scan --once`: the agent's own scanners,
// once, with the daemon's defaults, printed as JSON or as tables. It exits
// 0 when the scan ran, pending updates or not, and 1 when every scanner
// present on the host failed, so a script can tell "nothing to do" from
// "could not look".
func scanCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("redflag-agent scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	once := fs.Bool("once", false, "scan now, print the result and exit (required; scheduled scans run inside `redflag-agent run`)")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	which := fs.String("subsystem", "all", "what to scan: updates, storage, system, docker or all")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "redflag-agent scan: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if !*once {
		fmt.Fprintln(stderr, "redflag-agent scan: --once is required (scheduled scans run inside `redflag-agent run`)")
		return 2
	}
	subs, err := scanrun.ParseSubsystems(*which)
	if err != nil {
		fmt.Fprintln(stderr, "redflag-agent scan:", err)
		return 2
	}
	runner, err := scanrun.New(scanrun.DefaultConfig())
	if err != nil {
		return fail(stderr, err)
	}
	report, err := runner.Run(ctx, subs...)
	if err != nil {
		return fail(stderr, err)
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return fail(stderr, fmt.Errorf("writing the result: %w", err))
		}
	} else if err := printReport(stdout, report); err != nil {
		return fail(stderr, fmt.Errorf("writing the result: %w", err))
	}
	if report.AllFailed() {
		return 1
	}
	return 0
}
