package facts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"
)

// maxCommandOutput bounds what RunCommand keeps of stdout.
const maxCommandOutput = 256 << 10

// RunCommand runs name (looked up on PATH) with args and the C locale, so
// its output is the English the parsers expect. A non-zero exit is
// reported as exitCode with a nil error; a missing command gives an error
// matching exec.ErrNotFound. Cancel ctx to stop it.
func RunCommand(ctx context.Context, name string, args ...string) ([]byte, int, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, -1, fmt.Errorf("find %s: %w", name, err)
	}
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdout = &limitedWriter{w: &stdout, n: maxCommandOutput}
	// A grandchild holding stdout open must not keep us waiting forever.
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if ctx.Err() != nil {
		return nil, -1, fmt.Errorf("%s: %w", name, ctx.Err())
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return stdout.Bytes(), exit.ExitCode(), nil
	}
	if err != nil {
		return nil, -1, fmt.Errorf("run %s: %w", name, err)
	}
	return stdout.Bytes(), 0, nil
}

// limitedWriter keeps the first n bytes and discards the rest, reporting
// success so the command is not killed by a broken pipe.
type limitedWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
