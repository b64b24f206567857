//go:build !unix

package selfupdate

import "os"

// signalStop: Windows has no SIGTERM for a child; closing its stdin
// (child.stop does) is how the daemon is asked to stop.
func signalStop(*os.Process) error { return nil }

// ReexecSelf returns nil: a Windows process cannot replace its image, so
// the supervisor keeps its old code until the service restarts (its
// decisions depend on the record, whose format both versions share).
func ReexecSelf(string, []string, []string) func() error { return nil }
