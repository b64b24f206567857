package scan

import (
	"context"
	"errors"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
)

// ErrNotRefreshed is wrapped by the error a scanner returns when it meant
// to refresh its package lists first and could not: the updates it returns
// alongside are read from the lists already on disk, a true but possibly
// stale view, so the scan still counts as a result.
var ErrNotRefreshed = errors.New("package lists not refreshed; scanned the lists on disk")

// Options are the settings of one scan run, as the gateway sends them with
// the scan request.
type Options struct {
	// RefreshListsAfter is the age past which a scanner whose package
	// manager reads locally cached package lists (apt) refreshes them
	// before scanning, or, for a manager that refreshes its own metadata
	// (dnf), the expiry it is told to use. 0 never refreshes.
	RefreshListsAfter time.Duration
}

// OptionScanner is a Scanner that honours Options. Scanners without
// settings implement only Scanner.
type OptionScanner interface {
	Scanner
	// ScanWith is Scan under opts.
	ScanWith(ctx context.Context, opts Options) ([]protocol.PendingUpdate, error)
}

// Usable reports whether a scan that returned n updates with err still
// produced a list worth reporting: a clean one, one with unreadable lines
// that still yielded updates, or one read from lists that could not be
// refreshed (which may be empty: nothing pending is a true answer too).
func Usable(err error, n int) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrMalformed):
		return n > 0
	default:
		return errors.Is(err, ErrNotRefreshed)
	}
}
