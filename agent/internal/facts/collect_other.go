//go:build !linux && !windows

package facts

import (
	"context"
	"math"
	"os"
	"runtime"
)

// Collect reports what the Go runtime knows on platforms without a
// collector yet: family, architecture, CPU count and hostname.
func (s Source) Collect(context.Context) (Facts, error) {
	f := Facts{}
	f.OS.Family = clip(runtime.GOOS, maxFamily)
	f.OS.Arch = clip(runtime.GOARCH, maxArch)
	f.System.CPUCores = int32(min(runtime.NumCPU(), math.MaxInt32))
	if host, err := os.Hostname(); err == nil {
		f.Hostname = clip(host, maxHostname)
	}
	return f, nil
}
