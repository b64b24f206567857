package selfupdate

import (
	"context"
	"io"
)

// WatchSupervisor returns a context that also ends when the supervisor
// goes away, for the daemon to run under. The supervisor holds the write
// end of the daemon's stdin: it closes it to stop the daemon (on Windows,
// which has no SIGTERM, that is the way), and the operating system closes
// it when the supervisor dies (on systems without Pdeathsig the daemon
// would otherwise run on, orphaned). Outside supervision (EnvSupervised
// not "1") it returns ctx unchanged.
func WatchSupervisor(ctx context.Context, stdin io.Reader) (context.Context, context.CancelFunc) {
	if !Supervised() {
		return context.WithCancel(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	return ctx, cancel
}
