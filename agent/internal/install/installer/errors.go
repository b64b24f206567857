package installer

import "errors"

// ErrUnsupported is wrapped when a plan finds a change the installer
// cannot make safely (a Docker container started with --rm cannot be kept
// for a rollback). Nothing has been changed when it is returned.
var ErrUnsupported = errors.New("change not supported")

// ErrRolledBack is wrapped when an install failed and the installer put
// the previous state back (a recreated container that would not start).
var ErrRolledBack = errors.New("rolled back")
