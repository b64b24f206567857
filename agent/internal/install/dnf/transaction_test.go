package dnf

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/install/installer"
	"github.com/redflag-io/redflag/agent/internal/scan"
)

func e(name, arch, evr, repo string, kind installer.Kind) Entry {
	return Entry{Name: name, Arch: arch, EVR: evr, Repo: repo, Kind: kind}
}

func TestParseTransaction(t *testing.T) {
	up, in, rm := installer.Upgrade, installer.Install, installer.Remove
	tests := []struct {
		file      string
		want      []Entry
		malformed []string // substrings the error must hold
	}{
		{file: "dnf4-rhel9-upgrade.txt", want: []Entry{
			e("openssl", "x86_64", "1:3.0.7-27.el9", "baseos", up),
			e("openssl-libs", "x86_64", "1:3.0.7-27.el9", "baseos", up),
			e("python3-cryptography", "x86_64", "36.0.1-4.el9", "baseos", up),
			e("openssl-fips-provider-so-compat-long-name", "x86_64", "3.0.7-2.el9", "baseos", in),
			e("nodejs-full-i18n", "x86_64", "1:16.20.2-8.module+el9.4.0+21833+2ea26e0d", "appstream", in),
		}},
		{file: "dnf4-rhel9-removing-unused.txt", want: []Entry{
			e("cloud-init", "noarch", "23.4-7.el9_4", "appstream", up),
			e("python3-jsonpatch", "noarch", "1.21-16.el9", "@appstream", rm),
		}},
		{file: "dnf4-nothing.txt"},
		{file: "dnf5-fedora41-upgrade.txt", want: []Entry{
			e("curl", "x86_64", "8.9.1-3.fc41", "updates", up),
			e("libcurl", "x86_64", "8.9.1-3.fc41", "updates", up),
			e("libngtcp2-crypto-ossl", "x86_64", "1.11.0-1.fc41", "updates", in),
		}},
		{file: "dnf5-fedora42-narrow.txt", want: []Entry{
			e("openssl-libs", "x86_64", "1:3.2.4-3.fc42", "updates", up),
			e("tzdata", "noarch", "2025b-1.fc42", "updates", up), // a zero epoch dropped, as rpm prints it
			e("vim-minimal", "x86_64", "2:9.1.1275-1.fc42", "updates", up),
		}},
		{file: "dnf5-fedora42-wide.txt", want: []Entry{
			e("openssl-libs", "x86_64", "1:3.2.4-3.fc42", "updates", up),
			e("python3-pip-wheel", "noarch", "24.3.1-2.fc42", "updates", up),
		}},
		{
			file: "malformed.txt",
			want: []Entry{e("good", "x86_64", "1.0-2.el9", "baseos", up)},
			// Five problems: three bad lines, the unknown section and the
			// summary's count; the first three are quoted.
			malformed: []string{"5 unreadable line(s)", "cut-short", "bad architecture", "bad version-release"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := ParseTransaction(f)
			if len(tt.malformed) == 0 && err != nil {
				t.Fatal(err)
			}
			if len(tt.malformed) > 0 {
				if !errors.Is(err, scan.ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				for _, s := range tt.malformed {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error does not mention %q: %v", s, err)
					}
				}
			}
			if !slices.Equal(got.Entries, tt.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got.Entries, tt.want)
			}
		})
	}
}

// TestParseTransactionRefusesUnknownSections: lines under a heading the
// parser does not know could be changes; the plan is refused instead.
func TestParseTransactionRefusesUnknownSections(t *testing.T) {
	in := "Package Arch Version Repository Size\nUpgrading:\n a x86_64 1-2 r 1 k\nFrobnicating:\n hidden x86_64 1-1 r 1 k\n\nTransaction Summary:\n Upgrading: 1 package\n"
	tx, err := ParseTransaction(strings.NewReader(in))
	if err == nil || !strings.Contains(err.Error(), `unknown section heading in the transaction table: "Frobnicating:"`) {
		t.Fatalf("err = %v", err)
	}
	if len(tx.Entries) != 1 || tx.Entries[0].Name != "a" {
		t.Fatalf("entries = %+v, want only a", tx.Entries)
	}
	// Prose ending in a colon before the table is not a section.
	if _, err := ParseTransaction(strings.NewReader("Updating and loading repositories:\nRepositories loaded.\nNothing to do.\n")); err != nil {
		t.Fatalf("dnf5 prose before the table: %v", err)
	}
}

// TestParseTransactionRefusesCutOutput: a table whose summary was lost
// (output cut short) could be missing packages.
func TestParseTransactionRefusesCutOutput(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "dnf4-rhel9-upgrade.txt"))
	if err != nil {
		t.Fatal(err)
	}
	cut := string(b[:strings.Index(string(b), "Transaction Summary")])
	if _, err := ParseTransaction(strings.NewReader(cut)); !errors.Is(err, scan.ErrMalformed) {
		t.Fatalf("a table without its summary: err = %v, want ErrMalformed", err)
	}
	// And one cut inside the table misses a package the summary counts.
	lines := strings.Split(string(b), "\n")
	var without []string
	for _, l := range lines {
		if !strings.HasPrefix(l, " openssl-libs ") {
			without = append(without, l)
		}
	}
	if _, err := ParseTransaction(strings.NewReader(strings.Join(without, "\n"))); err == nil || !strings.Contains(err.Error(), "summary counts 3 upgrade but the table lists 2") {
		t.Fatalf("a table missing a line: err = %v", err)
	}
}
