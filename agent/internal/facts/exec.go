package facts

import (
	"context"
	"errors"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

// maxCommandOutput bounds what RunCommand keeps of stdout.
const maxCommandOutput = 256 << 10

// RunCommand runs name (looked up on PATH) with args and the C locale, so
// its output is the English the parsers expect, through the agent's one
// command runner (scan.Command: no shell, bounded output, killed with ctx).
// A non-zero exit is reported as exitCode with a nil error; a missing
// command gives an error matching exec.ErrNotFound; output past the bound
// is cut, not an error.
func RunCommand(ctx context.Context, name string, args ...string) ([]byte, int, error) {
	res, err := scan.Command{Path: name, Args: args, Env: []string{"LC_ALL=C"}, MaxOutput: maxCommandOutput}.Run(ctx)
	var exit *scan.ExitError
	switch {
	case ctx.Err() != nil:
		return nil, -1, err
	case errors.As(err, &exit):
		return res.Stdout, exit.ExitCode, nil
	case errors.Is(err, scan.ErrOutputTooLarge):
		return res.Stdout[:min(len(res.Stdout), maxCommandOutput)], res.ExitCode, nil
	case err != nil:
		return nil, -1, err
	}
	return res.Stdout, res.ExitCode, nil
}
