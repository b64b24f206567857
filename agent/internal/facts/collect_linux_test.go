//go:build linux

package facts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
)

const gib = int64(1) << 30

// fakeStatfs answers from a table, as statfs(2) would for a recorded host.
func fakeStatfs(sizes map[string][2]int64) func(string) (int64, int64, error) {
	return func(mp string) (int64, int64, error) {
		s, ok := sizes[mp]
		if !ok {
			return 0, 0, fmt.Errorf("no such mount %s: %w", mp, syscall.ENOENT)
		}
		return s[0], s[1], nil
	}
}

// fakeExec plays back needs-restarting; nil output means "not installed".
func fakeExec(t *testing.T, out []byte, code int) func(context.Context, string, ...string) ([]byte, int, error) {
	return func(_ context.Context, name string, args ...string) ([]byte, int, error) {
		if name != "needs-restarting" || strings.Join(args, " ") != "-r" {
			t.Errorf("unexpected command %s %q", name, args)
		}
		if out == nil {
			return nil, -1, fmt.Errorf("find %s: %w", name, exec.ErrNotFound)
		}
		return out, code, nil
	}
}

func bootAt(sec int64) *protocol.Time {
	t := protocol.NewTime(time.Unix(sec, 0).UTC())
	return &t
}

func TestCollectFromRecordedHosts(t *testing.T) {
	needsRestarting, err := os.ReadFile(filepath.Join("testdata", "needs-restarting-r.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		src     Source
		want    Facts
		wantErr []string
	}{{
		name: "ubuntu with pending kernel reboot",
		src: Source{
			Root: "testdata/ubuntu",
			Statfs: fakeStatfs(map[string][2]int64{
				"/": {98 * gib, 41 * gib}, "/boot": {2 * gib, gib / 4}, "/boot/efi": {gib, gib / 100},
				"/srv/data": {2048 * gib, 1500 * gib}, "/mnt/backup disk": {4096 * gib, 100 * gib},
				"/media/usb": {64 * gib, 3 * gib},
			}),
			// Never called: the flag file answers first.
			Exec: func(context.Context, string, ...string) ([]byte, int, error) {
				t.Error("needs-restarting run on a Debian-style host")
				return nil, 0, nil
			},
		},
		want: Facts{
			Hostname: "web-01",
			OS: protocol.OSInfo{Family: "linux", Distribution: "ubuntu", Version: "24.04",
				PrettyName: "Ubuntu 24.04.1 LTS", Kernel: "6.8.0-45-generic", Arch: runtime.GOARCH},
			System: protocol.SystemFacts{
				CPUModel: "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", CPUCores: 4,
				MemoryBytes: 16310940 * 1024, BootTime: bootAt(1727000000),
				RebootRequired: true, RebootReason: "packages: linux-image-6.8.0-47-generic, linux-base, libc6",
			},
			Storage: []protocol.MountStatus{
				{MountPoint: "/", Device: "/dev/mapper/ubuntu--vg-ubuntu--lv", FSType: "ext4", SizeBytes: 98 * gib, UsedBytes: 41 * gib},
				{MountPoint: "/boot", Device: "/dev/sda2", FSType: "ext4", SizeBytes: 2 * gib, UsedBytes: gib / 4},
				{MountPoint: "/boot/efi", Device: "/dev/sda1", FSType: "vfat", SizeBytes: gib, UsedBytes: gib / 100},
				{MountPoint: "/media/usb", Device: "/dev/sdd1", FSType: "fuseblk", SizeBytes: 64 * gib, UsedBytes: 3 * gib},
				{MountPoint: "/mnt/backup disk", Device: "/dev/sdc1", FSType: "ext4", SizeBytes: 4096 * gib, UsedBytes: 100 * gib},
				{MountPoint: "/srv/data", Device: "/dev/sdb1", FSType: "xfs", SizeBytes: 2048 * gib, UsedBytes: 1500 * gib},
			},
		},
	}, {
		name: "rhel asks needs-restarting",
		src: Source{
			Root: "testdata/rhel",
			Statfs: fakeStatfs(map[string][2]int64{
				"/": {70 * gib, 12 * gib}, "/boot": {gib, gib / 3}, "/home": {200 * gib, 20 * gib},
				"/var/lib/containers/storage": {500 * gib, 250 * gib},
			}),
			Exec: fakeExec(t, needsRestarting, 1),
		},
		want: Facts{
			Hostname: "db-02.example.com",
			OS: protocol.OSInfo{Family: "linux", Distribution: "rhel", Version: "9.4",
				PrettyName: "Red Hat Enterprise Linux 9.4 (Plow)", Kernel: "5.14.0-427.13.1.el9_4.x86_64", Arch: runtime.GOARCH},
			System: protocol.SystemFacts{
				CPUModel: "AMD EPYC 7763 64-Core Processor", CPUCores: 2,
				MemoryBytes: 65536000 * 1024, BootTime: bootAt(1726000000),
				RebootRequired: true, RebootReason: "updated since boot: kernel, glibc, systemd",
			},
			Storage: []protocol.MountStatus{
				{MountPoint: "/", Device: "/dev/mapper/rhel-root", FSType: "xfs", SizeBytes: 70 * gib, UsedBytes: 12 * gib},
				{MountPoint: "/boot", Device: "/dev/sda1", FSType: "xfs", SizeBytes: gib, UsedBytes: gib / 3},
				{MountPoint: "/home", Device: "/dev/mapper/rhel-home", FSType: "xfs", SizeBytes: 200 * gib, UsedBytes: 20 * gib},
				{MountPoint: "/var/lib/containers/storage", Device: "/dev/mapper/rhel-containers", FSType: "xfs", SizeBytes: 500 * gib, UsedBytes: 250 * gib},
			},
		},
	}, {
		name: "arm64 btrfs, odd os-release, one bad mountinfo line",
		src: Source{
			Root: "testdata/arm64",
			Statfs: fakeStatfs(map[string][2]int64{
				"/": {50 * gib, 9 * gib}, "/boot/efi": {gib / 2, gib / 50}, "/mnt/zero": {0, 0},
			}),
			Exec: fakeExec(t, nil, 0), // not a dnf host
		},
		want: Facts{
			Hostname: "arm-vm",
			OS: protocol.OSInfo{Family: "linux", Distribution: "custom", Version: "1.2",
				PrettyName: `Custom Linux 1.2 "Edge"`, Kernel: "6.1.0-25-arm64", Arch: runtime.GOARCH},
			System: protocol.SystemFacts{CPUCores: 2, MemoryBytes: 4005432 * 1024, BootTime: bootAt(1725000000)},
			Storage: []protocol.MountStatus{
				{MountPoint: "/", Device: "/dev/vda2", FSType: "btrfs", SizeBytes: 50 * gib, UsedBytes: 9 * gib},
				{MountPoint: "/boot/efi", Device: "/dev/vda1", FSType: "vfat", SizeBytes: gib / 2, UsedBytes: gib / 50},
			},
		},
		wantErr: []string{"storage: mountinfo: 1 malformed line(s), first at line 8"},
	}, {
		name:    "empty root: every part fails, nothing panics",
		src:     Source{Root: t.TempDir()},
		want:    Facts{OS: protocol.OSInfo{Family: "linux", Distribution: "linux", PrettyName: "Linux", Arch: runtime.GOARCH}},
		wantErr: []string{"os-release", "kernel release", "cpuinfo", "meminfo", "stat", "storage", "hostname"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.src.Collect(context.Background())
			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v does not mention %q", err, w)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("facts differ\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCollectReportsFailedStatfsAndKeepsTheRest(t *testing.T) {
	src := Source{Root: "testdata/rhel", Statfs: func(mp string) (int64, int64, error) {
		if mp == "/home" {
			return 0, 0, syscall.EACCES
		}
		return 10 * gib, gib, nil
	}}
	f, err := src.Collect(context.Background())
	if err == nil || !strings.Contains(err.Error(), "statfs /home") || !errors.Is(err, syscall.EACCES) {
		t.Errorf("error %v, want statfs /home named", err)
	}
	if len(f.Storage) != 3 || f.OS.Distribution != "rhel" {
		t.Errorf("other facts lost: %+v", f)
	}
}

func TestRebootRequiredCommandOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		out      []byte
		code     int
		runErr   error
		want     bool
		wantErr  string
		wantText string
	}{
		{name: "nothing to do", out: []byte("No core libraries or services have been updated since boot-up.\nReboot should not be necessary.\n"), code: 0},
		{name: "required without list", out: []byte("Reboot is required.\n"), code: 1, want: true, wantText: "Reboot is required."},
		{name: "required, silent", out: []byte{}, code: 1, want: true, wantText: "needs-restarting -r reports a reboot is required"},
		{name: "unexpected exit", out: []byte{}, code: 2, wantErr: "exit status 2"},
		{name: "timed out", runErr: context.DeadlineExceeded, wantErr: "deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := Source{Root: t.TempDir(), Exec: func(context.Context, string, ...string) ([]byte, int, error) {
				return tt.out, tt.code, tt.runErr
			}}
			got, reason, err := src.rebootRequired(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || reason != tt.wantText {
				t.Errorf("got %v %q %v, want %v %q", got, reason, err, tt.want, tt.wantText)
			}
		})
	}
}

// TestCollectOnThisHost checks the real machine: its root filesystem is
// reported with a size, and no kernel pseudo filesystem slips in.
func TestCollectOnThisHost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := Collect(ctx)
	if err != nil {
		t.Logf("partial: %v", err) // containers may lack some files
	}
	var root *protocol.MountStatus
	for i, m := range f.Storage {
		if m.MountPoint == "/" {
			root = &f.Storage[i]
		}
		if m.FSType == "proc" || m.FSType == "sysfs" || m.FSType == "tmpfs" || m.FSType == "devtmpfs" ||
			strings.HasPrefix(m.MountPoint, "/proc") || strings.HasPrefix(m.MountPoint, "/sys") {
			t.Errorf("pseudo filesystem reported: %+v", m)
		}
		if m.SizeBytes <= 0 || m.UsedBytes < 0 || m.UsedBytes > m.SizeBytes {
			t.Errorf("implausible sizes: %+v", m)
		}
	}
	if root == nil {
		t.Fatalf("root mount missing from %+v", f.Storage)
	}
	if root.SizeBytes <= 0 {
		t.Errorf("root size %d", root.SizeBytes)
	}

	var u syscall.Utsname
	if err := syscall.Uname(&u); err == nil && f.OS.Kernel != utsString(u.Release[:]) {
		t.Errorf("kernel %q, uname says %q", f.OS.Kernel, utsString(u.Release[:]))
	}
	if host, _ := os.Hostname(); f.Hostname != host {
		t.Errorf("hostname %q, os.Hostname %q", f.Hostname, host)
	}
	if f.OS.Family != "linux" || f.OS.Arch != runtime.GOARCH || f.System.CPUCores <= 0 || f.System.MemoryBytes <= 0 {
		t.Errorf("basic facts missing: %+v", f)
	}
	if f.System.BootTime == nil || f.System.BootTime.After(time.Now()) {
		t.Errorf("boot time %v", f.System.BootTime)
	}
	if f.Hash() != f.Hash() || len(f.Hash()) != 64 {
		t.Errorf("hash %q", f.Hash())
	}
}
