package wua

import (
	"context"
	"encoding/json"
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

const (
	cumulative = "2024-05 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB5037771)"
	defender   = "Security Intelligence Update for Microsoft Defender Antivirus - KB2267602 (Version 1.411.285.0) - Current Channel (Broad)"
	dotnet     = "2024-05 Cumulative Update for .NET Framework 3.5 and 4.8.1 for Windows 11, version 23H2 for x64 (KB5037591)"
	driver     = "Intel Corporation - Display - 31.0.101.5445"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestJudgeReports(t *testing.T) {
	tests := []struct {
		file    string
		titles  []string
		want    []installer.Change
		reboot  bool
		notes   []string
		errWith string
	}{
		{
			file: "installed-reboot.json", titles: []string{cumulative, defender}, reboot: true,
			want: []installer.Change{
				{Name: cumulative, To: "KB5037771", Kind: installer.Upgrade},
				{Name: defender, To: "KB2267602", Kind: installer.Upgrade},
			},
		},
		{
			file: "one-failed.json", titles: []string{dotnet, driver},
			want:    []installer.Change{{Name: dotnet, To: "KB5037591", Kind: installer.Upgrade}},
			errWith: driver + " (failed, 0x80240016)",
		},
		{file: "none-found.json", titles: []string{cumulative}, notes: []string{"no longer offered: " + cumulative}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rep, err := ParseReport(read(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			res, err := judgeReport(rep, tt.titles)
			if tt.errWith == "" && err != nil || tt.errWith != "" && (!errors.Is(err, ErrInstallFailed) || !strings.Contains(err.Error(), tt.errWith)) {
				t.Fatalf("err = %v, want one with %q", err, tt.errWith)
			}
			if !slices.Equal(res.Changes, tt.want) || res.RebootRequired != tt.reboot || !slices.Equal(res.Notes, tt.notes) {
				t.Fatalf("result = %+v\nwant changes %+v reboot %v notes %q", res, tt.want, tt.reboot, tt.notes)
			}
		})
	}
	for _, bad := range []string{"", "[{},{}]", "Exception calling \"Install\"", `{"Updates":[{"Title":5}]}`} {
		if _, err := ParseReport([]byte(bad)); err == nil {
			t.Errorf("ParseReport(%q) accepted", bad)
		}
	}
}

// TestInstallScriptCarriesTitlesIntact decodes the titles back out of
// the script the way PowerShell will: the single-quoted literal with ”
// for ', then JSON.
func TestInstallScriptCarriesTitlesIntact(t *testing.T) {
	titles := []string{cumulative, "Mise à jour cumulative (KB5037771) – 🛡", "O'Brien’s ‘quoted’ driver", `back\slash "and" quotes`}
	script, err := InstallScript(titles)
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(script, "ConvertFrom-Json '") + len("ConvertFrom-Json '")
	end := strings.Index(script[start:], "')") + start
	lit := script[start:end]
	for _, r := range lit {
		if r > 0x7e || r < 0x20 {
			t.Fatalf("the literal holds %q: PowerShell would read typographic quotes in it as string ends", r)
		}
	}
	if strings.Contains(strings.ReplaceAll(lit, "''", ""), "'") {
		t.Fatalf("an undoubled quote would end the literal: %s", lit)
	}
	var got []string
	if err := json.Unmarshal([]byte(strings.ReplaceAll(lit, "''", "'")), &got); err != nil || !slices.Equal(got, titles) {
		t.Fatalf("titles read back = %q, %v; want %q", got, err, titles)
	}
	for _, want := range []string{
		"$wanted = [string[]](ConvertFrom-Json '",
		"Search('IsInstalled=0 and IsHidden=0')",
		"$installer.ForceQuiet = $true",
		"$res.GetUpdateResult($i)",
		"Title          = ", "KBArticleIDs   = ", "ResultCode     = ", "HResult        = ", "RebootRequired = ",
		"ConvertTo-Json -InputObject ([pscustomobject]$out) -Depth 4 -Compress",
		"[regex]::Replace($json",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("InstallScript lacks %q", want)
		}
	}
}

func TestInstallRunsPowerShell(t *testing.T) {
	var ran scan.Command
	run := func(_ context.Context, c scan.Command) (scan.Result, error) {
		ran = c
		return scan.Result{Stdout: read(t, "installed-reboot.json")}, nil
	}
	req := installer.Request{
		Updates: []protocol.PendingUpdate{{Name: cumulative, AvailableVersion: "KB5037771"}, {Name: defender, AvailableVersion: "KB2267602"}},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	res, err := Installer{}.install(context.Background(), req, run)
	if err != nil || len(res.Changes) != 2 || !res.RebootRequired {
		t.Fatalf("install = %+v, %v", res, err)
	}
	if ran.Path != "powershell.exe" || !slices.Contains(ran.Args, "-EncodedCommand") || ran.MaxOutput != installer.MaxInstallOutput {
		t.Fatalf("ran %+v", ran)
	}
}

func TestSelectsByTitleOrKB(t *testing.T) {
	u := protocol.PendingUpdate{Name: cumulative, AvailableVersion: "KB5037771,KB890830"}
	for name, want := range map[string]bool{
		"KB5037771": true, "kb5037771": true, "5037771": true, "890830": true, cumulative: true,
		"KB503777": false, "KB5037772": false, "Cumulative": false,
	} {
		if got := (Installer{}).Selects(name, u); got != want {
			t.Errorf("Selects(%q) = %v, want %v", name, got, want)
		}
	}
	if keys := (Installer{}).Keys(u); !slices.Equal(keys, []string{cumulative, "KB5037771", "KB890830"}) {
		t.Errorf("Keys = %q", keys)
	}
}
