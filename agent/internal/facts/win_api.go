package facts

import (
	"errors"
	"time"
)

// winAPI is every Windows call the Windows collector makes, one method per
// call (or per short fixed sequence of calls), returning what Windows
// returned. collect_windows.go implements it with golang.org/x/sys; the
// code that interprets the answers (win_*.go) is plain Go, so it compiles
// and is tested on Linux against recorded answers (testdata/windows).
type winAPI interface {
	// RegString, RegInteger and RegStrings read a REG_SZ (or
	// REG_EXPAND_SZ), a REG_DWORD or REG_QWORD, and a REG_MULTI_SZ value
	// under HKEY_LOCAL_MACHINE\key, from the 64-bit registry view. A
	// missing key or value is an error matching fs.ErrNotExist.
	RegString(key, name string) (string, error)
	RegInteger(key, name string) (uint64, error)
	RegStrings(key, name string) ([]string, error)
	// RegValueCount is the number of values under HKEY_LOCAL_MACHINE\key;
	// a missing key is an error matching fs.ErrNotExist.
	RegValueCount(key string) (int, error)

	// Version is RtlGetVersion's answer, which unlike GetVersionEx does
	// not depend on the program's manifest.
	Version() winVersion
	// Hostname is os.Hostname.
	Hostname() (string, error)
	// LogicalProcessors is GetActiveProcessorCount(ALL_PROCESSOR_GROUPS),
	// or runtime.NumCPU where that returns 0.
	LogicalProcessors() int
	// TotalMemory is GlobalMemoryStatusEx's ullTotalPhys: the physical
	// memory the system can use, as Linux's MemTotal is.
	TotalMemory() (uint64, error)
	// SinceBoot is GetTickCount64 as a duration. It counts time asleep
	// or hibernated, so with Fast Startup a "shut down" does not reset it.
	SinceBoot() time.Duration

	// Drives is GetLogicalDriveStrings: root paths such as `C:\`.
	Drives() ([]string, error)
	// DriveType is GetDriveType of a root path (the drive* constants).
	DriveType(root string) uint32
	// Volume is GetVolumeNameForVolumeMountPoint, GetVolumeInformation
	// and GetDiskFreeSpaceEx of a root path. A drive that has no medium,
	// no recognised filesystem or is locked by BitLocker gives an error
	// matching errDriveNotReady.
	Volume(root string) (winVolume, error)
}

// winVersion is the part of RTL_OSVERSIONINFOEXW the collector uses. The
// JSON tags here and on winVolume are the recordings' format.
type winVersion struct {
	Major, Minor, Build uint32 `json:",omitempty"`
	// ProductType is VER_NT_WORKSTATION (1), VER_NT_DOMAIN_CONTROLLER (2)
	// or VER_NT_SERVER (3).
	ProductType byte `json:",omitempty"`
}

// winVolume is what Windows says about one drive's volume.
type winVolume struct {
	// Name is the volume GUID path, `\\?\Volume{...}\`; "" when Windows
	// has none for it.
	Name string `json:"name,omitempty"`
	// FSType is the filesystem name, such as NTFS, ReFS or FAT32.
	FSType string `json:"fsType,omitempty"`
	// Total and Free are GetDiskFreeSpaceEx's total number of bytes and
	// total number of free bytes (not the caller's quota).
	Total uint64 `json:"total,omitempty"`
	Free  uint64 `json:"free,omitempty"`
}

// GetDriveType's answers.
const (
	driveUnknown   = 0
	driveNoRootDir = 1
	driveRemovable = 2
	driveFixed     = 3
	driveRemote    = 4
	driveCDROM     = 5
	driveRAMDisk   = 6
)

// errDriveNotReady marks a drive that cannot be measured because there is
// nothing to measure yet; such drives are left out without an error.
var errDriveNotReady = errors.New("drive not ready")

// Registry keys the collector reads, under HKEY_LOCAL_MACHINE.
const (
	regCurrentVersion = `SOFTWARE\Microsoft\Windows NT\CurrentVersion`
	regProcessor0     = `HARDWARE\DESCRIPTION\System\CentralProcessor\0`
	regCBSReboot      = `SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending`
	regWUReboot       = `SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired`
	regSessionManager = `SYSTEM\CurrentControlSet\Control\Session Manager`
)
