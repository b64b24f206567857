package wua

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

func up(title, kb, source string, security bool) protocol.PendingUpdate {
	return protocol.PendingUpdate{Manager: protocol.ManagerWindowsUpdate, Name: title,
		AvailableVersion: kb, Source: source, Security: security}
}

func TestParse(t *testing.T) {
	tests := []struct {
		file string
		want []protocol.PendingUpdate
	}{
		{file: "win11-search.json", want: []protocol.PendingUpdate{
			up("2024-05 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB5037771)", "KB5037771", "Security Updates", true),
			up("2024-05 Cumulative Update for .NET Framework 3.5 and 4.8.1 for Windows 11, version 23H2 for x64 (KB5037591)", "KB5037591", "Updates", false),
			up("Security Intelligence Update for Microsoft Defender Antivirus - KB2267602 (Version 1.411.285.0) - Current Channel (Broad)", "KB2267602", "Definition Updates", false),
			up("Windows Malicious Software Removal Tool x64 - v5.124 (KB890830)", "KB890830", "Update Rollups", false),
			up("Intel Corporation - Display - 31.0.101.5445", "", "Drivers", false),
			// Non-ASCII escaped by the script, including a surrogate pair;
			// security from the MSRC severity alone.
			up("Mise à jour cumulative 2024-05 pour Windows 11 (KB5037771) – 🛡", "KB5037771", "Windows Update", true),
		}},
		// One result: ConvertTo-Json without -InputObject prints a bare
		// object, and single-element lists as scalars.
		{file: "single-result.json", want: []protocol.PendingUpdate{
			up("2024-05 Cumulative Update for Windows Server 2022 for x64-based Systems (KB5037782)", "KB5037782", "Security Updates", true),
		}},
		// Windows PowerShell 5.1 wrapping and a BOM; a localised
		// classification recognised by its CategoryID; categories as plain
		// names; a numeric KB id; a blank title dropped.
		{file: "ps51-wrapped.json", want: []protocol.PendingUpdate{
			up("2024-04 Kumulatives Update für Windows 10 Version 22H2 für x64-basierte Systeme (KB5036893)", "KB5036893", "Sicherheitsupdates", true),
			up("Microsoft Silverlight (KB4481252)", "KB4481252", "Feature Packs", false),
		}},
		{file: "none.json"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			checkAll(t, got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{"[{", `{"Title": 5}`, `[{"Title":"x","Categories":[5]}]`, "Exception calling \"Search\""} {
		if got, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", bad, got)
		}
	}
}

func TestParseTruncatesLongTitle(t *testing.T) {
	title := strings.Repeat("Ü", 100)
	got, err := Parse([]byte(`{"Title":"` + title + `","KBArticleIDs":["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17","18"]}`))
	if err != nil || len(got) != 1 {
		t.Fatalf("Parse = %+v, %v", got, err)
	}
	checkAll(t, got)
}

// TestSearchScriptEmitsParsedFields keeps the PowerShell script and the
// parser in step.
func TestSearchScriptEmitsParsedFields(t *testing.T) {
	for _, want := range []string{
		"Search('IsInstalled=0 and IsHidden=0')",
		"Title        = ", "KBArticleIDs = ", "MsrcSeverity = ", "Categories   = ", "UpdateID     = ",
		"Name = [string]$c.Name; CategoryID = [string]$c.CategoryID; Type = [string]$c.Type",
		"ConvertTo-Json -InputObject @($items) -Depth 4",
		"[regex]::Replace($json",
	} {
		if !strings.Contains(SearchScript, want) {
			t.Errorf("SearchScript lacks %q", want)
		}
	}
}

// checkAll asserts every update is fit for an Agent's status and names are
// unique.
func checkAll(t *testing.T, got []protocol.PendingUpdate) {
	t.Helper()
	seen := map[string]bool{}
	for _, u := range got {
		if err := scan.Check(u); err != nil {
			t.Errorf("%+v: %v", u, err)
		}
		if u.Manager != protocol.ManagerWindowsUpdate {
			t.Errorf("%+v: manager %q", u, u.Manager)
		}
		if seen[u.Name] {
			t.Errorf("duplicate name %q", u.Name)
		}
		seen[u.Name] = true
	}
}
