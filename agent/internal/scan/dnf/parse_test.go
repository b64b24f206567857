package dnf

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/redflag-io/redflag/agent/internal/scan"
	"github.com/redflag-io/redflag/internal/protocol"
)

func open(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestParseCheckUpdate(t *testing.T) {
	const base, app = "rhel-9-for-x86_64-baseos-rpms", "rhel-9-for-x86_64-appstream-rpms"
	tests := []struct {
		file      string
		want      []Upgrade
		malformed bool
	}{
		{file: "dnf4-rhel9-check-update.txt", want: []Upgrade{
			{"NetworkManager", "x86_64", "1:1.46.0-4.el9_4", base, false},
			{"NetworkManager-libnm", "x86_64", "1:1.46.0-4.el9_4", base, false},
			{"containers-common", "x86_64", "2:1-91.el9_4.rhaos4.16.el9.20240513", app, false},
			{"curl", "x86_64", "7.76.1-29.el9_4", base, false},
			{"glibc", "i686", "2.34-100.el9_4.2", base, false},
			{"glibc", "x86_64", "2.34-100.el9_4.2", base, false},
			{"kernel", "x86_64", "5.14.0-427.16.1.el9_4", base, false},
			{"libcurl", "x86_64", "7.76.1-29.el9_4", base, false},
			{"openssl", "x86_64", "1:3.0.7-27.el9", base, false},
			{"openssl-libs", "x86_64", "1:3.0.7-27.el9", base, false},
			{"python3-perf", "x86_64", "5.14.0-427.16.1.el9_4", base, false},
			{"selinux-policy-targeted", "noarch", "38.1.35-2.el9_4", base, false},
			{"subscription-manager-rhsm-certificates", "noarch", "20220623-1.el9", base, false},
			{"tzdata", "noarch", "2024a-1.el9", base, false},
			{"grub2-tools-efi", "x86_64", "1:2.06-77.el9", base, true},
		}},
		{file: "dnf5-fedora41-check-update.txt", want: []Upgrade{
			{"bash", "x86_64", "5.2.32-1.fc41", "updates", false},
			{"curl", "x86_64", "8.9.1-3.fc41", "updates", false},
			{"firefox", "x86_64", "133.0-1.fc41", "updates", false},
			{"kernel", "x86_64", "6.11.10-300.fc41", "updates", false},
			{"libcurl", "x86_64", "8.9.1-3.fc41", "updates", false},
			{"python3-urllib3", "noarch", "1.26.20-1.fc41", "updates", false},
			{"python3-urllib3+socks", "noarch", "1.26.20-1.fc41", "updates", false},
			{"vim-data", "noarch", "2:9.1.866-1.fc41", "updates", false},
			{"vim-minimal", "x86_64", "2:9.1.866-1.fc41", "updates-testing", false},
			{"python3-urllib3+socks", "noarch", "1.26.20-1.fc41", "updates", true},
		}},
		{file: "dnf4-none.txt"},
		{file: "dnf4-malformed.txt", malformed: true, want: []Upgrade{
			{"bash", "x86_64", "5.2.26-3.el9", "baseos", false},
			{"zlib", "x86_64", "1.2.11-40.el9", "baseos", false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseCheckUpdate(open(t, tt.file))
			if tt.malformed != errors.Is(err, scan.ErrMalformed) || (!tt.malformed && err != nil) {
				t.Fatalf("err = %v, want malformed=%v", err, tt.malformed)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseAdvisories(t *testing.T) {
	tests := []struct {
		file string
		want []Advisory
	}{
		{file: "dnf4-rhel9-updateinfo-security.txt", want: []Advisory{
			{"RHSA-2024:1234", "Low", true, "openssl", "1:3.0.7-27.el9", "x86_64"},
			{"RHSA-2024:1234", "Low", true, "openssl-libs", "1:3.0.7-27.el9", "x86_64"},
			{"RHSA-2024:2570", "Moderate", true, "curl", "7.76.1-29.el9_4", "x86_64"},
			{"RHSA-2024:2570", "Moderate", true, "libcurl", "7.76.1-29.el9_4", "x86_64"},
			{"RHSA-2024:2679", "Important", true, "kernel", "5.14.0-427.16.1.el9_4", "x86_64"},
			{"RHSA-2024:2679", "Important", true, "python3-perf", "5.14.0-427.16.1.el9_4", "x86_64"},
			{"RHSA-2024:2779", "Important", true, "glibc", "2.34-100.el9_4.2", "i686"},
			{"RHSA-2024:2779", "Important", true, "glibc", "2.34-100.el9_4.2", "x86_64"},
			{"RHSA-2024:3001", "", true, "tzdata", "2024a-1.el9", "noarch"},
		}},
		{file: "dnf5-fedora41-updateinfo-security.txt", want: []Advisory{
			{"FEDORA-2024-3b7a1c4e9f", "Moderate", true, "curl", "8.9.1-3.fc41", "x86_64"},
			{"FEDORA-2024-3b7a1c4e9f", "Moderate", true, "libcurl", "8.9.1-3.fc41", "x86_64"},
			{"FEDORA-2024-77d0e5a2b1", "", true, "python3-urllib3", "1.26.20-1.fc41", "noarch"},
			{"FEDORA-2024-c2e1f0a9d8", "Important", true, "kernel", "6.11.10-300.fc41", "x86_64"},
		}},
		// check-update output names no advisories.
		{file: "dnf4-none.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseAdvisories(open(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseAdvisoriesNonSecurity(t *testing.T) {
	got, err := ParseAdvisories(open(t, "dnf4-rhel9-updateinfo-mixed.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var sec []string
	for _, a := range got {
		if a.Security {
			sec = append(sec, a.ID)
		}
	}
	if len(got) != 3 || !slices.Equal(sec, []string{"RHSA-2024:2570"}) {
		t.Fatalf("got %+v", got)
	}
}

func TestParseInstalled(t *testing.T) {
	got, err := ParseInstalled(open(t, "rpm-qa-rhel9.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for na, want := range map[string]string{
		"kernel.x86_64":     "5.14.0-427.13.1.el9_4",
		"openssl.x86_64":    "1:3.0.7-25.el9_3",
		"glibc.i686":        "2.34-83.el9_3.12",
		"tzdata.noarch":     "2023c-1.el9",
		"gpg-pubkey.(none)": "",
	} {
		if got[na] != want {
			t.Errorf("installed[%s] = %q, want %q", na, got[na], want)
		}
	}
	if v := got.version("subscription-manager-rhsm-certificates", "noarch"); v != "20210902-1.el9" {
		t.Errorf("arch fallback = %q", v)
	}
}

func TestMergeRHEL9(t *testing.T) {
	upgrades, err := ParseCheckUpdate(open(t, "dnf4-rhel9-check-update.txt"))
	if err != nil {
		t.Fatal(err)
	}
	advisories, err := ParseAdvisories(open(t, "dnf4-rhel9-updateinfo-security.txt"))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := ParseInstalled(open(t, "rpm-qa-rhel9.txt"))
	if err != nil {
		t.Fatal(err)
	}
	const base, app = "rhel-9-for-x86_64-baseos-rpms", "rhel-9-for-x86_64-appstream-rpms"
	u := func(name, cur, avail, src string, sec bool) protocol.PendingUpdate {
		return protocol.PendingUpdate{Manager: protocol.ManagerDnf, Name: name, CurrentVersion: cur,
			AvailableVersion: avail, Source: src, Security: sec}
	}
	want := []protocol.PendingUpdate{
		u("NetworkManager", "1:1.44.0-5.el9_3", "1:1.46.0-4.el9_4", base, false),
		u("NetworkManager-libnm", "1:1.44.0-5.el9_3", "1:1.46.0-4.el9_4", base, false),
		u("containers-common", "2:1-90.el9_4", "2:1-91.el9_4.rhaos4.16.el9.20240513", app, false),
		u("curl", "7.76.1-26.el9_3.3", "7.76.1-29.el9_4", base, true),
		u("glibc", "2.34-83.el9_3.12", "2.34-100.el9_4.2", base, true),
		u("kernel", "5.14.0-427.13.1.el9_4", "5.14.0-427.16.1.el9_4", base, true),
		u("libcurl", "7.76.1-26.el9_3.3", "7.76.1-29.el9_4", base, true),
		u("openssl", "1:3.0.7-25.el9_3", "1:3.0.7-27.el9", base, true),
		u("openssl-libs", "1:3.0.7-25.el9_3", "1:3.0.7-27.el9", base, true),
		u("python3-perf", "5.14.0-427.13.1.el9_4", "5.14.0-427.16.1.el9_4", base, true),
		u("selinux-policy-targeted", "38.1.23-1.el9_3.2", "38.1.35-2.el9_4", base, false),
		u("subscription-manager-rhsm-certificates", "20210902-1.el9", "20220623-1.el9", base, false),
		u("tzdata", "2023c-1.el9", "2024a-1.el9", base, true),
		u("grub2-tools-efi", "", "1:2.06-77.el9", base, false),
	}
	got := Merge(upgrades, inst, advisories)
	checkAll(t, got)
	if !slices.Equal(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestMergeFedora41(t *testing.T) {
	upgrades, err := ParseCheckUpdate(open(t, "dnf5-fedora41-check-update.txt"))
	if err != nil {
		t.Fatal(err)
	}
	advisories, err := ParseAdvisories(open(t, "dnf5-fedora41-updateinfo-security.txt"))
	if err != nil {
		t.Fatal(err)
	}
	got := Merge(upgrades, Installed{}, advisories)
	checkAll(t, got)
	var sec []string
	for _, u := range got {
		if u.Security {
			sec = append(sec, u.Name)
		}
	}
	if len(got) != 9 || !slices.Equal(sec, []string{"curl", "kernel", "libcurl", "python3-urllib3"}) {
		t.Errorf("got %d updates, security %v", len(got), sec)
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
		if u.Manager != protocol.ManagerDnf {
			t.Errorf("%+v: manager %q", u, u.Manager)
		}
		if seen[u.Name] {
			t.Errorf("duplicate name %q", u.Name)
		}
		seen[u.Name] = true
	}
}
