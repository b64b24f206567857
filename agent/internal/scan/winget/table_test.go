package winget

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

func up(id, current, available, source string) protocol.PendingUpdate {
	return protocol.PendingUpdate{Manager: protocol.ManagerWinget, Name: id,
		CurrentVersion: current, AvailableVersion: available, Source: source}
}

func TestParseTable(t *testing.T) {
	tests := []struct {
		file string
		want []protocol.PendingUpdate
	}{
		{
			// winget 1.8 layout, redirected (120 columns): spinner residue
			// before the header, CRLF endings, cells measured with East
			// Asian width, a truncated Name and a truncated Id, a second
			// table of packages needing explicit targeting.
			file: "upgrade-en-1.8.txt",
			want: []protocol.PendingUpdate{
				up("Microsoft.Edge", "124.0.2478.80", "125.0.2535.51", "winget"),
				up("Microsoft.VCRedist.2015+.x64", "14.38.33135.0", "14.40.33810.0", "winget"),
				up("Mozilla.Firefox.de", "125.0.3", "126.0", "winget"),
				up("7zip.7zip", "23.01", "24.05", "winget"),
				up("Microsoft.PowerShell", "7.4.1.0", "7.4.2.0", "winget"),
				up("Tencent.QQ.NT", "9.9.9.22578", "9.9.10.23873", "winget"),
				up("Example.CafeManager", "1.0.0", "1.1.0", "winget"),
				up("Git.Git", "2.44.0", "2.45.1", "winget"),
				up("Zoom.Zoom", "< 6.0.11", "6.0.12.40410", "winget"),
				up("9N0DX20HK701", "1.19.11213.0", "1.20.11271.0", "msstore"),
				up("Microsoft.VisualStudioCode.Insiders.Exte…", "1.89.0", "1.89.1", "winget"),
				up("Discord.Discord", "1.0.9035", "1.0.9147", "winget"),
			},
		},
		{
			// Older winget: cells counted per character, "..." truncation.
			file: "upgrade-en-1.4-charwidth.txt",
			want: []protocol.PendingUpdate{
				up("Microsoft.Edge", "124.0.2478.80", "125.0.2535.51", "winget"),
				up("Microsoft.VCRedist.2015+.x64", "14.38.33135.0", "14.40.33810.0", "winget"),
				up("Mozilla.Firefox.de", "125.0.3", "126.0", "winget"),
				up("7zip.7zip", "23.01", "24.05", "winget"),
				up("Microsoft.PowerShell", "7.4.1.0", "7.4.2.0", "winget"),
				up("Tencent.QQ.NT", "9.9.9.22578", "9.9.10.23873", "winget"),
				// 31 CJK characters: 62 cells, but placed in a 55-character
				// column; only the per-character measure reads this row.
				up("Example.JapaneseIME", "3.1", "3.2", "winget"),
				up("Example.CafeManager", "1.0.0", "1.1.0", "winget"),
				up("Git.Git", "2.44.0", "2.45.1", "winget"),
			},
		},
		{
			// German, no Source column.
			file: "upgrade-de-nosource.txt",
			want: []protocol.PendingUpdate{
				up("Mozilla.Firefox.de", "125.0.3", "126.0", ""),
				up("Notepad++.Notepad++", "8.6.5", "8.6.7", ""),
			},
		},
		{
			// Japanese: wide characters in the header and in names,
			// fullwidth Latin letters.
			file: "upgrade-ja.txt",
			want: []protocol.PendingUpdate{
				up("Microsoft.Edge", "124.0.2478.80", "125.0.2535.51", "winget"),
				up("Hidemaru.Hidemaru", "9.22", "9.34", "winget"),
				up("7zip.7zip", "23.01", "24.05", "winget"),
			},
		},
		{file: "upgrade-none.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := ParseTable(f)
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

func TestParseTableBadHeader(t *testing.T) {
	in := "Name Id Version Available Source Extra\n--------------------------------------\nA b.c 1 2 winget x\n"
	got, err := ParseTable(strings.NewReader(in))
	if !errors.Is(err, scan.ErrMalformed) || len(got) != 0 {
		t.Fatalf("ParseTable = %+v, %v; want ErrMalformed", got, err)
	}
}

func TestScreen(t *testing.T) {
	tests := map[string]string{
		"   - \r   \\ \rName  Id":               "Name  Id",
		"\x1b[2K\x1b[0mName\x1b]9;4;0;0\x07 Id": "Name Id",
		"\x1b]0;title\x1b\\Name\tId":            "Name Id",
		"plain":                                 "plain",
		"trailing esc \x1b":                     "trailing esc ",
	}
	for in, want := range tests {
		if got := screen(in); got != want {
			t.Errorf("screen(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLayoutClusters(t *testing.T) {
	// "e" + combining acute, a ZWJ family emoji, a wide CJK character.
	cl := layout("e\u0301👨\u200d👩x漢", cellWidth)
	var texts []string
	var pos []int
	for _, c := range cl {
		texts = append(texts, c.text)
		pos = append(pos, c.pos)
	}
	if !slices.Equal(texts, []string{"e\u0301", "👨\u200d👩", "x", "漢"}) || !slices.Equal(pos, []int{0, 1, 3, 4}) {
		t.Fatalf("layout = %q at %v", texts, pos)
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
		if u.Manager != protocol.ManagerWinget || u.Security {
			t.Errorf("%+v: manager %q security %v", u, u.Manager, u.Security)
		}
		if seen[u.Name] {
			t.Errorf("duplicate name %q", u.Name)
		}
		seen[u.Name] = true
	}
}

// TestMeasureFallback shows the per-character measure is what reads a
// wide-character row laid out by an older winget.
func TestMeasureFallback(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "upgrade-en-1.4-charwidth.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	tbl, reason := newTable(lines[0])
	if reason != "" {
		t.Fatal(reason)
	}
	var row string
	for _, l := range lines {
		if strings.Contains(l, "Example.JapaneseIME") {
			row = l
		}
	}
	if _, ok := split(row, cellWidth, tbl.starts[0]); ok {
		t.Error("cell measure accepted a row laid out per character")
	}
	if _, ok := split(row, charWidth, tbl.starts[1]); !ok {
		t.Error("character measure rejected the row")
	}
}
