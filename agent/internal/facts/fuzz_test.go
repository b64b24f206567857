package facts

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func addFiles(f *testing.F, pattern string) {
	files, err := filepath.Glob(pattern)
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
}

// FuzzParseMountinfo: any input gives mounts with absolute mount points
// and a type, never a panic; selecting and clipping them stays in bounds.
func FuzzParseMountinfo(f *testing.F) {
	addFiles(f, "testdata/*/proc/self/mountinfo")
	f.Add([]byte(`1 0 8:1 /\1 /\040\777\03 rw a b - - - -`))
	f.Fuzz(func(t *testing.T, data []byte) {
		mounts, _ := ParseMountinfo(bytes.NewReader(data))
		for _, m := range mounts {
			if !strings.HasPrefix(m.MountPoint, "/") || m.MajorMinor == "" {
				t.Fatalf("bad mount %+v", m)
			}
			ms := mountStatus(m, 1, 0)
			if len(ms.MountPoint) > maxMountPoint || len(ms.Device) > maxDevice || len(ms.FSType) > maxFSType {
				t.Fatalf("not clipped: %+v", ms)
			}
		}
		if len(selectMounts(mounts)) > len(mounts) {
			t.Fatal("selectMounts invented mounts")
		}
	})
}

// FuzzParseOSRelease: any input parses without panic to valid keys, and
// OSInfo built from it respects the CRD's limits.
func FuzzParseOSRelease(f *testing.F) {
	addFiles(f, "testdata/*/etc/os-release")
	addFiles(f, "testdata/*/usr/lib/os-release")
	f.Add([]byte("A=\"\\\"\nB='\nC=\"\\\\\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		vars, err := ParseOSRelease(bytes.NewReader(data))
		if err != nil {
			return
		}
		for k := range vars {
			if !isOSReleaseKey(k) {
				t.Fatalf("invalid key %q", k)
			}
		}
		info := osInfo(vars)
		if len(info.PrettyName) > maxPrettyName || len(info.Distribution) > maxDistribution || len(info.Version) > maxVersion {
			t.Fatalf("not clipped: %+v", info)
		}
		if utf8.Valid(data) && !utf8.ValidString(info.PrettyName) {
			t.Fatalf("clip split a rune: %q", info.PrettyName)
		}
	})
}

// FuzzProcParsers covers the /proc/cpuinfo, meminfo and stat readers.
func FuzzProcParsers(f *testing.F) {
	addFiles(f, "testdata/*/proc/cpuinfo")
	addFiles(f, "testdata/*/proc/meminfo")
	addFiles(f, "testdata/*/proc/stat")
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, n, _ := parseCPUInfo(bytes.NewReader(data)); n < 0 {
			t.Fatal("negative CPU count")
		}
		if mem, err := parseMemTotal(bytes.NewReader(data)); err == nil && mem <= 0 {
			t.Fatalf("memory %d accepted", mem)
		}
		if bt, err := parseBootTime(bytes.NewReader(data)); err == nil && bt.Unix() <= 0 {
			t.Fatalf("boot time %v accepted", bt)
		}
		_ = needsRestartingReason(data)
		if r := debianRebootReason(data, data); len(r) > maxRebootReason {
			t.Fatalf("reason of %d bytes", len(r))
		}
	})
}

// FuzzWindowsOS: whatever the registry and RtlGetVersion say, the Windows
// OSInfo respects the CRD's limits and keeps valid UTF-8 valid.
func FuzzWindowsOS(f *testing.F) {
	f.Add("Windows 10 Pro", "23H2", "2009", "22631", uint32(10), uint32(22631), uint64(4169), byte(1))
	f.Add("Windows Server 2019 Standard", "", "1809", "17763", uint32(10), uint32(0), uint64(6293), byte(3))
	f.Fuzz(func(t *testing.T, product, display, release, build string, major, buildNo uint32, ubr uint64, productType byte) {
		cv := currentVersion{ProductName: product, DisplayVersion: display, ReleaseID: release, CurrentBuild: build, UBR: ubr, HasUBR: ubr%2 == 0}
		info := windowsOS(winVersion{Major: major, Build: buildNo, ProductType: productType}, cv)
		if len(info.PrettyName) > maxPrettyName || len(info.Version) > maxVersion || len(info.Kernel) > maxKernel || info.PrettyName == "" {
			t.Fatalf("not clipped or empty: %+v", info)
		}
		if utf8.ValidString(product) && utf8.ValidString(display) && utf8.ValidString(release) && !utf8.ValidString(info.PrettyName+info.Version) {
			t.Fatalf("clip split a rune: %+v", info)
		}
	})
}
