package apt

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

func up(name, current, available, source string, security bool) protocol.PendingUpdate {
	return protocol.PendingUpdate{
		Manager: protocol.ManagerApt, Name: name, CurrentVersion: current,
		AvailableVersion: available, Source: source, Security: security,
	}
}

func TestParseRecorded(t *testing.T) {
	tests := []struct {
		file      string
		total     int
		security  int
		malformed bool
		contains  []protocol.PendingUpdate
		absent    []string
	}{
		{
			// Recorded on this Debian 12 machine, stdout and stderr together.
			file: "debian12-bookworm.txt", total: 80, security: 20,
			contains: []protocol.PendingUpdate{
				up("base-files", "12.4+deb12u11", "12.4+deb12u14", "oldstable", false),
				up("libcups2", "2.4.2-3+deb12u8", "2.4.2-3+deb12u9", "oldstable,oldstable-security", true),
				up("libgnutls30", "3.7.9-2+deb12u6", "3.7.9-2+deb12u7", "oldstable-security", true),
			},
			absent: []string{"Listing...", "WARNING:"},
		},
		{
			file: "ubuntu2204-jammy.txt", total: 8, security: 5,
			contains: []protocol.PendingUpdate{
				up("libc6", "2.35-0ubuntu3.6", "2.35-0ubuntu3.7", "jammy-updates,jammy-security", true),
				up("libssl3", "3.0.2-0ubuntu1.15", "3.0.2-0ubuntu1.15+esm1", "jammy-infra-security", true),
				up("vim", "2:8.2.3995-1ubuntu2.15", "2:8.2.3995-1ubuntu2.16", "jammy-updates,jammy-security", true),
				up("snapd", "2.58+22.04.1", "2.61.3+22.04", "jammy-updates", false),
			},
		},
		{file: "none.txt"},
		{file: "none-done.txt"},
		{
			file: "noise-and-malformed.txt", total: 2, security: 1, malformed: true,
			contains: []protocol.PendingUpdate{
				up("tzdata", "2024a-0+deb12u1", "2024b-0+deb12u1", "stable-updates", false),
				up("openssh-server", "1:9.2p1-2+deb12u2", "1:9.2p1-2+deb12u3", "stable-security", true),
			},
			absent: []string{"half", "broken-line-without-fields"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := Parse(f)
			switch {
			case tt.malformed && !errors.Is(err, scan.ErrMalformed):
				t.Fatalf("err = %v, want ErrMalformed", err)
			case !tt.malformed && err != nil:
				t.Fatalf("err = %v", err)
			}
			checkAll(t, got)
			if len(got) != tt.total {
				t.Errorf("got %d updates, want %d", len(got), tt.total)
			}
			sec := 0
			byName := map[string]protocol.PendingUpdate{}
			for _, u := range got {
				byName[u.Name] = u
				if u.Security {
					sec++
				}
			}
			if sec != tt.security {
				t.Errorf("got %d security updates, want %d", sec, tt.security)
			}
			for _, want := range tt.contains {
				if g, ok := byName[want.Name]; !ok || g != want {
					t.Errorf("update %s = %+v, want %+v", want.Name, g, want)
				}
			}
			for _, name := range tt.absent {
				if _, ok := byName[name]; ok {
					t.Errorf("noise %q parsed as an update", name)
				}
			}
		})
	}
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		line   string
		want   protocol.PendingUpdate
		reason bool
	}{
		{
			line: "openssl/stable-security 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]",
			want: up("openssl", "3.0.14-1~deb12u2", "3.0.15-1~deb12u1", "stable-security", true),
		},
		{
			line: "openssl/stable-security,stable 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]",
			want: up("openssl", "3.0.14-1~deb12u2", "3.0.15-1~deb12u1", "stable-security,stable", true),
		},
		{
			line: "foo/unknown 2.0 all [upgradable from: 1.0]",
			want: up("foo", "1.0", "2.0", "unknown", false),
		},
		{
			// A suite merely containing "security" is not a security pocket.
			line: "foo/security-tools 2.0 all [upgradable from: 1.0]",
			want: up("foo", "1.0", "2.0", "security-tools", false),
		},
		{line: "foo/stable 2.0 all", reason: true},
		{line: "foo/stable 2.0 [upgradable from: 1.0]", reason: true},
		{line: "foo 2.0 all [upgradable from: 1.0]", reason: true},
		{line: "/stable 2.0 all [upgradable from: 1.0]", reason: true},
		{line: "foo/stable 2.0 all [upgradable from: ]", reason: true},
		{line: "foo/stable 2.0 all [upgradable from: 1.0", reason: true},
	}
	for _, tt := range tests {
		got, reason := parseLine(tt.line)
		if tt.reason {
			if reason == "" {
				t.Errorf("parseLine(%q) accepted: %+v", tt.line, got)
			}
			continue
		}
		if reason != "" || got != tt.want {
			t.Errorf("parseLine(%q) = %+v, %q; want %+v", tt.line, got, reason, tt.want)
		}
	}
}

func TestParseTruncatesLongFields(t *testing.T) {
	name := strings.Repeat("n", 200)
	version := strings.Repeat("1", 100)
	suite := strings.Repeat("s", 90) + "-security"
	in := name + "/" + suite + " " + version + " amd64 [upgradable from: " + version + "]\n"
	got, err := Parse(strings.NewReader(in))
	if err != nil || len(got) != 1 {
		t.Fatalf("Parse = %+v, %v", got, err)
	}
	checkAll(t, got)
	if !got[0].Security {
		t.Error("security flag lost when Source was truncated")
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
		if u.Manager != protocol.ManagerApt {
			t.Errorf("%+v: manager %q", u, u.Manager)
		}
		if seen[u.Name] {
			t.Errorf("duplicate name %q", u.Name)
		}
		seen[u.Name] = true
	}
}
