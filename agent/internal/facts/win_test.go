package facts

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/redflag-io/redflag/internal/protocol"
)

// The Windows collector's interpretation, run on recordings of what the
// Windows API answered (see recordedWindows): these tests run on every
// platform, and do not exercise the real Windows calls.

func utcTime(s string) *protocol.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	mt := protocol.NewTime(t)
	return &mt
}

func TestCollectWindowsFromRecordings(t *testing.T) {
	for _, tt := range []struct {
		file     string
		want     Facts
		measured []string
	}{{
		file: "win11-pro-23h2.json",
		want: Facts{
			Hostname: "DESKTOP-4F7QK2M",
			OS: protocol.OSInfo{Family: "windows", Distribution: "windows", Version: "23H2",
				PrettyName: "Windows 11 Pro 23H2 (build 22631.4169)", Kernel: "10.0.22631.4169", Arch: runtime.GOARCH},
			System: protocol.SystemFacts{
				CPUModel: "11th Gen Intel(R) Core(TM) i7-1185G7 @ 3.00GHz", CPUCores: 8,
				MemoryBytes: 16947187712, BootTime: utcTime("2024-09-09T04:17:00Z"),
				RebootRequired: true,
				RebootReason: "Windows Update: 2 updates installed, restart required; " +
					"Component Based Servicing: servicing operation pending; 2 file renames pending (PendingFileRenameOperations)",
			},
			Storage: []protocol.MountStatus{{MountPoint: `C:\`, Device: `\\?\Volume{3f1c2a4e-8b7d-4c11-9e2f-0a5b6c7d8e9f}\`,
				FSType: "NTFS", SizeBytes: 510770802688, UsedBytes: 510770802688 - 198452969472}},
		},
		// D: (optical), E: (removable) and Z: (network) are not measured.
		measured: []string{`C:\`},
	}, {
		file: "win10-enterprise-22h2.json",
		want: Facts{
			Hostname: "WS-ACCT-0042",
			OS: protocol.OSInfo{Family: "windows", Distribution: "windows", Version: "22H2",
				PrettyName: "Windows 10 Enterprise 22H2 (build 19045.4894)", Kernel: "10.0.19045.4894", Arch: runtime.GOARCH},
			System: protocol.SystemFacts{
				CPUModel: "AMD Ryzen 5 3600 6-Core Processor", CPUCores: 12,
				MemoryBytes: 34281279488, BootTime: utcTime("2024-09-20T02:55:00Z"),
			},
			// D: is fixed but unformatted: not ready, left out, no error.
			Storage: []protocol.MountStatus{{MountPoint: `C:\`, Device: `\\?\Volume{7d0f6e2b-1a3c-4b5d-9e8f-2c4a6b8d0e1f}\`,
				FSType: "NTFS", SizeBytes: 255465615360, UsedBytes: 255465615360 - 101318270976}},
		},
		measured: []string{`C:\`, `D:\`},
	}, {
		file: "server-2022-datacenter.json",
		want: Facts{
			Hostname: "SRV-APP-01",
			OS: protocol.OSInfo{Family: "windows", Distribution: "windows-server", Version: "21H2",
				PrettyName: "Windows Server 2022 Datacenter 21H2 (build 20348.2700)", Kernel: "10.0.20348.2700", Arch: runtime.GOARCH},
			System: protocol.SystemFacts{
				CPUModel: "Intel(R) Xeon(R) Platinum 8272CL CPU @ 2.60GHz", CPUCores: 4,
				MemoryBytes: 17179398144, BootTime: utcTime("2024-09-04T19:57:00Z"),
				RebootRequired: true, RebootReason: "3 file renames pending (PendingFileRenameOperations)",
			},
			// G: is BitLocker-locked: left out, no error.
			Storage: []protocol.MountStatus{
				{MountPoint: `C:\`, Device: `\\?\Volume{c0ffee00-1234-4cde-8f00-0a1b2c3d4e5f}\`, FSType: "NTFS",
					SizeBytes: 136363114496, UsedBytes: 136363114496 - 84213432320},
				{MountPoint: `D:\`, Device: `\\?\Volume{5e7a9c1b-3d5f-4a7b-9c1d-3e5f7a9b1c3d}\`, FSType: "NTFS",
					SizeBytes: 17177767936, UsedBytes: 17177767936 - 15987343360},
				{MountPoint: `F:\`, Device: `\\?\Volume{9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d}\`, FSType: "ReFS",
					SizeBytes: 1099444518912, UsedBytes: 1099444518912 - 612937441280},
			},
		},
		measured: []string{`C:\`, `D:\`, `F:\`, `G:\`},
	}} {
		t.Run(tt.file, func(t *testing.T) {
			rec := loadRecording(t, tt.file)
			got, err := collectWindows(context.Background(), rec, rec.RecordedAt)
			if err != nil {
				t.Errorf("error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("facts:\n got %+v\nwant %+v", got, tt.want)
			}
			if !reflect.DeepEqual(rec.measured, tt.measured) {
				t.Errorf("measured drives %q, want %q", rec.measured, tt.measured)
			}
		})
	}
}

func TestWindowsProductName(t *testing.T) {
	for _, tt := range []struct {
		name  string
		build uint64
		want  string
	}{
		{"Windows 10 Pro", 22631, "Windows 11 Pro"},
		{"Windows 10 Home", 22000, "Windows 11 Home"},
		{"Windows 10 Pro", 19045, "Windows 10 Pro"},
		{"Windows 10 Enterprise LTSC 2021", 19044, "Windows 10 Enterprise LTSC 2021"},
		// LTSC 2024 is Windows 11 24H2 underneath.
		{"Windows 10 IoT Enterprise LTSC 2024", 26100, "Windows 11 IoT Enterprise LTSC 2024"},
		{"Windows 10", 26100, "Windows 11"},
		{"Windows 11 Pro", 26100, "Windows 11 Pro"},
		{"Windows Server 2022 Datacenter", 20348, "Windows Server 2022 Datacenter"},
		{"Windows Server 2025 Standard", 26100, "Windows Server 2025 Standard"},
		{"Windows 100 Pro", 26100, "Windows 100 Pro"},
	} {
		if got := productName(tt.name, tt.build); got != tt.want {
			t.Errorf("productName(%q, %d) = %q, want %q", tt.name, tt.build, got, tt.want)
		}
	}
}

func TestWindowsOSFallbacks(t *testing.T) {
	for _, tt := range []struct {
		name string
		ver  winVersion
		cv   currentVersion
		want protocol.OSInfo
	}{{
		name: "Server 2019 has ReleaseId and no DisplayVersion",
		ver:  winVersion{Major: 10, Build: 17763, ProductType: 3},
		cv:   currentVersion{ProductName: "Windows Server 2019 Standard", ReleaseID: "1809", CurrentBuild: "17763", UBR: 6293, HasUBR: true},
		want: protocol.OSInfo{Distribution: "windows-server", Version: "1809",
			PrettyName: "Windows Server 2019 Standard 1809 (build 17763.6293)", Kernel: "10.0.17763.6293"},
	}, {
		name: "no UBR and no feature release",
		ver:  winVersion{Major: 6, Minor: 3, Build: 9600, ProductType: 1},
		cv:   currentVersion{ProductName: "Windows 8.1 Pro"},
		want: protocol.OSInfo{Distribution: "windows", PrettyName: "Windows 8.1 Pro (build 9600)", Kernel: "6.3.9600"},
	}, {
		name: "no product type: InstallationType decides, build from the registry",
		ver:  winVersion{Major: 10},
		cv:   currentVersion{ProductName: "Windows Server 2022 Standard", DisplayVersion: "21H2", CurrentBuild: "20348", InstallationType: "Server Core"},
		want: protocol.OSInfo{Distribution: "windows-server", Version: "21H2",
			PrettyName: "Windows Server 2022 Standard 21H2 (build 20348)", Kernel: "10.0.20348"},
	}, {
		name: "nothing readable",
		want: protocol.OSInfo{Distribution: "windows", PrettyName: "Windows"},
	}, {
		name: "whitespace in the product name is collapsed",
		ver:  winVersion{Major: 10, Build: 22631, ProductType: 1},
		cv:   currentVersion{ProductName: "  Windows 10   Pro ", DisplayVersion: "23H2"},
		want: protocol.OSInfo{Distribution: "windows", Version: "23H2",
			PrettyName: "Windows 11 Pro 23H2 (build 22631)", Kernel: "10.0.22631"},
	}} {
		t.Run(tt.name, func(t *testing.T) {
			tt.want.Family, tt.want.Arch = "windows", runtime.GOARCH
			if got := windowsOS(tt.ver, tt.cv); got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestWindowsFactsFitTheCRD: values longer than the Agent CRD allows are
// cut at its limits, on a rune boundary, so the status update is accepted.
func TestWindowsFactsFitTheCRD(t *testing.T) {
	rec := loadRecording(t, "win11-pro-23h2.json")
	long := strings.Repeat("é", 200) // 400 bytes
	cv := rec.Registry[regCurrentVersion]
	cv["ProductName"] = []byte(`"` + long + `"`)
	cv["DisplayVersion"] = []byte(`"` + long + `"`)
	rec.Registry[regProcessor0]["ProcessorNameString"] = []byte(`"` + long + `"`)
	rec.HostnameValue = strings.Repeat("h", 300)
	rec.RecordedDrives[0].Root = long
	rec.RecordedDrives[0].Volume.Name = long
	rec.RecordedDrives[0].Volume.FSType = long

	got, err := collectWindows(context.Background(), rec, rec.RecordedAt)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{
		{"hostname", got.Hostname, maxHostname},
		{"version", got.OS.Version, maxVersion},
		{"prettyName", got.OS.PrettyName, maxPrettyName},
		{"cpuModel", got.System.CPUModel, maxCPUModel},
		{"mountPoint", got.Storage[0].MountPoint, maxMountPoint},
		{"device", got.Storage[0].Device, maxDevice},
		{"fsType", got.Storage[0].FSType, maxFSType},
	} {
		if len(f.value) > f.max || len(f.value) < f.max-1 || !utf8.ValidString(f.value) {
			t.Errorf("%s: %d bytes (limit %d), valid UTF-8 %v", f.name, len(f.value), f.max, utf8.ValidString(f.value))
		}
	}
}

func TestWindowsRebootRequired(t *testing.T) {
	wu := map[string][]byte{"a": []byte("1")}
	for _, tt := range []struct {
		name       string
		registry   map[string]map[string][]byte
		errs       map[string]string
		want       bool
		wantReason string
		wantErr    string
	}{{
		name: "nothing pending",
		want: false,
	}, {
		name:     "Windows Update key with no values",
		registry: map[string]map[string][]byte{regWUReboot: {}},
		want:     true, wantReason: "Windows Update: restart required",
	}, {
		name:     "one update",
		registry: map[string]map[string][]byte{regWUReboot: wu},
		want:     true, wantReason: "Windows Update: 1 update installed, restart required",
	}, {
		name: "renames in both values, padding pairs not counted",
		registry: map[string]map[string][]byte{regSessionManager: {
			"PendingFileRenameOperations":  []byte(`["\\??\\C:\\a", "", "", ""]`),
			"PendingFileRenameOperations2": []byte(`["\\??\\C:\\b", "!\\??\\C:\\c"]`),
		}},
		want: true, wantReason: "2 file renames pending (PendingFileRenameOperations)",
	}, {
		name: "an unreadable key is an error; the others still count",
		registry: map[string]map[string][]byte{regCBSReboot: {},
			regSessionManager: {"PendingFileRenameOperations": []byte(`"not a list"`)}},
		errs:       map[string]string{regWUReboot: "Access is denied."},
		want:       true,
		wantReason: "Component Based Servicing: servicing operation pending",
		wantErr: `reboot-required: Windows Update key: open HKLM\` + regWUReboot + `: Access is denied.` + "\n" +
			"reboot-required: PendingFileRenameOperations: unexpected key value type",
	}} {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordedWindows{Registry: map[string]map[string]json.RawMessage{}, RegistryErrs: tt.errs}
			for k, vals := range tt.registry {
				rec.Registry[k] = map[string]json.RawMessage{}
				for n, v := range vals {
					rec.Registry[k][n] = v
				}
			}
			got, reason, err := windowsRebootRequired(rec)
			if got != tt.want || reason != tt.wantReason {
				t.Errorf("got %v %q, want %v %q", got, reason, tt.want, tt.wantReason)
			}
			if gotErr := errString(err); gotErr != tt.wantErr {
				t.Errorf("error:\n got %q\nwant %q", gotErr, tt.wantErr)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestWindowsStorageFailures(t *testing.T) {
	t.Run("a failing drive is named and the rest kept", func(t *testing.T) {
		rec := loadRecording(t, "server-2022-datacenter.json")
		rec.RecordedDrives[1].Error = "Access is denied."
		st, err := windowsStorage(context.Background(), rec)
		if err == nil || err.Error() != `storage: D:\: GetDiskFreeSpaceEx: Access is denied.` {
			t.Errorf("error %v", err)
		}
		if len(st) != 2 || st[0].MountPoint != `C:\` || st[1].MountPoint != `F:\` {
			t.Errorf("storage %+v", st)
		}
	})
	t.Run("no drive list", func(t *testing.T) {
		rec := loadRecording(t, "server-2022-datacenter.json")
		rec.DrivesErr = "GetLogicalDriveStrings: The parameter is incorrect."
		st, err := windowsStorage(context.Background(), rec)
		if st != nil || err == nil || !strings.HasPrefix(err.Error(), "storage: drives: ") {
			t.Errorf("storage %+v, error %v", st, err)
		}
	})
	t.Run("more drives than letters", func(t *testing.T) {
		rec := &recordedWindows{}
		for i := range 40 {
			rec.RecordedDrives = append(rec.RecordedDrives, recordedDrive{Root: string(rune('A'+i)) + `:\`, Type: driveFixed,
				Volume: winVolume{FSType: "NTFS", Total: uint64(i+1) << 30, Free: 1 << 20}})
		}
		st, err := windowsStorage(context.Background(), rec)
		if len(rec.measured) != maxDriveLetters || len(st) != maxDriveLetters || err == nil {
			t.Errorf("measured %d, kept %d, error %v", len(rec.measured), len(st), err)
		}
	})
	t.Run("free above total and zero-size drives", func(t *testing.T) {
		rec := &recordedWindows{RecordedDrives: []recordedDrive{
			{Root: `C:\`, Type: driveFixed, Volume: winVolume{FSType: "NTFS", Total: 100, Free: 150}},
			{Root: `D:\`, Type: driveFixed, Volume: winVolume{FSType: "NTFS"}},
			{Root: `E:\`, Type: driveRAMDisk, Volume: winVolume{FSType: "NTFS", Total: 100}},
		}}
		st, err := windowsStorage(context.Background(), rec)
		want := []protocol.MountStatus{{MountPoint: `C:\`, FSType: "NTFS", SizeBytes: 100, UsedBytes: 0}}
		if err != nil || !reflect.DeepEqual(st, want) {
			t.Errorf("storage %+v, error %v", st, err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		rec := loadRecording(t, "server-2022-datacenter.json")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		st, err := windowsStorage(ctx, rec)
		if len(st) != 0 || !errors.Is(err, context.Canceled) || len(rec.measured) != 0 {
			t.Errorf("storage %+v, error %v, measured %q", st, err, rec.measured)
		}
	})
}

// TestCollectWindowsKeepsWhatItCouldRead: a part that fails is reported
// and the others are still filled; storage errors carry the "storage:"
// prefix the scan runner splits on.
func TestCollectWindowsKeepsWhatItCouldRead(t *testing.T) {
	rec := loadRecording(t, "win11-pro-23h2.json")
	delete(rec.Registry, regCurrentVersion)
	rec.HostnameErr = "GetComputerNameEx: fails"
	rec.TotalMemoryValue = 0
	rec.RecordedDrives[0].Error = "The request could not be performed because of an I/O device error."

	got, err := collectWindows(context.Background(), rec, rec.RecordedAt)
	var parts []string
	for _, e := range unjoinErr(err) {
		parts = append(parts, e.Error())
	}
	want := []string{
		"hostname: GetComputerNameEx: fails",
		`os version: open HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion: file does not exist`,
		"memory: GlobalMemoryStatusEx: not recorded",
		`storage: C:\: GetDiskFreeSpaceEx: The request could not be performed because of an I/O device error.`,
	}
	if !reflect.DeepEqual(parts, want) {
		t.Errorf("errors:\n got %q\nwant %q", parts, want)
	}
	if got.OS.Kernel != "10.0.22631" || got.OS.PrettyName != "Windows (build 22631)" || got.System.CPUCores != 8 ||
		!got.System.RebootRequired || got.System.BootTime == nil || len(got.Storage) != 0 {
		t.Errorf("facts %+v", got)
	}
}

func unjoinErr(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

// TestWindowsBootTimeIsStable: two scans moments apart give the same boot
// time, so the facts hash does not change between them.
func TestWindowsBootTimeIsStable(t *testing.T) {
	rec := loadRecording(t, "win10-enterprise-22h2.json")
	first, _ := collectWindows(context.Background(), rec, rec.RecordedAt)
	rec.SinceBootMs += 5*60*1000 + 7
	later, _ := collectWindows(context.Background(), rec, rec.RecordedAt.Add(5*time.Minute+20*time.Millisecond))
	if !first.System.BootTime.Equal(later.System.BootTime.Time) || first.Hash() != later.Hash() {
		t.Errorf("boot time %v then %v", first.System.BootTime, later.System.BootTime)
	}
}
