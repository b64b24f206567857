// Package version holds the build's version, set by the linker:
//
//	go build -ldflags "-X github.com/redflag-io/redflag/internal/version.Version=v0.1.0"
package version

import "runtime"

// Version is the release version; "dev" in an unreleased build.
var Version = "v0.0.0-dev"

// String returns the version with the platform, for --version output.
func String() string {
	return Version + " " + runtime.GOOS + "/" + runtime.GOARCH
}
