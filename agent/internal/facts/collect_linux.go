//go:build linux

package facts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"syscall"

	"github.com/redflag-io/redflag/internal/protocol"
)

// Collect reads the facts under s.Root. Facts are gathered part by part:
// the result always holds what could be read, and the error (nil when
// everything was read) joins one error per part that failed.
func (s Source) Collect(ctx context.Context) (Facts, error) {
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var f Facts

	host, err := s.readTrimmed("proc/sys/kernel/hostname")
	if err != nil && s.isHost() {
		host, err = os.Hostname()
	}
	if err != nil {
		note(fmt.Errorf("hostname: %w", err))
	}
	f.Hostname = clip(host, maxHostname)

	vars, err := s.osRelease()
	note(err)
	f.OS = osInfo(vars) // defaults when the file is missing
	f.OS.Family = "linux"
	f.OS.Arch = clip(runtime.GOARCH, maxArch)
	f.OS.Kernel, err = s.kernel()
	note(err)

	note(s.system(ctx, &f.System))

	f.Storage, err = s.storage()
	note(err)
	return f, errors.Join(errs...)
}

// osRelease reads /etc/os-release, or /usr/lib/os-release where /etc has
// none, as os-release(5) says.
func (s Source) osRelease() (map[string]string, error) {
	var firstErr error
	for _, rel := range []string{"etc/os-release", "usr/lib/os-release"} {
		file, err := os.Open(s.path(rel))
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		vars, err := ParseOSRelease(file)
		_ = file.Close()
		return vars, err
	}
	return nil, fmt.Errorf("os-release: %w", firstErr)
}

func (s Source) kernel() (string, error) {
	release, err := s.readTrimmed("proc/sys/kernel/osrelease")
	if err != nil && s.isHost() {
		var u syscall.Utsname
		if uerr := syscall.Uname(&u); uerr == nil {
			release, err = utsString(u.Release[:]), nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("kernel release: %w", err)
	}
	return clip(release, maxKernel), nil
}

// utsString converts a NUL-terminated utsname field; its element type is
// int8 or uint8 depending on the architecture.
func utsString[T int8 | uint8](field []T) string {
	b := make([]byte, 0, len(field))
	for _, c := range field {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

func (s Source) system(ctx context.Context, sys *protocol.SystemFacts) error {
	var count int
	cpuErr := s.parse("proc/cpuinfo", func(r io.Reader) (err error) {
		sys.CPUModel, count, err = parseCPUInfo(r)
		sys.CPUModel = clip(sys.CPUModel, maxCPUModel)
		return err
	})
	if count == 0 && s.isHost() {
		// Kernels that list no "processor" lines: the runtime's count
		// (which honours CPU affinity) is the best left.
		count = runtime.NumCPU()
	}
	sys.CPUCores = int32(min(count, math.MaxInt32))

	memErr := s.parse("proc/meminfo", func(r io.Reader) (err error) {
		sys.MemoryBytes, err = parseMemTotal(r)
		return err
	})
	bootErr := s.parse("proc/stat", func(r io.Reader) error {
		boot, err := parseBootTime(r)
		if err == nil {
			t := protocol.NewTime(boot)
			sys.BootTime = &t
		}
		return err
	})
	if boot, ok, err := bootTimeOverride(); ok || err != nil {
		bootErr = err
		if err == nil {
			t := protocol.NewTime(boot)
			sys.BootTime = &t
		}
	}
	var rebootErr error
	sys.RebootRequired, sys.RebootReason, rebootErr = s.rebootRequired(ctx)
	return errors.Join(cpuErr, memErr, bootErr, rebootErr)
}

// parse opens Root/rel and hands it to fn.
func (s Source) parse(rel string, fn func(io.Reader) error) error {
	file, err := os.Open(s.path(rel))
	if err != nil {
		return err
	}
	defer func() { _ = file.Close() }()
	return fn(file)
}

func (s Source) readTrimmed(rel string) (string, error) {
	b, err := os.ReadFile(s.path(rel))
	if err != nil {
		return "", err
	}
	return string(bytes.TrimSpace(b)), nil
}

// storage lists real filesystems with their size and use. A mount whose
// statfs fails is left out and named in the error; one reporting size 0
// is a pseudo filesystem the type list missed, and is left out silently.
func (s Source) storage() ([]protocol.MountStatus, error) {
	file, err := os.Open(s.path("proc/self/mountinfo"))
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	mounts, parseErr := ParseMountinfo(file)
	_ = file.Close()

	statfs := s.Statfs
	if statfs == nil {
		statfs = s.statfs
	}
	errs := []error{parseErr}
	var out []protocol.MountStatus
	for _, m := range selectMounts(mounts) {
		size, used, err := statfs(m.MountPoint)
		if err != nil {
			errs = append(errs, fmt.Errorf("statfs %s: %w", m.MountPoint, err))
			continue
		}
		if size <= 0 {
			continue
		}
		out = append(out, mountStatus(m, size, used))
	}
	if err := errors.Join(errs...); err != nil {
		return boundMounts(out), fmt.Errorf("storage: %w", err)
	}
	return boundMounts(out), nil
}

// statfs measures a mount the way df does: size is all blocks, used is
// all blocks minus free ones (reserved blocks count as used).
func (s Source) statfs(mountPoint string) (size, used int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.path(strings.TrimPrefix(mountPoint, "/")), &st); err != nil {
		return 0, 0, err
	}
	unit := int64(st.Frsize)
	if unit <= 0 {
		unit = int64(st.Bsize)
	}
	size = int64(st.Blocks) * unit
	used = int64(st.Blocks-st.Bfree) * unit
	return size, used, nil
}
