package facts

import (
	"testing"
	"time"

	"github.com/redflag-io/redflag/internal/protocol"
)

func sample() Facts {
	boot := protocol.NewTime(time.Unix(1727000000, 0))
	return Facts{
		Hostname: "web-01",
		OS:       protocol.OSInfo{Family: "linux", Distribution: "debian", Version: "12", Kernel: "6.1.0-25-amd64", Arch: "amd64"},
		System:   protocol.SystemFacts{CPUCores: 4, MemoryBytes: 8 << 30, BootTime: &boot},
		Storage: []protocol.MountStatus{
			{MountPoint: "/", Device: "/dev/sda1", FSType: "ext4", SizeBytes: 100 << 30, UsedBytes: 40 << 30},
			{MountPoint: "/data", Device: "/dev/sdb1", FSType: "xfs", SizeBytes: 1000 << 30, UsedBytes: 1 << 30},
		},
	}
}

func TestHash(t *testing.T) {
	base := sample()
	h := base.Hash()
	if len(h) != 64 {
		t.Fatalf("hash %q", h)
	}

	reordered := sample()
	reordered.Storage[0], reordered.Storage[1] = reordered.Storage[1], reordered.Storage[0]
	if reordered.Hash() != h {
		t.Error("mount order changed the hash")
	}
	if base.Storage[0].MountPoint != "/" {
		t.Error("Hash reordered the caller's slice")
	}

	for name, change := range map[string]func(*Facts){
		"kernel":        func(f *Facts) { f.OS.Kernel = "6.1.0-26-amd64" },
		"reboot":        func(f *Facts) { f.System.RebootRequired = true },
		"new mount":     func(f *Facts) { f.Storage = append(f.Storage, protocol.MountStatus{MountPoint: "/srv", SizeBytes: 1}) },
		"boot":          func(f *Facts) { b := protocol.NewTime(time.Unix(1727000100, 0)); f.System.BootTime = &b },
		"one byte more": func(f *Facts) { f.Storage[0].UsedBytes++ },
	} {
		f := sample()
		change(&f)
		if f.Hash() == h {
			t.Errorf("%s: hash unchanged", name)
		}
	}
}

func TestCoarseHashIgnoresSmallGrowth(t *testing.T) {
	base := sample().Coarse().Hash()

	small := sample()
	small.Storage[0].UsedBytes += 100 << 20 // 0.1% of 100 GiB
	if small.Coarse().Hash() != base {
		t.Error("0.1% growth changed the coarse hash")
	}
	big := sample()
	big.Storage[0].UsedBytes += 2 << 30 // 2%
	if big.Coarse().Hash() == base {
		t.Error("2% growth left the coarse hash unchanged")
	}
	f := sample()
	_ = f.Coarse()
	if f.Storage[0].UsedBytes != 40<<30 {
		t.Error("Coarse modified the caller's facts")
	}
}

func TestClip(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{{"abc", 5, "abc"}, {"abcdef", 3, "abc"}, {"aé", 2, "a"}, {"éé", 3, "é"}, {"x", 0, ""}, {"a😀", 4, "a"},
		// Stray continuation bytes: only a partial rune is dropped, not the run.
		{"a\x94\x94\x94\x94\x94", 4, "a\x94\x94\x94"}} {
		if got := clip(tt.in, tt.n); got != tt.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
