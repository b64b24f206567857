package release

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/redflag-io/redflag/internal/atomicfile"
	"github.com/redflag-io/redflag/internal/protocol"
)

// ErrNotFound means the store holds no such release.
var ErrNotFound = errors.New("no such release in the store")

// ErrExists means Publish would replace a release that is already there.
var ErrExists = errors.New("release already published")

// PublishOptions say what Publish adds to a store.
type PublishOptions struct {
	// Dir is the store's root directory; it is created if missing.
	Dir string
	// Binary is the path of the agent binary to publish.
	Binary string
	// Version, OS and Arch name the release; Version may lack its "v".
	Version, OS, Arch string
	// Key signs the manifest.
	Key ed25519.PrivateKey
	// Replace allows overwriting a published release. Without it Publish
	// refuses: hosts that installed the old bytes under this version would
	// otherwise disagree with the store about what that version is.
	Replace bool
}

// Publish copies the binary into <Dir>/<version>/<os>-<arch>/ and writes its
// signed manifest there, returning the manifest. The manifest is written
// last: its presence is what makes the release visible (Latest, Handler).
func Publish(o PublishOptions) (Manifest, error) {
	version, err := CanonicalVersion(o.Version)
	if err != nil {
		return Manifest{}, err
	}
	m := Manifest{Version: version, OS: o.OS, Arch: o.Arch, File: BinaryName(o.OS)}
	if !platformPart.MatchString(o.OS) || !platformPart.MatchString(o.Arch) {
		return Manifest{}, fmt.Errorf("os %q and arch %q must be non-empty [a-z0-9] (Go's GOOS and GOARCH)", o.OS, o.Arch)
	}
	if len(o.Key) != ed25519.PrivateKeySize {
		return Manifest{}, fmt.Errorf("release private key is %d bytes, want %d", len(o.Key), ed25519.PrivateKeySize)
	}
	dir := filepath.Join(o.Dir, version, Platform(o.OS, o.Arch))
	manifestPath := filepath.Join(dir, protocol.ReleaseManifestFile)
	if _, err := os.Stat(manifestPath); err == nil && !o.Replace {
		return Manifest{}, fmt.Errorf("%s for %s: %w (%s exists)", version, Platform(o.OS, o.Arch), ErrExists, manifestPath)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Manifest{}, fmt.Errorf("creating release directory: %w", err)
	}
	m.Size, m.SHA256, err = copyBinary(o.Binary, filepath.Join(dir, m.File))
	if err != nil {
		return Manifest{}, err
	}
	data, err := Sign(m, o.Key)
	if err != nil {
		return Manifest{}, err
	}
	if err := atomicfile.Write(manifestPath, data, 0o644); err != nil {
		return Manifest{}, fmt.Errorf("writing %s: %w", manifestPath, err)
	}
	return m, nil
}

// copyBinary copies src to dst (atomically, mode 0755) and returns its size
// and SHA-256, computed from the bytes written, not read twice.
func copyBinary(src, dst string) (size int64, sum string, err error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, "", fmt.Errorf("opening the binary: %w", err)
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil || !fi.Mode().IsRegular() {
		return 0, "", fmt.Errorf("%s is not a regular file", src)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return 0, "", fmt.Errorf("copying the binary: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(tmp, h), in)
	if err != nil {
		return 0, "", fmt.Errorf("copying the binary: %w", err)
	}
	if size == 0 {
		return 0, "", fmt.Errorf("%s is empty", src)
	}
	if err = tmp.Chmod(0o755); err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		err = tmp.Close()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		return 0, "", fmt.Errorf("copying the binary: %w", err)
	}
	return size, hex.EncodeToString(h.Sum(nil)), nil
}

// Latest returns the newest stable version in the store at dir that has
// both files for goos/arch. Prereleases (v1.2.0-rc.1) are never "latest":
// they are installed by naming them. Symlinks that lead out of dir are
// ignored, as Handler ignores them.
func Latest(dir, goos, arch string) (string, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", fmt.Errorf("opening the release store: %w", err)
	}
	defer root.Close()
	return latestIn(root, goos, arch)
}

func latestIn(root *os.Root, goos, arch string) (string, error) {
	entries, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return "", fmt.Errorf("listing the release store: %w", err)
	}
	best := ""
	for _, e := range entries {
		v, err := CanonicalVersion(e.Name())
		if err != nil || v != e.Name() || IsPrerelease(v) {
			continue
		}
		if best != "" && CompareVersions(v, best) <= 0 {
			continue
		}
		if isRegular(root, filepath.Join(v, Platform(goos, arch), protocol.ReleaseManifestFile)) &&
			isRegular(root, filepath.Join(v, Platform(goos, arch), BinaryName(goos))) {
			best = v
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w: no stable release for %s", ErrNotFound, Platform(goos, arch))
	}
	return best, nil
}

// isRegular reports whether name is a regular file inside root (following
// symlinks only while they stay inside it).
func isRegular(root *os.Root, name string) bool {
	fi, err := root.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}
