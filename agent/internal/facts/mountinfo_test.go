package facts

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/internal/protocol"
)

func TestParseMountinfo(t *testing.T) {
	in := strings.Join([]string{
		// No optional fields.
		`21 26 0:20 / /proc rw,relatime - proc proc rw`,
		// Several optional fields, escaped space and backslash.
		`82 22 8:33 /a\134b /mnt/backup\040disk rw shared:43 master:2 propagate_from:1 - ext4 /dev/disk\040one rw`,
		// Tab and newline escapes, and an escape that is not one.
		`83 22 8:34 / /mnt/t\011n\012x\9y rw - ext4 /dev/sde rw`,
		// Malformed: no separator, then a relative mount point.
		`99 1 8:1 / /x rw shared:1 ext4 /dev/sda rw`,
		`98 1 8:1 / relative rw - ext4 /dev/sda rw`,
		``,
	}, "\n")
	got, err := ParseMountinfo(strings.NewReader(in))
	want := []Mount{
		{MajorMinor: "0:20", Root: "/", MountPoint: "/proc", FSType: "proc", Source: "proc"},
		{MajorMinor: "8:33", Root: `/a\b`, MountPoint: "/mnt/backup disk", FSType: "ext4", Source: "/dev/disk one"},
		{MajorMinor: "8:34", Root: "/", MountPoint: "/mnt/t\tn\nx\\9y", FSType: "ext4", Source: "/dev/sde"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if err == nil || !strings.Contains(err.Error(), "2 malformed line(s), first at line 4") {
		t.Errorf("error %v, want the bad lines counted", err)
	}
}

func TestParseMountinfoLongOverlayLine(t *testing.T) {
	// Overlay mounts name every layer; lines far beyond bufio's default
	// 64 KiB must still parse.
	lower := strings.Repeat("/var/lib/docker/overlay2/l/ABCDEFGHIJKLMNOPQRSTUVWXYZ:", 3000)
	in := "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n" +
		"2 1 0:99 / /var/lib/docker/overlay2/x/merged rw - overlay overlay rw,lowerdir=" + lower + "\n" +
		"3 1 8:2 / /home rw - ext4 /dev/sda2 rw\n"
	got, err := ParseMountinfo(strings.NewReader(in))
	if err != nil || len(got) != 3 || got[2].MountPoint != "/home" {
		t.Errorf("got %d mounts, %v", len(got), err)
	}
}

func TestSelectMounts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // mount points
	}{
		{"pseudo, network, fuse and images dropped", `
1 0 8:1 / / rw - ext4 /dev/sda1 rw
2 1 0:5 / /dev rw - devtmpfs udev rw
3 1 0:6 / /run rw - tmpfs tmpfs rw
4 1 0:7 / /mnt/nfs rw - nfs4 srv:/x rw
5 1 0:8 / /home/u/.cache/doc rw - fuse.portal portal rw
6 1 7:0 / /snap/core/1 ro - squashfs /dev/loop0 ro
7 1 8:17 / /data rw - xfs /dev/sdb1 rw
8 1 8:49 / /media/win rw - fuseblk /dev/sdd1 rw`, []string{"/", "/data", "/media/win"}},
		{"bind mounts and subvolumes counted once, shortest mount point kept", `
1 0 8:17 /exports /srv/nfs rw - xfs /dev/sdb1 rw
2 0 8:17 / /srv rw - xfs /dev/sdb1 rw
3 0 0:22 /@ / rw - btrfs /dev/vda2 rw
4 3 0:22 /@home /home rw - btrfs /dev/vda2 rw`, []string{"/srv", "/"}},
		{"overlay root of a container is kept", `
500 400 0:50 / / rw - overlay overlay rw,lowerdir=/l
501 500 0:51 / /proc rw - proc proc rw
502 500 254:1 /data/etc-hosts /etc/hosts rw - ext4 /dev/vda1 rw`, []string{"/", "/etc/hosts"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mounts, err := ParseMountinfo(strings.NewReader(strings.TrimSpace(tt.in)))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range selectMounts(mounts) {
				got = append(got, m.MountPoint)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBoundMountsKeepsRootAndLargest(t *testing.T) {
	var ms []protocol.MountStatus
	for i := range 40 {
		ms = append(ms, protocol.MountStatus{MountPoint: fmt.Sprintf("/d/%02d", i), SizeBytes: int64(i + 10)})
	}
	ms = append(ms, protocol.MountStatus{MountPoint: "/", SizeBytes: 1})
	got := boundMounts(ms)
	if len(got) != protocol.MaxMounts {
		t.Fatalf("%d mounts, want %d", len(got), protocol.MaxMounts)
	}
	if got[0].MountPoint != "/" || got[1].MountPoint != "/d/09" || got[len(got)-1].MountPoint != "/d/39" {
		t.Errorf("kept %s, %s ... %s; want /, the 31 largest, sorted", got[0].MountPoint, got[1].MountPoint, got[len(got)-1].MountPoint)
	}
}

func TestMountStatusClipsToCRDLimits(t *testing.T) {
	m := mountStatus(Mount{MountPoint: "/" + strings.Repeat("m", 300), Source: strings.Repeat("s", 300), FSType: "fuseblk" + strings.Repeat("x", 40)}, 1, 0)
	if len(m.MountPoint) != 256 || len(m.Device) != 256 || len(m.FSType) != 32 {
		t.Errorf("lengths %d %d %d", len(m.MountPoint), len(m.Device), len(m.FSType))
	}
}
