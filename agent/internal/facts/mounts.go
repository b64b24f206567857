package facts

import (
	"cmp"
	"slices"
	"strings"

	"github.com/redflag-io/redflag/internal/protocol"
)

// ExcludedFSTypes are filesystem types that are not storage a person would
// want to watch fill up. The root mount "/" is reported whatever its type
// (in a container it is an overlay, and its statfs still describes the
// disk underneath).
var ExcludedFSTypes = map[string]bool{
	// Kernel interfaces and memory-backed filesystems.
	"proc": true, "sysfs": true, "devtmpfs": true, "devpts": true, "tmpfs": true, "ramfs": true,
	"cgroup": true, "cgroup2": true, "securityfs": true, "pstore": true, "efivarfs": true,
	"bpf": true, "debugfs": true, "tracefs": true, "configfs": true, "fusectl": true,
	"hugetlbfs": true, "mqueue": true, "autofs": true, "binfmt_misc": true, "rpc_pipefs": true,
	"nfsd": true, "nsfs": true, "selinuxfs": true, "devfs": true,
	// Union and stacked views of another filesystem: counting them would
	// count the same disk again (container layers, encrypted home dirs).
	"overlay": true, "aufs": true, "ecryptfs": true, "shiftfs": true,
	// Read-only images, always 100% full (snaps, live media, composefs).
	"squashfs": true, "iso9660": true, "udf": true, "erofs": true,
	// Network and host-shared filesystems: another machine's disk, and a
	// statfs on an unreachable server can hang the scan.
	"nfs": true, "nfs4": true, "cifs": true, "smb3": true, "smbfs": true, "ceph": true,
	"glusterfs": true, "9p": true, "virtiofs": true, "vboxsf": true, "afs": true,
	"lustre": true, "gpfs": true, "beegfs": true,
}

// excludedFSType also drops every FUSE filesystem with a subtype
// ("fuse.sshfs", "fuse.gvfsd-fuse", "fuse.lxcfs"): they are network
// mounts, desktop helpers or views of other mounts. "fuseblk" (NTFS and
// exFAT disks through FUSE) is a real block device and is kept.
func excludedFSType(t string) bool {
	return ExcludedFSTypes[t] || strings.HasPrefix(t, "fuse.") || t == "fuse"
}

// selectMounts keeps one mount per filesystem: the one with the shortest
// mount point (so "/" over a bind mount of part of it, and a btrfs
// filesystem once however many subvolumes are mounted). Order is kept.
func selectMounts(all []Mount) []Mount {
	chosen := map[string]int{} // MajorMinor -> index in out
	var out []Mount
	for _, m := range all {
		if m.MountPoint != "/" && excludedFSType(m.FSType) {
			continue
		}
		if i, ok := chosen[m.MajorMinor]; ok {
			if len(m.MountPoint) < len(out[i].MountPoint) {
				out[i] = m
			}
			continue
		}
		chosen[m.MajorMinor] = len(out)
		out = append(out, m)
	}
	return out
}

// boundMounts keeps at most MaxMounts entries, "/" and then the largest,
// and sorts them by mount point so the list (and its hash) is stable.
func boundMounts(ms []protocol.MountStatus) []protocol.MountStatus {
	if len(ms) > protocol.MaxMounts {
		slices.SortStableFunc(ms, func(a, b protocol.MountStatus) int {
			if (a.MountPoint == "/") != (b.MountPoint == "/") {
				if a.MountPoint == "/" {
					return -1
				}
				return 1
			}
			return cmp.Compare(b.SizeBytes, a.SizeBytes)
		})
		ms = ms[:protocol.MaxMounts]
	}
	slices.SortFunc(ms, func(a, b protocol.MountStatus) int {
		return cmp.Compare(a.MountPoint, b.MountPoint)
	})
	return ms
}

func mountStatus(m Mount, size, used int64) protocol.MountStatus {
	return protocol.MountStatus{
		MountPoint: clip(m.MountPoint, maxMountPoint),
		Device:     clip(m.Source, maxDevice),
		FSType:     clip(m.FSType, maxFSType),
		SizeBytes:  size,
		UsedBytes:  used,
	}
}
