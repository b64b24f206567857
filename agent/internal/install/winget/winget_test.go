package winget

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

func TestUpgradeArgs(t *testing.T) {
	got, err := UpgradeArgs("7zip.7zip", false)
	want := []string{"upgrade", "--id", "7zip.7zip", "--exact", "--silent", "--accept-package-agreements",
		"--accept-source-agreements", "--disable-interactivity", "--skip-dependencies"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("UpgradeArgs = %q, %v\nwant %q", got, err, want)
	}
	got, _ = UpgradeArgs("Microsoft.VCRedist.2015+.x64", true)
	if slices.Contains(got, "--skip-dependencies") || got[2] != "Microsoft.VCRedist.2015+.x64" {
		t.Fatalf("with allowNewDependencies: %q", got)
	}
	for _, bad := range []string{"", "--all", "a b", "x\ny", `a"b`} {
		if _, err := UpgradeArgs(bad, false); err == nil {
			t.Errorf("UpgradeArgs(%q) accepted", bad)
		}
	}
}

// exit converts a winget exit code to what Go reports on Windows.
func exit(code uint32) int { return int(code) }

func TestInterpret(t *testing.T) {
	tests := []struct {
		file    string
		code    int
		want    Verdict
		errWith string
	}{
		{file: "upgrade-success.txt", code: 0, want: Upgraded},
		{file: "upgrade-not-applicable.txt", code: exit(exitUpdateNotApplicable), want: NotApplicable},
		{file: "upgrade-reboot.txt", code: exit(exitRebootRequiredToFinish), want: UpgradedRebootRequired},
		{file: "upgrade-installer-failed.txt", code: exit(0x8A150006), errWith: "exit code 0x8A150006: Installer failed with exit code: 1603 | Installer log is available at"},
		{file: "upgrade-not-installed.txt", code: exit(exitNoApplicationsFound), errWith: "no installed package matches the id: No installed package found"},
		{file: "upgrade-success.txt", code: exit(exitPackageInUse), errWith: "the application is running: Starting package install... | Successfully installed"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			out, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Interpret(tt.code, out)
			if tt.errWith != "" {
				if !errors.Is(err, ErrUpgradeFailed) || !strings.Contains(err.Error(), tt.errWith) {
					t.Fatalf("err = %v, want ErrUpgradeFailed with %q", err, tt.errWith)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Interpret = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestScreenDropsProgressResidue(t *testing.T) {
	out, err := os.ReadFile(filepath.Join("testdata", "upgrade-success.txt"))
	if err != nil {
		t.Fatal(err)
	}
	got := Screen(string(out))
	want := "Found 7-Zip [7zip.7zip] Version 24.08\nThis application is licensed to you by its owner.\n" +
		"Microsoft is not responsible for, nor does it grant any licenses to, third-party packages.\n" +
		"Downloading https://www.7-zip.org/a/7z2408-x64.msi\nSuccessfully verified installer hash\n" +
		"Starting package install...\nSuccessfully installed"
	if got != want {
		t.Fatalf("Screen =\n%q\nwant\n%q", got, want)
	}
}

// fakeWinget answers upgrades from a table of exit codes and records the
// commands it was given.
type fakeWinget struct {
	exits map[string]int
	calls [][]string
}

func (f *fakeWinget) run(_ context.Context, c scan.Command) (scan.Result, error) {
	f.calls = append(f.calls, append([]string{c.Path}, c.Args...))
	code := f.exits[c.Args[2]]
	res := scan.Result{ExitCode: code, Stdout: []byte("Successfully installed\r\n")}
	if code != 0 {
		return res, &scan.ExitError{Path: c.Path, ExitCode: code}
	}
	return res, nil
}

func up(id, from, to string) protocol.PendingUpdate {
	return protocol.PendingUpdate{Manager: protocol.ManagerWinget, Name: id, CurrentVersion: from, AvailableVersion: to}
}

func request(us ...protocol.PendingUpdate) installer.Request {
	return installer.Request{Updates: us, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestInstall(t *testing.T) {
	f := &fakeWinget{exits: map[string]int{
		"VideoLAN.VLC":                 exit(exitUpdateNotApplicable),
		"Microsoft.VCRedist.2015+.x64": exit(exitRebootRequiredToFinish),
	}}
	// After the upgrades the scan lists 7-Zip no more, and Git still at
	// its old version although winget said it upgraded it.
	list := func(context.Context) ([]protocol.PendingUpdate, error) {
		return []protocol.PendingUpdate{up("git.git", "2.45.0", "2.46.0")}, nil
	}
	req := request(up("7zip.7zip", "23.01", "24.08"), up("VideoLAN.VLC", "3.0.20", "3.0.21"),
		up("Microsoft.VCRedist.2015+.x64", "14.38.33135.0", "14.40.33816.0"), up("Git.Git", "2.45.0", "2.46.0"))
	res, err := Installer{Winget: `C:\winget.exe`}.install(context.Background(), req, f.run, list)
	if err != nil {
		t.Fatal(err)
	}
	want := []installer.Change{
		{Name: "7zip.7zip", From: "23.01", To: "24.08", Kind: installer.Upgrade},
		{Name: "Microsoft.VCRedist.2015+.x64", From: "14.38.33135.0", To: "14.40.33816.0", Kind: installer.Upgrade},
	}
	if !slices.Equal(res.Changes, want) {
		t.Fatalf("changes = %+v\nwant %+v", res.Changes, want)
	}
	if !res.RebootRequired {
		t.Error("the VC++ runtime's reboot request was lost")
	}
	for _, n := range []string{"VideoLAN.VLC: no applicable upgrade", "Git.Git still at 2.45.0 after winget reported success"} {
		if !slices.Contains(res.Notes, n) {
			t.Errorf("notes %q lack %q", res.Notes, n)
		}
	}
	if len(f.calls) != 4 || f.calls[0][0] != `C:\winget.exe` || !slices.Contains(f.calls[0], "--skip-dependencies") {
		t.Fatalf("calls = %q", f.calls)
	}
}

func TestInstallStopsAtFirstFailure(t *testing.T) {
	f := &fakeWinget{exits: map[string]int{"Zoom.Zoom": exit(0x8A150006)}}
	list := func(context.Context) ([]protocol.PendingUpdate, error) { return nil, nil }
	req := request(up("7zip.7zip", "23.01", "24.08"), up("Zoom.Zoom", "6.2.5", "6.2.6"), up("Git.Git", "2.45.0", "2.46.0"))
	res, err := Installer{}.install(context.Background(), req, f.run, list)
	if !errors.Is(err, ErrUpgradeFailed) || !strings.Contains(err.Error(), "Zoom.Zoom") {
		t.Fatalf("err = %v", err)
	}
	if len(res.Changes) != 1 || res.Changes[0].Name != "7zip.7zip" {
		t.Fatalf("changes before the failure = %+v", res.Changes)
	}
	if len(f.calls) != 2 {
		t.Fatalf("winget ran %d times; the upgrade after the failure must not run", len(f.calls))
	}
}
