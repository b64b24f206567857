package docker

import (
	"errors"
	"fmt"
	"io"
)

// Body bounds. Engine lists grow with the number of containers and
// images (registry answers are bounded in guard.go).
const (
	maxEngineBody = 32 << 20
	maxErrorBody  = 4 << 10
	maxConfigFile = 1 << 20
)

// ErrTooLarge is wrapped when a response body exceeds its bound.
var ErrTooLarge = errors.New("response too large")

// readCapped reads all of r, failing once it exceeds limit bytes rather
// than holding an unbounded answer in memory.
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return b, fmt.Errorf("reading body: %w", err)
	}
	if int64(len(b)) > limit {
		return b[:limit], fmt.Errorf("%w (over %d bytes)", ErrTooLarge, limit)
	}
	return b, nil
}
