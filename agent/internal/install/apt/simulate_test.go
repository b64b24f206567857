package apt

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/scan"
)

func ch(name, key, from, to string, kind installer.Kind) installer.Change {
	return installer.Change{Name: name, Key: key, From: from, To: to, Kind: kind}
}

func TestParseSimulation(t *testing.T) {
	tests := []struct {
		file      string
		want      []installer.Change
		malformed bool
	}{
		{file: "sandbox-new-and-extra.txt", want: []installer.Change{
			ch("redflag-newdep", "redflag-newdep", "", "1.0", installer.Install),
			ch("redflag-lib", "redflag-lib", "1.0", "2.0", installer.Upgrade),
			ch("redflag-app", "redflag-app", "1.0", "2.0", installer.Upgrade),
		}},
		{file: "sandbox-removal.txt", want: []installer.Change{
			ch("redflag-libold", "redflag-libold", "1.0", "", installer.Remove),
			ch("redflag-tool", "redflag-tool", "1.0", "1:2.0~rc1-1", installer.Upgrade),
		}},
		{file: "handwritten-debian12-multiarch.txt", want: []installer.Change{
			ch("oldconf", "oldconf", "1.2-1", "", installer.Remove),
			ch("libc6", "libc6", "2.36-9+deb12u7", "2.36-9+deb12u9", installer.Upgrade),
			ch("libc6:i386", "libc6", "2.36-9+deb12u7", "2.36-9+deb12u9", installer.Upgrade),
			ch("libc-bin", "libc-bin", "2.36-9+deb12u7", "2.36-9+deb12u9", installer.Upgrade),
			ch("locales", "locales", "2.36-9+deb12u7", "2.36-9+deb12u9", installer.Upgrade),
		}},
		{file: "handwritten-malformed.txt", malformed: true, want: []installer.Change{
			ch("good", "good", "1.0", "2.0", installer.Upgrade),
			ch("alsogood", "alsogood", "", "3.0", installer.Install),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := ParseSimulation(f)
			if tt.malformed != errors.Is(err, scan.ErrMalformed) {
				t.Fatalf("err = %v, want malformed=%v", err, tt.malformed)
			}
			if !tt.malformed && err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseShell(t *testing.T) {
	got := parseShell("STATUS='/tmp/it'\\''s here/status'\nARCH='amd64'\njunk\nEMPTY=''\n")
	if got[varStatus] != "/tmp/it's here/status" || got[varArch] != "amd64" || got["EMPTY"] != "" {
		t.Fatalf("parseShell = %q", got)
	}
}

func TestInstalledStates(t *testing.T) {
	in := "libc6:amd64\tlibc6\tamd64\tinstall ok installed\t2.36-9+deb12u9\n" +
		"libc6:i386\tlibc6\ti386\tinstall ok installed\t2.36-9+deb12u7\n" +
		"tzdata\ttzdata\tall\tinstall ok installed\t2024b-0+deb12u1\n" +
		"broken\tbroken\tamd64\tinstall ok half-configured\t2.0\n" +
		"gone\tgone\tamd64\tdeinstall ok config-files\t1.0\n"
	got, err := installedStates(stringsReader(in), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]state{
		"libc6": {"installed", "2.36-9+deb12u9"}, "libc6:amd64": {"installed", "2.36-9+deb12u9"},
		"libc6:i386": {"installed", "2.36-9+deb12u7"}, "tzdata": {"installed", "2024b-0+deb12u1"},
		"broken": {"half-configured", "2.0"}, "gone": {"config-files", "1.0"}, "absent": {},
	} {
		if got[name] != want {
			t.Errorf("state of %s = %+v, want %+v", name, got[name], want)
		}
	}
}
