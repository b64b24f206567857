package apt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redflag-io/redflag/agent/internal/scan"
)

// DefaultRefreshTimeout bounds the `apt-get update` of a scan when
// Runner.RefreshTimeout is zero. A mirror that does not answer in that time
// is reported, and the scan reads the lists it has.
const DefaultRefreshTimeout = 5 * time.Minute

// Fixed argument lists; never built from input. The lock timeout lets a
// refresh wait for an apt the host runs itself (its daily timer,
// unattended-upgrades) instead of failing at once.
var (
	listsDirArgs = []string{"shell", "LISTS", "Dir::State::Lists/d"}
	updateArgs   = []string{"-q", "-o", "DPkg::Lock::Timeout=120", "update"}
)

// ListsUpdated returns when apt last refreshed its package lists, as the
// newest modification time of the lists directory and its partial/
// subdirectory. Both are where apt itself puts lists: the directory moves
// when a list changes, and partial/ moves on every `apt-get update`, even
// one that finds nothing new (the files' own times are the archive's
// publication times, not the fetch's). The directory is asked of
// apt-config, so APT_CONFIG and the host's Dir settings apply.
func (r Runner) ListsUpdated(ctx context.Context) (time.Time, error) {
	res, err := scan.Command{Path: prog(r.AptConfig, "apt-config"), Args: listsDirArgs, Env: cLocale}.Run(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("finding apt's lists directory: %w", err)
	}
	dir, err := parseShell(string(res.Stdout), "LISTS")
	if err != nil {
		return time.Time{}, err
	}
	var newest time.Time
	for _, p := range []string{dir, filepath.Join(dir, "partial")} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // never refreshed: as old as can be
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("apt lists: %w", err)
		}
		if fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
	}
	return newest, nil
}

// parseShell reads the `NAME='value'` line apt-config shell prints. A
// value holding a quote (printed escaped) is refused rather than guessed.
func parseShell(out, name string) (string, error) {
	for line := range strings.Lines(out) {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), name+"='")
		if !ok {
			continue
		}
		v, ok = strings.CutSuffix(v, "'")
		if !ok || v == "" || strings.Contains(v, "'") {
			return "", fmt.Errorf("apt-config: unreadable %s line %q", name, scan.Clean(line, 120))
		}
		return v, nil
	}
	return "", fmt.Errorf("apt-config printed no %s", name)
}

// Stale reports whether lists last refreshed at updated are to be
// refreshed before a scan at now, given the bound maxAge: never when
// maxAge is 0, always when the refresh time is unknown (zero), else when
// they are older than maxAge. A time in the future (a clock set back)
// counts as fresh: refreshing would not make it less wrong.
func Stale(updated, now time.Time, maxAge time.Duration) bool {
	switch {
	case maxAge <= 0:
		return false
	case updated.IsZero():
		return true
	default:
		return now.Sub(updated) > maxAge
	}
}

// refresh runs `apt-get update` under RefreshTimeout when the lists are
// older than maxAge. It returns an error wrapping scan.ErrNotRefreshed
// when they could not be refreshed; the caller then scans the lists on
// disk.
func (r Runner) refresh(ctx context.Context, maxAge time.Duration) error {
	if maxAge <= 0 {
		return nil
	}
	timeout := r.RefreshTimeout
	if timeout <= 0 {
		timeout = DefaultRefreshTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	updated, ageErr := r.ListsUpdated(rctx)
	if ageErr == nil && !Stale(updated, time.Now(), maxAge) {
		return nil
	}
	// An unknown age is refreshed: the bound asks for lists no older than
	// it, and apt-get update is the way to be sure.
	_, err := scan.Command{Path: prog(r.AptGet, "apt-get"), Args: updateArgs, Env: cLocale}.Run(rctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, scan.ErrNotInstalled) && ageErr != nil:
		// apt-config and apt-get both absent: apt list reports the absence.
		return nil
	case rctx.Err() != nil && ctx.Err() == nil:
		return fmt.Errorf("%w: apt-get update: no result within %s", scan.ErrNotRefreshed, timeout)
	default:
		return fmt.Errorf("%w: apt-get update: %w", scan.ErrNotRefreshed, err)
	}
}

func prog(path, name string) string {
	if path == "" {
		return name
	}
	return path
}
