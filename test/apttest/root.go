package apttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// rootDirs are created inside every sandbox root.
var rootDirs = []string{
	"etc/apt/apt.conf.d",
	"etc/apt/preferences.d",
	"etc/apt/sources.list.d",
	"etc/apt/trusted.gpg.d",
	"var/lib/apt/lists/partial",
	"var/cache/apt/archives/partial",
	"var/log/apt",
	"var/lib/dpkg/info",
	"var/lib/dpkg/updates",
	"var/lib/dpkg/triggers",
	"var/lib/dpkg/alternatives",
}

// makeRoot lays out the sandbox root and its dpkg database.
func (s *Sandbox) makeRoot(t testing.TB, installed []Package) {
	t.Helper()
	for _, d := range rootDirs {
		if err := os.MkdirAll(filepath.Join(s.Root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var status strings.Builder
	for _, p := range installed {
		status.WriteString(stanza(p, "Status: install ok installed\n"))
		status.WriteString("\n")
		// An empty file list, so dpkg can upgrade the package cleanly.
		writeFile(t, filepath.Join(s.Root, "var/lib/dpkg/info", p.Name+".list"), "")
	}
	writeFile(t, filepath.Join(s.Root, "var/lib/dpkg/status"), status.String())
	writeFile(t, filepath.Join(s.Root, "var/lib/dpkg/available"), "")
}

// aptConf renders the sandbox's apt.conf. Every directory apt reads or
// writes is inside the root; dpkg gets --root and runs maintainer scripts
// without chroot; locking is off (the sandbox belongs to one test).
func (s *Sandbox) aptConf(t testing.TB) string {
	t.Helper()
	arch := nativeArch(t)
	r := s.Root
	q := func(p string) string { return fmt.Sprintf("%q", filepath.Join(r, p)) }
	return strings.Join([]string{
		fmt.Sprintf("Dir %q;", r+"/"),
		"Dir::State::status " + q("var/lib/dpkg/status") + ";",
		"Dir::State::Lists " + q("var/lib/apt/lists") + ";",
		"Dir::Etc " + q("etc/apt") + ";",
		"Dir::Etc::sourcelist " + q("etc/apt/sources.list") + ";",
		`Dir::Etc::sourceparts "-";`,
		"Dir::Etc::parts " + q("etc/apt/apt.conf.d") + ";",
		"Dir::Etc::preferencesparts " + q("etc/apt/preferences.d") + ";",
		"Dir::Etc::trustedparts " + q("etc/apt/trusted.gpg.d") + ";",
		"Dir::Cache " + q("var/cache/apt") + ";",
		"Dir::Log " + q("var/log/apt") + ";",
		`Debug::NoLocking "true";`,
		// file: repositories in a private temporary directory are not
		// readable by the _apt user.
		`APT::Sandbox::User "root";`,
		fmt.Sprintf("APT::Architecture %q;", arch),
		fmt.Sprintf("APT::Architectures { %q; };", arch),
		"DPkg::Options {",
		fmt.Sprintf("  %q;", "--root="+r),
		`  "--force-script-chrootless";`,
		fmt.Sprintf("  %q;", "--log="+filepath.Join(r, "var/log/dpkg.log")),
		"};",
		"",
	}, "\n")
}

// nativeArch asks the host's dpkg for its architecture.
func nativeArch(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		t.Fatalf("dpkg --print-architecture: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// stanza renders the control fields of p, with extra fields (such as
// Status) after Package.
func stanza(p Package, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Package: %s\n%s", p.Name, extra)
	fmt.Fprintf(&b, "Version: %s\nArchitecture: %s\n", p.Version, p.arch())
	b.WriteString("Maintainer: RedFlag tests <tests@redflag.invalid>\n")
	b.WriteString("Priority: optional\nSection: misc\nInstalled-Size: 1\n")
	if p.Depends != "" {
		fmt.Fprintf(&b, "Depends: %s\n", p.Depends)
	}
	if p.Conflicts != "" {
		fmt.Fprintf(&b, "Conflicts: %s\n", p.Conflicts)
	}
	fmt.Fprintf(&b, "Description: RedFlag test package %s\n built by apttest\n", p.Name)
	return b.String()
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
