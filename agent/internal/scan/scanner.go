package scan

import (
	"context"

	"github.com/redflag-io/redflag/internal/protocol"
)

// Scanner finds the pending updates one package manager offers.
type Scanner interface {
	// Manager names the package manager.
	Manager() protocol.PackageManager
	// Scan runs the package manager and parses what it reports. It may
	// return updates together with an error wrapping ErrMalformed when
	// part of the output could not be read.
	Scan(ctx context.Context) ([]protocol.PendingUpdate, error)
}
