package release

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/semver"
)

// ErrInvalidVersion means a version is not of the form [v]MAJOR.MINOR.PATCH
// with an optional -PRERELEASE.
var ErrInvalidVersion = errors.New("not a release version (want vMAJOR.MINOR.PATCH[-PRERELEASE])")

// CanonicalVersion returns v as "vMAJOR.MINOR.PATCH[-PRERELEASE]", with or
// without the leading "v" on input. Short forms ("v1.2") and build
// metadata ("+abc") are refused: a version names a store directory and a
// URL segment, so it must have exactly one spelling.
func CanonicalVersion(v string) (string, error) {
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	if !semver.IsValid(v) || semver.Canonical(v) != v {
		return "", fmt.Errorf("%q: %w", strings.TrimPrefix(v, "v"), ErrInvalidVersion)
	}
	return v, nil
}

// CompareVersions orders two versions as semver does (-1, 0, +1), with or
// without their leading "v". A version that is not valid semver (a
// developer build such as "dev") sorts below every valid one, so any
// release counts as newer than it.
func CompareVersions(a, b string) int {
	return semver.Compare(withV(a), withV(b))
}

// IsPrerelease reports whether v has a -PRERELEASE part.
func IsPrerelease(v string) bool { return semver.Prerelease(withV(v)) != "" }

func withV(v string) string {
	if strings.HasPrefix(v, "v") {
		return v
	}
	return "v" + v
}
