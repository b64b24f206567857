package winget

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/internal/protocol"
)

func TestParseClientJSON(t *testing.T) {
	tests := []struct {
		file string
		want []protocol.PendingUpdate
	}{
		{file: "client-array.json", want: []protocol.PendingUpdate{
			up("Microsoft.Edge", "124.0.2478.80", "125.0.2535.51", "winget"),
			up("Microsoft.VCRedist.2015+.x64", "14.38.33135.0", "14.40.33810.0", "winget"),
			up("Tencent.QQ.NT", "9.9.9.22578", "9.9.10.23873", "winget"),
			up("Example.CafeManager", "1.0.0", "1.1.0", "winget"),
			up("9N0DX20HK701", "1.19.11213.0", "1.20.11271.0", "msstore"),
		}},
		// One package: ConvertTo-Json prints a bare object.
		{file: "client-single.json", want: []protocol.PendingUpdate{
			up("Microsoft.VisualStudioCode.Insiders.Extension.Pack", "1.89.0", "1.89.1", "winget"),
		}},
		// Windows PowerShell 5.1 wrapping, BOM, older InstalledVersion
		// property, no IsUpdateAvailable.
		{file: "client-ps51-wrapped.json", want: []protocol.PendingUpdate{
			up("7zip.7zip", "23.01", "24.05", "winget"),
		}},
		{file: "client-empty.json"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseClientJSON(data)
			if err != nil {
				t.Fatal(err)
			}
			checkAll(t, got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
	if _, err := ParseClientJSON([]byte("[{")); err == nil {
		t.Error("broken JSON accepted")
	}
}

// TestClientScriptEmitsParsedFields keeps the PowerShell script and the
// parser in step.
func TestClientScriptEmitsParsedFields(t *testing.T) {
	for _, field := range []string{"Name", "Id", "Version", "AvailableVersions", "Source", "IsUpdateAvailable"} {
		if !strings.Contains(ClientScript, "\n    "+field+" ") {
			t.Errorf("ClientScript does not emit %s", field)
		}
	}
	for _, want := range []string{"ConvertTo-Json -InputObject @($items)", "exit 3", "[regex]::Replace($json"} {
		if !strings.Contains(ClientScript, want) {
			t.Errorf("ClientScript lacks %q", want)
		}
	}
}
