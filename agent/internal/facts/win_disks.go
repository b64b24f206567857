package facts

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/redflag-io/redflag/internal/protocol"
)

// maxDriveLetters bounds the drives looked at: there are 26 letters, so
// more is a broken answer, not a bigger machine.
const maxDriveLetters = 26

// windowsStorage lists the fixed drives (DRIVE_FIXED: internal disks, and
// external disks that present themselves as fixed) with their size and use,
// in the fields Linux mounts fill: mountPoint `C:\`, device the volume GUID
// path, fsType NTFS, ReFS, FAT32 or exFAT. Removable, network, optical and
// RAM drives are left out for the reasons ExcludedFSTypes gives on Linux.
// Volumes mounted in a folder rather than at a drive letter are not listed
// (GetLogicalDriveStrings names only letters).
//
// A drive with no medium, no filesystem or locked by BitLocker is left out
// silently; one that fails otherwise is left out and named in the error,
// which starts "storage:" as the Linux collector's do.
func windowsStorage(ctx context.Context, api winAPI) ([]protocol.MountStatus, error) {
	roots, err := api.Drives()
	if err != nil {
		return nil, fmt.Errorf("storage: drives: %w", err)
	}
	var errs []error
	if len(roots) > maxDriveLetters {
		errs = append(errs, fmt.Errorf("%d drives reported, looked at the first %d", len(roots), maxDriveLetters))
		roots = roots[:maxDriveLetters]
	}
	var out []protocol.MountStatus
	for _, root := range roots {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if root == "" || api.DriveType(root) != driveFixed {
			continue
		}
		vol, err := api.Volume(root)
		switch {
		case errors.Is(err, errDriveNotReady):
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", root, err))
			continue
		case vol.Total == 0:
			continue
		}
		out = append(out, driveStatus(root, vol))
	}
	if err := errors.Join(errs...); err != nil {
		return boundMounts(out), fmt.Errorf("storage: %w", err)
	}
	return boundMounts(out), nil
}

// driveStatus maps a drive to the API's mount. Used is total minus free,
// as Explorer shows it.
func driveStatus(root string, vol winVolume) protocol.MountStatus {
	free := min(vol.Free, vol.Total)
	return protocol.MountStatus{
		MountPoint: clip(root, maxMountPoint),
		Device:     clip(vol.Name, maxDevice),
		FSType:     clip(vol.FSType, maxFSType),
		SizeBytes:  int64(min(vol.Total, math.MaxInt64)),
		UsedBytes:  int64(min(vol.Total-free, math.MaxInt64)),
	}
}
