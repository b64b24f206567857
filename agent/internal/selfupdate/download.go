package selfupdate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/redflag-io/redflag/internal/release"
)

// maxManifest bounds the manifest download; a real one is under 1 KiB.
const maxManifest = 64 << 10

// errDeadline is the cause of the download context's deadline, which tells
// a timeout from the daemon being stopped.
var errDeadline = errors.New("download deadline passed")

// get fetches path from the gateway. The caller closes the body.
func get(ctx context.Context, o Options, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(o.BaseURL, "/")+path, nil)
	if err != nil {
		return nil, refuse(ReasonInvalidRelease, "building the request for %s: %w", path, err)
	}
	if o.Prepare != nil {
		if err := o.Prepare(req); err != nil {
			return nil, refuse(ReasonDownloadFailed, "preparing the request for %s: %w", path, err)
		}
	}
	// The context's deadline bounds the download, not the client's
	// Timeout (30 s for check-ins, too short for a binary).
	client := *o.Client
	client.Timeout = 0
	resp, err := client.Do(req)
	if err != nil {
		return nil, downloadError(ctx, path, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return resp, nil
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return nil, refuse(ReasonReleaseNotFound, "the gateway has no %s (404)", path)
	default:
		resp.Body.Close()
		return nil, refuse(ReasonDownloadFailed, "GET %s: %s", path, resp.Status)
	}
}

// downloadError classifies a transport or read error: the deadline, the
// daemon stopping, or anything else.
func downloadError(ctx context.Context, path string, err error) error {
	switch {
	case errors.Is(context.Cause(ctx), errDeadline):
		return refuse(ReasonDownloadTimeout, "downloading %s: %w", path, errDeadline)
	case ctx.Err() != nil:
		return fmt.Errorf("downloading %s: %w", path, ctx.Err())
	default:
		return refuse(ReasonDownloadFailed, "downloading %s: %w", path, err)
	}
}

// fetchManifest downloads and verifies the signed manifest.
func fetchManifest(ctx context.Context, o Options, path string) (release.Manifest, error) {
	resp, err := get(ctx, o, path)
	if err != nil {
		return release.Manifest{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxManifest+1))
	if err != nil {
		return release.Manifest{}, downloadError(ctx, path, err)
	}
	if len(data) > maxManifest {
		return release.Manifest{}, refuse(ReasonManifestInvalid, "the manifest is over %d bytes", maxManifest)
	}
	m, err := release.Verify(data, o.ReleaseKey)
	switch {
	case err == nil:
		return m, nil
	case errors.Is(err, release.ErrUnsigned):
		return m, refuse(ReasonSignatureMissing, "%w", err)
	case errors.Is(err, release.ErrBadSignature):
		return m, refuse(ReasonSignatureInvalid, "%w (another release key signed it, or it was changed after signing)", err)
	case errors.Is(err, release.ErrBadKey):
		return m, refuse(ReasonNoReleaseKey, "%w", err)
	default:
		return m, refuse(ReasonManifestInvalid, "%w", err)
	}
}

// fetchBinary downloads the binary into a temporary file beside the
// executable (rename is atomic only within one file system) and checks it
// against the manifest. It returns the file's path; the file is executable.
func fetchBinary(ctx context.Context, o Options, path string, m release.Manifest) (string, error) {
	resp, err := get(ctx, o, path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.ContentLength > m.Size {
		return "", refuse(ReasonTooLarge, "the gateway announces %d bytes, the manifest says %d", resp.ContentLength, m.Size)
	}
	dir := filepath.Dir(o.Executable)
	removeStaleDownloads(o.Executable)
	f, err := os.CreateTemp(dir, tempPrefix(o.Executable)+"*")
	if err != nil {
		return "", refuse(ReasonSwapFailed, "creating the download file beside %s: %w", o.Executable, err)
	}
	keep := false
	defer func() {
		_ = f.Close()
		if !keep {
			_ = os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	// Read one byte past the promised size, and never past the cap: a
	// gateway that sends more is caught without filling the disk.
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(resp.Body, min(m.Size, o.MaxSize)+1))
	switch {
	case err != nil && errors.Is(err, io.ErrUnexpectedEOF) && ctx.Err() == nil:
		return "", refuse(ReasonTruncated, "the download of %s ended after %d of %d bytes", path, n, m.Size)
	case err != nil:
		return "", downloadError(ctx, path, err)
	case n > m.Size:
		return "", refuse(ReasonTooLarge, "the gateway sent more than the %d bytes the manifest says", m.Size)
	case n < m.Size:
		return "", refuse(ReasonTruncated, "the download of %s ended after %d of %d bytes", path, n, m.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != m.SHA256 {
		return "", refuse(ReasonChecksumMismatch, "the binary's SHA-256 is %s, the signed manifest says %s", sum, m.SHA256)
	}
	if err := f.Chmod(executableMode(o.Executable)); err != nil {
		return "", refuse(ReasonSwapFailed, "making the new binary executable: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", refuse(ReasonSwapFailed, "flushing the new binary: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", refuse(ReasonSwapFailed, "closing the new binary: %w", err)
	}
	keep = true
	return f.Name(), nil
}

// tempPrefix names downloads ".redflag-agent.new-*" beside the executable.
func tempPrefix(exe string) string { return "." + filepath.Base(exe) + ".new-" }

// removeStaleDownloads deletes downloads a crashed Apply left behind; only
// one agent runs per state directory, so none of them is in use.
func removeStaleDownloads(exe string) {
	stale, _ := filepath.Glob(filepath.Join(filepath.Dir(exe), tempPrefix(exe)+"*"))
	for _, s := range stale {
		_ = os.Remove(s)
	}
}

// executableMode is the running binary's mode (so an install's choice of
// 0750 or 0755 is kept), or 0755.
func executableMode(exe string) os.FileMode {
	if fi, err := os.Stat(exe); err == nil && fi.Mode().Perm()&0o100 != 0 {
		return fi.Mode().Perm()
	}
	return 0o755
}
