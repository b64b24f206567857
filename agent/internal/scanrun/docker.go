package scanrun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

// SourceDocker is the Outcome name of the Docker engine behind subsystem
// docker.
const SourceDocker = "docker"

// runDocker lists the engine's containers and images under the scan
// timeout. A host without an engine is Skipped, not failed; a listing
// that left part out (a registry down) succeeds and says what.
func (r *Runner) runDocker(ctx context.Context) Result {
	res := Result{Subsystem: Docker}
	if r.cfg.Docker != nil {
		out := Outcome{Name: SourceDocker, Present: true}
		dctx, cancel := context.WithTimeoutCause(ctx, r.cfg.Timeout, errTimedOut)
		start := time.Now()
		inv, err := safeList(dctx, r.cfg.Docker)
		out.Took = protocol.Duration{Duration: time.Since(start)}
		timedOut := errors.Is(context.Cause(dctx), errTimedOut)
		cancel()
		switch {
		case inv != nil && (err == nil || errors.Is(err, scan.ErrMalformed)):
			out.Result = protocol.RunSucceeded
			out.Message = partialMessage(err, 0)
			at := protocol.NewTime(r.cfg.Clock.Now())
			inv.ScannedAt = &at
			res.Docker, res.Hash = inv, DockerHash(*inv)
		case errors.Is(err, scan.ErrNotInstalled):
			out.Present, out.Result, out.Message = false, protocol.RunSkipped, "not installed on this host"
		case timedOut:
			out.Result = protocol.RunTimedOut
			out.Message = clipMessage(fmt.Sprintf("no result within %s: %s", r.cfg.Timeout, detail(err)))
		default:
			out.Result, out.Message = protocol.RunFailed, clipMessage(detail(err))
		}
		res.Outcomes = []Outcome{out}
	}
	res.Status = rollup(Docker, res.Outcomes, r.cfg.Clock.Now())
	return res
}

// safeList runs list, turning a panic into an error.
func safeList(ctx context.Context, list DockerLister) (inv *protocol.DockerInventory, err error) {
	defer func() {
		if p := recover(); p != nil {
			inv, err = nil, fmt.Errorf("%w: %v", errPanicked, p)
		}
	}()
	inv, err = list(ctx)
	if err == nil && inv == nil {
		err = errors.New("docker lister returned no inventory")
	}
	return inv, err
}

// DockerHash is a SHA-256, as lowercase hex, over the JSON of inv without
// ScannedAt and Hash: equal listings give equal hashes whenever taken.
func DockerHash(inv protocol.DockerInventory) string {
	inv.ScannedAt, inv.Hash = nil, ""
	b, err := json.Marshal(inv)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
