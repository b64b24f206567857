package installer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

// MaxInstallOutput bounds what RunInstall keeps of each output stream of
// an install. An upgrade of hundreds of packages prints a few hundred
// kilobytes; the bound only stops a runaway tool from filling memory.
const MaxInstallOutput = 4 << 20

// RunInstall runs an install command through the agent's one command
// runner (no shell, killed with ctx) with MaxInstallOutput as bound.
// Unlike a listing, whose truncated output could hide a package, an
// install is judged by its exit status: output over the bound is dropped
// and, when the command succeeded, is not an error.
func RunInstall(ctx context.Context, c scan.Command) (scan.Result, error) {
	if c.MaxOutput <= 0 {
		c.MaxOutput = MaxInstallOutput
	}
	res, err := c.Run(ctx)
	if err == nil || !errors.Is(err, scan.ErrOutputTooLarge) || ctx.Err() != nil {
		return res, err
	}
	if res.ExitCode == 0 || slices.Contains(c.OKExit, res.ExitCode) {
		return res, nil
	}
	return res, fmt.Errorf("%s exited with status %d: %s", c.Path, res.ExitCode, Tail(res.Stderr, 3))
}

// Tail returns the last n non-empty lines of b joined with " | ",
// cleaned and bounded, for an error message.
func Tail(b []byte, n int) string {
	var lines []string
	for line := range strings.SplitSeq(string(b), "\n") {
		// A progress line overwritten with carriage returns shows its
		// last state.
		if i := strings.LastIndexByte(strings.TrimRight(line, "\r"), '\r'); i >= 0 {
			line = line[i+1:]
		}
		if line = scan.Clean(line, 300); line != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return scan.Clean(strings.Join(lines, " | "), 1000)
}
