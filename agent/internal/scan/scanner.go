package scan

import (
	"context"

	"github.com/redflag-io/redflag/api/v1alpha1"
)

// Scanner finds the pending updates one package manager offers.
type Scanner interface {
	// Manager names the package manager.
	Manager() v1alpha1.PackageManager
	// Scan runs the package manager and parses what it reports. It may
	// return updates together with an error wrapping ErrMalformed when
	// part of the output could not be read.
	Scan(ctx context.Context) ([]v1alpha1.PendingUpdate, error)
}
