package dnf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// RootEnv names the environment variable that points dnf and rpm at an
// alternative root: dnf gets --installroot and rpm --root with its value.
// dnf then reads its configuration, repositories and cache from inside
// that root and installs into it, and rpm reads the root's database. It
// is for hosts managed from outside their root (an image being built, a
// mounted system) and for tests, which scan and install in a sandbox
// root (test/dnftest) instead of the test machine's own packages.
// Unset or empty means the host's own root.
const RootEnv = "REDFLAG_DNF_ROOT"

// maxRootLen bounds the path taken from the environment.
const maxRootLen = 4096

// RootArgs returns the arguments that put dnf and rpm in the root named by
// RootEnv: none when it is unset. A value that is not a clean absolute
// path to an existing directory is refused with an error naming RootEnv,
// before anything runs, so a typo never makes dnf work on (or create) the
// wrong root.
func RootArgs() (dnf, rpm []string, err error) {
	root := os.Getenv(RootEnv)
	if root == "" {
		return nil, nil, nil
	}
	if len(root) > maxRootLen || !filepath.IsAbs(root) || filepath.Clean(root) != root || strings.ContainsAny(root, "\x00\n") {
		return nil, nil, fmt.Errorf("%s=%.80q: not a clean absolute path", RootEnv, root)
	}
	// dnf would create a missing installroot and fill it; refuse instead.
	if fi, err := os.Stat(root); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", RootEnv, err)
	} else if !fi.IsDir() {
		return nil, nil, fmt.Errorf("%s=%q: not a directory", RootEnv, root)
	}
	return []string{"--installroot=" + root}, []string{"--root=" + root}, nil
}
