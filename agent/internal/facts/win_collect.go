package facts

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
)

// bootTimeStep is what the Windows boot time is rounded to. It is now
// minus the tick count, two readings a few milliseconds apart, so to the
// second it would flip on a boundary now and then and change the facts
// hash (and cause a status write) for nothing.
const bootTimeStep = time.Minute

// collectWindows gathers the facts through api, part by part like the
// Linux collector: the result holds what could be read, and the error
// joins one error per part that failed (storage errors start "storage:").
func collectWindows(ctx context.Context, api winAPI, now time.Time) (Facts, error) {
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var f Facts

	host, err := api.Hostname()
	if err != nil {
		note(fmt.Errorf("hostname: %w", err))
	}
	f.Hostname = clip(strings.TrimSpace(host), maxHostname)

	cv, err := readCurrentVersion(api)
	note(err)
	f.OS = windowsOS(api.Version(), cv)

	f.System.CPUModel, err = windowsCPUModel(api)
	note(err)
	f.System.CPUCores = int32(min(max(api.LogicalProcessors(), 0), math.MaxInt32))

	mem, err := api.TotalMemory()
	if err != nil {
		note(fmt.Errorf("memory: %w", err))
	}
	f.System.MemoryBytes = int64(min(mem, math.MaxInt64))

	if up := api.SinceBoot(); up > 0 {
		boot := protocol.NewTime(now.Add(-up).Round(bootTimeStep).UTC())
		f.System.BootTime = &boot
	}

	f.System.RebootRequired, f.System.RebootReason, err = windowsRebootRequired(api)
	note(err)

	f.Storage, err = windowsStorage(ctx, api)
	note(err)
	return f, errors.Join(errs...)
}
