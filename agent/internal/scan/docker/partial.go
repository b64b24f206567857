package docker

import (
	"fmt"
	"strings"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

// PartialError reports the images a scan could not check while others
// were checked. It matches scan.ErrMalformed under errors.Is because that
// is what scan.Scanner defines for "updates returned with an error": the
// agent keeps the updates found instead of discarding the whole scan for
// one unreachable registry. Each problem is also matched (ErrUnreachable,
// ErrUnauthorized, ErrManifestUnknown, ...).
type PartialError struct {
	// Checked counts the image references compared with their registry.
	Checked int
	// Errs holds one error per reference that could not be checked.
	Errs []error
}

func (e *PartialError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return fmt.Sprintf("docker scan: %d image(s) checked, %d problem(s): %s",
		e.Checked, len(e.Errs), strings.Join(msgs, "; "))
}

// Unwrap lets errors.Is and errors.As see scan.ErrMalformed and every
// problem.
func (e *PartialError) Unwrap() []error {
	return append([]error{scan.ErrMalformed}, e.Errs...)
}
