// Command redflag-agent is RedFlag's host daemon: it enrolls the host, checks
// in with the gateway, scans for updates and installs what rollouts approve.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/redflag-io/redflag/internal/version"
)

const usage = `redflag-agent manages OS and package updates on this host for a RedFlag cluster.

Usage:
  redflag-agent version    print the agent's version and platform

Enrollment (register), the run loop (run), local scans (scan --once) and
status arrive with their issues; see docs/architecture.md.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "version", "--version":
		fmt.Fprintln(stdout, version.String())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "redflag-agent: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
