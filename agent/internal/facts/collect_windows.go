//go:build windows

package facts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// Collect reads the facts of this Windows host through the Windows API.
// Source's fields are for the Linux collector and are not used here.
func (s Source) Collect(ctx context.Context) (Facts, error) {
	return collectWindows(ctx, hostAPI{}, time.Now())
}

// The drive* constants must be GetDriveType's; a mismatch fails the build
// (an index out of range).
var (
	_ = [1]int{}[windows.DRIVE_UNKNOWN-driveUnknown]
	_ = [1]int{}[windows.DRIVE_REMOVABLE-driveRemovable]
	_ = [1]int{}[windows.DRIVE_FIXED-driveFixed]
	_ = [1]int{}[windows.DRIVE_REMOTE-driveRemote]
	_ = [1]int{}[windows.DRIVE_CDROM-driveCDROM]
	_ = [1]int{}[windows.DRIVE_RAMDISK-driveRAMDisk]
)

// hostAPI is winAPI on the real system: each method is one call (or a
// fixed short sequence) with no interpretation beyond decoding.
type hostAPI struct{}

var _ winAPI = hostAPI{}

func openKey(key string) (registry.Key, error) {
	// WOW64_64KEY: a 32-bit agent would otherwise read the redirected
	// 32-bit view of SOFTWARE.
	return registry.OpenKey(registry.LOCAL_MACHINE, key, registry.QUERY_VALUE|registry.WOW64_64KEY)
}

func (hostAPI) RegString(key, name string) (string, error) {
	k, err := openKey(key)
	if err != nil {
		return "", fmt.Errorf(`open HKLM\%s: %w`, key, err)
	}
	defer func() { _ = k.Close() }()
	v, _, err := k.GetStringValue(name)
	if err != nil {
		return "", fmt.Errorf(`read HKLM\%s\%s: %w`, key, name, err)
	}
	return v, nil
}

func (hostAPI) RegInteger(key, name string) (uint64, error) {
	k, err := openKey(key)
	if err != nil {
		return 0, fmt.Errorf(`open HKLM\%s: %w`, key, err)
	}
	defer func() { _ = k.Close() }()
	v, _, err := k.GetIntegerValue(name)
	if err != nil {
		return 0, fmt.Errorf(`read HKLM\%s\%s: %w`, key, name, err)
	}
	return v, nil
}

func (hostAPI) RegStrings(key, name string) ([]string, error) {
	k, err := openKey(key)
	if err != nil {
		return nil, fmt.Errorf(`open HKLM\%s: %w`, key, err)
	}
	defer func() { _ = k.Close() }()
	v, _, err := k.GetStringsValue(name)
	if err != nil {
		return nil, fmt.Errorf(`read HKLM\%s\%s: %w`, key, name, err)
	}
	return v, nil
}

func (hostAPI) RegValueCount(key string) (int, error) {
	k, err := openKey(key)
	if err != nil {
		return 0, fmt.Errorf(`open HKLM\%s: %w`, key, err)
	}
	defer func() { _ = k.Close() }()
	st, err := k.Stat()
	if err != nil {
		return 0, fmt.Errorf(`stat HKLM\%s: %w`, key, err)
	}
	return int(st.ValueCount), nil
}

func (hostAPI) Version() winVersion {
	v := windows.RtlGetVersion()
	return winVersion{Major: v.MajorVersion, Minor: v.MinorVersion, Build: v.BuildNumber, ProductType: v.ProductType}
}

func (hostAPI) Hostname() (string, error) { return os.Hostname() }

func (hostAPI) LogicalProcessors() int {
	if n := windows.GetActiveProcessorCount(windows.ALL_PROCESSOR_GROUPS); n > 0 {
		return int(n)
	}
	return runtime.NumCPU()
}

