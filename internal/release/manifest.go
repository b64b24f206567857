package release

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/redflag-io/redflag/internal/protocol"
)

// Manifest describes one release binary for one platform. It is what the
// release key signs: version, OS and architecture are covered, so a
// signed binary cannot be passed off as another version or platform.
type Manifest struct {
	// Version is canonical: vMAJOR.MINOR.PATCH[-PRERELEASE].
	Version string `json:"version"`
	// OS and Arch are Go's GOOS and GOARCH (linux, amd64).
	OS   string `json:"os"`
	Arch string `json:"arch"`
	// Size is the binary's length in bytes.
	Size int64 `json:"size"`
	// SHA256 is the binary's SHA-256, lowercase hex.
	SHA256 string `json:"sha256"`
	// File is the binary's name in the store (BinaryName(OS)).
	File string `json:"file"`
}

// ErrInvalidManifest means a manifest (signed or not) breaks a rule of
// Validate or is not JSON.
var ErrInvalidManifest = errors.New("invalid release manifest")

var (
	platformPart = regexp.MustCompile(`^[a-z0-9]+$`)
	sha256Hex    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Validate checks every field. OS and Arch are restricted to [a-z0-9]+
// because they become a path segment in the store and in URLs.
func (m Manifest) Validate() error {
	if v, err := CanonicalVersion(m.Version); err != nil || v != m.Version {
		return fmt.Errorf("%w: version %q is not a canonical release version (vMAJOR.MINOR.PATCH[-PRERELEASE])", ErrInvalidManifest, m.Version)
	}
	if !platformPart.MatchString(m.OS) || !platformPart.MatchString(m.Arch) {
		return fmt.Errorf("%w: os %q and arch %q must be non-empty [a-z0-9]", ErrInvalidManifest, m.OS, m.Arch)
	}
	if m.Size <= 0 {
		return fmt.Errorf("%w: size %d must be positive", ErrInvalidManifest, m.Size)
	}
	if !sha256Hex.MatchString(m.SHA256) {
		return fmt.Errorf("%w: sha256 must be 64 lowercase hex digits", ErrInvalidManifest)
	}
	if m.File != BinaryName(m.OS) {
		return fmt.Errorf("%w: file %q, want %q for %s", ErrInvalidManifest, m.File, BinaryName(m.OS), m.OS)
	}
	return nil
}

// BinaryName is the binary's file name in a store directory and on a host
// of that OS: "redflag-agent", or "redflag-agent.exe" on Windows, where a
// file runs only with that suffix. In URLs Handler takes both
// protocol.ReleaseBinaryFile and this name for the binary.
func BinaryName(goos string) string {
	if goos == "windows" {
		return protocol.ReleaseBinaryFile + ".exe"
	}
	return protocol.ReleaseBinaryFile
}

// Platform is the "<os>-<arch>" directory and URL segment.
func Platform(goos, arch string) string { return goos + "-" + arch }