// memoryStatusEx is MEMORYSTATUSEX, which x/sys/windows does not define.
type memoryStatusEx struct {
	length               uint32
	memoryLoad           uint32
	totalPhys            uint64
	availPhys            uint64
	totalPageFile        uint64
	availPageFile        uint64
	totalVirtual         uint64
	availVirtual         uint64
	availExtendedVirtual uint64
}

var procGlobalMemoryStatusEx = windows.NewLazySystemDLL("kernel32.dll").NewProc("GlobalMemoryStatusEx")

func (hostAPI) TotalMemory() (uint64, error) {
	m := memoryStatusEx{length: uint32(unsafe.Sizeof(memoryStatusEx{}))}
	if err := procGlobalMemoryStatusEx.Find(); err != nil {
		return 0, fmt.Errorf("GlobalMemoryStatusEx: %w", err)
	}
	ok, _, err := procGlobalMemoryStatusEx.Call(uintptr(unsafe.Pointer(&m)))
	if ok == 0 {
		return 0, fmt.Errorf("GlobalMemoryStatusEx: %w", err)
	}
	return m.totalPhys, nil
}

func (hostAPI) SinceBoot() time.Duration { return windows.DurationSinceBoot() }

func (hostAPI) Drives() ([]string, error) {
	// 26 letters of `X:\` and a NUL each, and the final NUL.
	buf := make([]uint16, 26*4+1)
	n, err := windows.GetLogicalDriveStrings(uint32(len(buf)), &buf[0])
	if err != nil {
		return nil, fmt.Errorf("GetLogicalDriveStrings: %w", err)
	}
	if int(n) > len(buf) {
		return nil, fmt.Errorf("GetLogicalDriveStrings needs %d characters", n)
	}
	var roots []string
	start := 0
	for i, c := range buf[:n] {
		if c == 0 {
			if i > start {
				roots = append(roots, windows.UTF16ToString(buf[start:i]))
			}
			start = i + 1
		}
	}
	return roots, nil
}

func (hostAPI) DriveType(root string) uint32 {
	p, err := windows.UTF16PtrFromString(root)
	if err != nil {
		return driveUnknown
	}
	return windows.GetDriveType(p)
}

// notReady are the errors of a drive with nothing to measure: no medium,
// an unformatted (RAW) volume, a detached disk, a BitLocker-locked volume.
var notReady = []error{
	windows.ERROR_NOT_READY, windows.ERROR_NO_MEDIA_IN_DRIVE, windows.ERROR_UNRECOGNIZED_VOLUME,
	windows.ERROR_DEVICE_NOT_CONNECTED, syscall.Errno(windows.FVE_E_LOCKED_VOLUME),
}

func (hostAPI) Volume(root string) (winVolume, error) {
	p, err := windows.UTF16PtrFromString(root)
	if err != nil {
		return winVolume{}, err
	}
	var v winVolume
	// GetDiskFreeSpaceEx first: it is the call that must succeed.
	var avail uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &v.Total, &v.Free); err != nil {
		return winVolume{}, volumeError("GetDiskFreeSpaceEx", err)
	}
	fsName := make([]uint16, windows.MAX_PATH+1)
	if err := windows.GetVolumeInformation(p, nil, 0, nil, nil, nil, &fsName[0], uint32(len(fsName))); err != nil {
		return winVolume{}, volumeError("GetVolumeInformation", err)
	}
	v.FSType = windows.UTF16ToString(fsName)
	// A volume GUID path is 49 characters; the device is optional, so a
	// failure leaves it empty.
	guid := make([]uint16, 64)
	if err := windows.GetVolumeNameForVolumeMountPoint(p, &guid[0], uint32(len(guid))); err == nil {
		v.Name = windows.UTF16ToString(guid)
	}
	return v, nil
}

func volumeError(call string, err error) error {
	for _, nr := range notReady {
		if errors.Is(err, nr) {
			return fmt.Errorf("%w: %s: %w", errDriveNotReady, call, err)
		}
	}
	return fmt.Errorf("%s: %w", call, err)
}
